"""The public directory as one document (``GET /directory.json``, ``registry export``): every
active account, and those withdrawn or renamed in the last year with when, for a platform, a
browser extension or a static site to keep and check.

The document carries no time of its own making, so the same registry gives the same bytes and a
client polling with ``If-None-Match`` gets 304 until something public changes. ``updated_at``
(and ``Last-Modified``) is the latest activation, decommissioning, rename or change of an
account's public details (``account.updated``) it shows.

Building the document reads every active account, so the server keeps the last one built
(:class:`FeedCache`) and builds again only when the audit log has moved (every change to an
account writes an event in the same transaction), after ``FRESH_FOR`` at most, or when a
withdrawn or renamed account leaves the year's window. A poll that changes nothing costs one
read of the audit log's last number.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, func, select

from registry.models import Account, AccountStatus

WINDOW = dt.timedelta(days=365)  # how far back withdrawn and renamed accounts are listed

_TABLES = Account.metadata.tables
ACCOUNTS = _TABLES["account"]
TWINS = ACCOUNTS.alias("twin")
DEPARTMENTS = _TABLES["department"]
RENAMES = _TABLES["account_rename"]
AUDIT = _TABLES["audit_event"]

FRESH_FOR = dt.timedelta(seconds=60)  # the longest a built document is served without a rebuild


@dataclass(frozen=True)
class Feed:
    body: bytes  # the JSON document, UTF-8
    etag: str  # a strong entity tag of ``body``, quoted
    updated_at: dt.datetime | None
    document: dict[str, Any]
    count: int
    # When the first withdrawn or renamed entry leaves the year's window (the document changes
    # then with nothing written), or None.
    leaves_window: dt.datetime | None = None


def _iso(moment: dt.datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def build(connection: Connection, *, now: dt.datetime) -> Feed:
    """The directory as it stands: three reads, in an order that does not change by itself."""
    since = now - WINDOW
    active = connection.execute(
        select(
            ACCOUNTS.c.platform,
            ACCOUNTS.c.handle,
            ACCOUNTS.c.platform_id,
            ACCOUNTS.c.url,
            ACCOUNTS.c.display_name,
            DEPARTMENTS.c.name.label("department"),
            ACCOUNTS.c.category,
            ACCOUNTS.c.language,
            ACCOUNTS.c.activated_at,
            TWINS.c.platform.label("twin_platform"),
            TWINS.c.handle.label("twin_handle"),
            TWINS.c.status.label("twin_status"),
        )
        .join(DEPARTMENTS, DEPARTMENTS.c.id == ACCOUNTS.c.department_id)
        .outerjoin(TWINS, TWINS.c.id == ACCOUNTS.c.twin_id)
        .where(ACCOUNTS.c.status == AccountStatus.active.value)
        .order_by(ACCOUNTS.c.platform, ACCOUNTS.c.handle_normalized, ACCOUNTS.c.id)
    ).all()
    withdrawn = connection.execute(
        select(
            ACCOUNTS.c.platform,
            ACCOUNTS.c.handle,
            ACCOUNTS.c.platform_id,
            DEPARTMENTS.c.name.label("department"),
            ACCOUNTS.c.decommissioned_at,
        )
        .join(DEPARTMENTS, DEPARTMENTS.c.id == ACCOUNTS.c.department_id)
        .where(
            ACCOUNTS.c.status == AccountStatus.decommissioned.value,
            ACCOUNTS.c.decommissioned_at >= since,
        )
        .order_by(ACCOUNTS.c.decommissioned_at.desc(), ACCOUNTS.c.id)
    ).all()
    renamed = connection.execute(
        select(
            RENAMES.c.platform,
            RENAMES.c.old_handle,
            RENAMES.c.new_handle,
            RENAMES.c.renamed_at,
        )
        .where(RENAMES.c.renamed_at >= since)
        .order_by(RENAMES.c.renamed_at.desc(), RENAMES.c.id)
    ).all()
    moments = [row.activated_at for row in active if row.activated_at is not None]
    moments += [row.decommissioned_at for row in withdrawn]
    moments += [row.renamed_at for row in renamed]
    edited = connection.execute(
        select(func.max(AUDIT.c.at)).where(AUDIT.c.action == "account.updated")
    ).scalar()
    if edited is not None:
        moments.append(edited)
    updated_at = max(moments, default=None)
    leaving = [row.decommissioned_at for row in withdrawn] + [row.renamed_at for row in renamed]
    document = {
        "updated_at": _iso(updated_at),
        "accounts": [
            {
                "platform": row.platform,
                "handle": row.handle,
                "platform_id": row.platform_id,
                "url": row.url,
                "display_name": row.display_name,
                "department": row.department,
                "category": row.category,
                "language": row.language,
                "twin": (
                    {"platform": row.twin_platform, "handle": row.twin_handle}
                    if row.twin_handle and row.twin_status == AccountStatus.active.value
                    else None
                ),
                "since": _iso(row.activated_at),
            }
            for row in active
        ],
        "withdrawn": [
            {
                "platform": row.platform,
                "handle": row.handle,
                "platform_id": row.platform_id,
                "department": row.department,
                "decommissioned_at": _iso(row.decommissioned_at),
            }
            for row in withdrawn
        ],
        "renamed": [
            {
                "platform": row.platform,
                "old_handle": row.old_handle,
                "new_handle": row.new_handle,
                "renamed_at": _iso(row.renamed_at),
            }
            for row in renamed
        ],
    }
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    leaves_window = min(leaving, default=None)
    return Feed(
        body,
        etag,
        updated_at,
        document,
        len(active),
        None if leaves_window is None else leaves_window + WINDOW,
    )


def version(connection: Connection) -> int:
    """The audit log's last number: it moves with every change to an account."""
    return int(connection.execute(select(func.max(AUDIT.c.seq))).scalar() or 0)


@dataclass
class _Built:
    version: int
    good_until: dt.datetime
    feed: Feed
    signed: dict[str, str] = field(default_factory=dict)  # by key id: the signed document


class FeedCache:
    """The last document built, kept by the server (one per process) so that polling and
    repeated fetches do not each read every account. One thread builds at a time; the others
    wait for it and take what it built."""

    def __init__(self, fresh_for: dt.timedelta = FRESH_FOR) -> None:
        self._fresh_for = fresh_for
        self._lock = threading.Lock()
        self._built: _Built | None = None

    def _usable(self, current: int, now: dt.datetime) -> _Built | None:
        built = self._built
        if built is not None and built.version >= current and now < built.good_until:
            return built
        return None

    def get(self, connection: Connection, *, now: dt.datetime) -> _Built:
        current = version(connection)  # read first: a build never holds less than it
        built = self._usable(current, now)
        if built is not None:
            return built
        with self._lock:
            built = self._usable(current, now)
            if built is None:
                made = build(connection, now=now)
                until = now + self._fresh_for
                if made.leaves_window is not None:
                    until = min(until, made.leaves_window)
                built = self._built = _Built(current, until, made)
            return built


def not_modified(feed_etag: str, updated_at: dt.datetime | None, headers: Any) -> bool:
    """Whether a conditional request already has this version (RFC 9110 §13.2.2:
    ``If-None-Match`` wins over ``If-Modified-Since``)."""
    from email.utils import parsedate_to_datetime

    match = headers.get("if-none-match")
    if match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in match.split(",")}
        return "*" in tags or feed_etag in tags
    since = headers.get("if-modified-since")
    if since is None or updated_at is None:
        return False
    try:
        when = parsedate_to_datetime(since)
    except (TypeError, ValueError, OverflowError):
        return False
    if when.tzinfo is None:
        return False
    return updated_at.replace(microsecond=0) <= when
