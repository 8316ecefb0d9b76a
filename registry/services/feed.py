"""The public directory as one document (``GET /directory.json``, ``registry export``): every
active account, and those withdrawn or renamed in the last year with when, for a platform, a
browser extension or a static site to keep and check.

The document carries no time of its own making, so the same registry gives the same bytes and a
client polling with ``If-None-Match`` gets 304 until something public changes. ``updated_at``
(and ``Last-Modified``) is the latest activation, decommissioning or rename it shows; a change to
an account's public details alone moves the ETag, not that time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from registry.models import Account, AccountStatus

WINDOW = dt.timedelta(days=365)  # how far back withdrawn and renamed accounts are listed

_TABLES = Account.metadata.tables
ACCOUNTS = _TABLES["account"]
TWINS = ACCOUNTS.alias("twin")
DEPARTMENTS = _TABLES["department"]
RENAMES = _TABLES["account_rename"]


@dataclass(frozen=True)
class Feed:
    body: bytes  # the JSON document, UTF-8
    etag: str  # a strong entity tag of ``body``, quoted
    updated_at: dt.datetime | None
    document: dict[str, Any]
    count: int


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
    updated_at = max(moments, default=None)
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
    return Feed(body, etag, updated_at, document, len(active))


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
