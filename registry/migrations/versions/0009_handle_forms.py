"""Handles compared as the platforms compare them: Facebook ignores dots, and YouTube's /c/
and /user/ names are their own namespaces (``c/Name``, ``user/Name``), never the @handle.

Data only. Facebook: the compared handle drops its dots (``manitoba.gov`` becomes
``manitobagov``). YouTube: an account or request whose profile URL is ``youtube.com/c/Name``
or ``/user/Name`` for its very handle was registered in that namespace, and now says so
(``Name`` becomes ``c/Name``); every other YouTube handle stays an @handle or a channel id.
Refused, changing nothing, when two live accounts (or two open requests) would become one.
The rules are written out here rather than imported, so that this revision keeps doing what
it did whatever ``registry.platforms`` becomes.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28 04:18:34.000000
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op
from alembic.util import CommandError

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NAMESPACED_URL = re.compile(
    r"https?://(?:www\.|m\.)?youtube\.com(?::(?:80|443))?/(c|user)/([^/?#]+)", re.IGNORECASE
)
_CHANNEL_ID = re.compile(r"UC[A-Za-z0-9_-]{22}")
_LABELS = {"facebook": "Facebook", "youtube": "YouTube"}
_OPEN_STATES = ("submitted", "department_approved")

Row = tuple[str, str, str, str | None]  # platform, handle, handle_normalized, url
Change = Callable[[Row], tuple[str, str]]


def _upgraded(row: Row) -> tuple[str, str]:
    platform, handle, normalized, url = row
    if platform == "facebook":
        return handle, normalized.replace(".", "")
    named = _NAMESPACED_URL.match(url or "")
    if named and "/" not in handle and named.group(2).lower() == handle.lower():
        namespace = named.group(1).lower()
        return f"{namespace}/{handle}", f"{namespace}/{handle.lower()}"
    return handle, normalized


def _downgraded(row: Row) -> tuple[str, str]:
    platform, handle, normalized, _ = row
    if platform == "facebook":
        return handle, handle.lower()
    _, slash, name = handle.partition("/")
    if slash:
        return name, name if _CHANNEL_ID.fullmatch(name) else name.lower()
    return handle, normalized


def _rewrite(change: Change) -> None:
    bind = op.get_bind()
    for name in ("account", "account_request"):
        table = sa.table(
            name,
            sa.column("id", sa.Integer),
            sa.column("platform", sa.String),
            sa.column("handle", sa.String),
            sa.column("handle_normalized", sa.String),
            sa.column("url", sa.String),
            *(
                (sa.column("status", sa.String),)
                if name == "account"
                else (sa.column("kind", sa.String), sa.column("state", sa.String))
            ),
        )
        rows = bind.execute(
            sa.select(table).where(
                table.c.platform.in_(tuple(_LABELS)), table.c.handle.is_not(None)
            )
        ).mappings()
        updates, live = [], defaultdict(list)
        for row in rows:
            old = (row["platform"], row["handle"], row["handle_normalized"], row["url"])
            handle, normalized = change(old)
            if (handle, normalized) != old[1:3]:
                updates.append({"b_id": row["id"], "b_handle": handle, "b_normalized": normalized})
            is_live = (
                row["status"] != "decommissioned"
                if name == "account"
                else row["kind"] == "new_account" and row["state"] in _OPEN_STATES
            )
            if is_live:
                live[(row["platform"], normalized)].append(row["id"])
        for (platform, normalized), ids in sorted(live.items()):
            if len(ids) > 1:
                listed = " and ".join(str(i) for i in sorted(ids))
                what, fix = (
                    ("Accounts", "decommission all but one")
                    if name == "account"
                    else ("Open requests", "withdraw or reject all but one")
                )
                raise CommandError(
                    f"{what} {listed} would be the same {_LABELS[platform]} account "
                    f"({normalized}) once handles are compared as {_LABELS[platform]} compares "
                    f"them; {fix} of them, then upgrade again."
                )
        if updates:
            bind.execute(
                table.update()
                .where(table.c.id == sa.bindparam("b_id"))
                .values(
                    handle=sa.bindparam("b_handle"),
                    handle_normalized=sa.bindparam("b_normalized"),
                ),
                updates,
            )


def upgrade() -> None:
    _rewrite(_upgraded)


def downgrade() -> None:
    _rewrite(_downgraded)
