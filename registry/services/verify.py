"""Public verification: "is this an official government account?" — and nothing else.

The answer carries only public fields (platform, handle, display name, department, category,
since when) and never ids, e-mails or holders. Only ``active`` accounts verify: a
decommissioned or suspended one answers ``official: false`` with its status and since when,
so a freed handle that someone else takes never verifies. There is no cache: every answer is
read from the database, so once a decommission commits no worker says ``official: true``.

Every answer is about an account (``scope: "account"``). A link to a post, a video or other
content names its account, which is what is checked; the message then says that the post
itself is not verified (X, for one, shows any post by its number whatever name precedes it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import Connection, Dialect, bindparam, case, desc, func, select
from sqlalchemy.exc import DBAPIError

from registry.errors import InvalidInput
from registry.models import Account, AccountStatus, Department
from registry.platforms import (
    Platform,
    get_platform,
    handle_label,
    normalize_handle,
    read_profile_url,
)
from registry.schemas.verify import DirectoryEntry as DirectoryEntry
from registry.schemas.verify import VerifyAnswer as VerifyAnswer

ACCOUNTS = Account.metadata.tables["account"]
DEPARTMENTS = Department.metadata.tables["department"]


# The first sentence of an answer about a link to a post or other content.
CONTENT_NOTE = (
    "This link is to a post or other content, not to the profile: the answer is about the "
    "account only, and the post itself is not verified. "
)

_QUERY = (
    select(
        ACCOUNTS.c.handle,
        ACCOUNTS.c.display_name,
        ACCOUNTS.c.category,
        ACCOUNTS.c.status,
        ACCOUNTS.c.activated_at,
        ACCOUNTS.c.decommissioned_at,
        DEPARTMENTS.c.name.label("department"),
    )
    .join(DEPARTMENTS, DEPARTMENTS.c.id == ACCOUNTS.c.department_id)
    .where(
        ACCOUNTS.c.platform == bindparam("platform"),
        ACCOUNTS.c.handle_normalized == bindparam("handle"),
    )
    .order_by(
        case((ACCOUNTS.c.status == AccountStatus.active.value, 0), else_=1),
        desc(func.coalesce(ACCOUNTS.c.decommissioned_at, ACCOUNTS.c.activated_at)),
    )
    .limit(1)
)


def answer(
    connection: Connection, *, platform: str | None, handle: str | None, url: str | None
) -> VerifyAnswer:
    """The public question as the API and the CLI take it: platform and handle, or a URL."""
    if len(platform or "") > 32 or len(handle or "") > 200 or len(url or "") > 2000:
        raise InvalidInput("The platform, handle or URL is too long.")
    if url is not None and platform is None and handle is None:
        return verify_url(connection, url=url)
    if url is None and platform is not None and handle is not None:
        return verify_handle(connection, platform=platform, handle=handle)
    raise InvalidInput("Give either a platform and a handle, or a profile URL.")


def verify_handle(connection: Connection, *, platform: str, handle: str) -> VerifyAnswer:
    known = get_platform(platform)
    shown, compared = normalize_handle(known, handle)
    return _answer(connection, known, shown, compared)


def verify_url(connection: Connection, *, url: str) -> VerifyAnswer:
    link = read_profile_url(url)
    return _answer(connection, link.platform, link.handle, link.compared, content=link.content)


@dataclass(frozen=True)
class _Prepared:
    """The verification query compiled once per database dialect, for the DBAPI directly."""

    sql: str
    fixed: dict[str, Any]
    order: tuple[str, ...] | None  # parameter names in order, for positional paramstyles
    convert: tuple[Callable[[Any], Any] | None, ...]

    @classmethod
    def build(cls, dialect: Dialect) -> _Prepared:
        compiled = _QUERY.compile(dialect=dialect)
        return cls(
            sql=compiled.string,
            fixed=dict(compiled.construct_params({"platform": "", "handle": ""})),
            order=tuple(compiled.positiontup or ()) if dialect.positional else None,
            convert=tuple(
                column.type.dialect_impl(dialect).result_processor(dialect, None)
                for column in _QUERY.selected_columns
            ),
        )

    def first(self, connection: Connection, **values: Any) -> tuple[Any, ...] | None:
        params = {**self.fixed, **values}
        dbapi = connection.dialect.loaded_dbapi
        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(
                self.sql, [params[name] for name in self.order] if self.order else params
            )
            raw = cursor.fetchone()
        except dbapi.Error as exc:
            # Wrapped as SQLAlchemy's own execution wraps it (OperationalError, ...), so that
            # callers tell "no such table" from a bug.
            raise DBAPIError.instance(
                self.sql, params, exc, dbapi.Error, dialect=connection.dialect
            ) from exc
        finally:
            cursor.close()
        if raw is None:
            return None
        return tuple(f(v) if f else v for f, v in zip(self.convert, raw, strict=True))


_PREPARED: dict[str, _Prepared] = {}


def _lookup(connection: Connection, platform: str, handle: str) -> Any:
    """The best row for a handle: the active account, else the latest one. The public check is
    the hottest path of the service, so this skips SQLAlchemy's per-execution work."""
    dialect = connection.dialect
    prepared = _PREPARED.get(dialect.name)
    if prepared is None:
        prepared = _PREPARED[dialect.name] = _Prepared.build(dialect)
    row = prepared.first(connection, platform=platform, handle=handle)
    return None if row is None else _Row(*row)


class _Row(NamedTuple):
    handle: str
    display_name: str
    category: str
    status: str
    activated_at: dt.datetime | None
    decommissioned_at: dt.datetime | None
    department: str


def _answer(
    connection: Connection, platform: Platform, shown: str, compared: str, *, content: bool = False
) -> VerifyAnswer:
    row = _lookup(connection, platform.name, compared)
    label = handle_label(platform, shown)
    note = CONTENT_NOTE if content else ""
    if row is None:
        return VerifyAnswer(
            official=False,
            platform=platform.name,
            handle=shown,
            message=f"{note}{label} is not an official government account.",
        )
    if row.status != AccountStatus.active.value:
        since = row.decommissioned_at if row.status == AccountStatus.decommissioned else None
        when = f" since {since:%Y-%m-%d}" if since else ""
        return VerifyAnswer(
            official=False,
            platform=platform.name,
            handle=row.handle,
            status=row.status,
            since=since,
            message=(
                f"{note}{label} is no longer an official government account: it has been "
                f"{row.status}{when}. Anyone using it now does not speak for the government."
            ),
        )
    return VerifyAnswer(
        official=True,
        platform=platform.name,
        handle=row.handle,
        display_name=row.display_name or None,
        department=row.department,
        category=row.category,
        since=row.activated_at,
        status=row.status,
        message=f"{note}{label} is an official account of {row.department}.",
    )


DIRECTORY_LIMIT = 500  # entries on one directory page


def directory(
    connection: Connection, *, query: str = "", platform: str = "", department: str = ""
) -> list[DirectoryEntry]:
    """Active accounts only (the first ``DIRECTORY_LIMIT``), searchable by name or handle,
    platform and department."""
    statement = (
        select(
            ACCOUNTS.c.platform,
            ACCOUNTS.c.handle,
            ACCOUNTS.c.display_name,
            ACCOUNTS.c.category,
            ACCOUNTS.c.url,
            ACCOUNTS.c.activated_at,
            DEPARTMENTS.c.name.label("department"),
        )
        .join(DEPARTMENTS, DEPARTMENTS.c.id == ACCOUNTS.c.department_id)
        .where(ACCOUNTS.c.status == AccountStatus.active.value)
        .order_by(DEPARTMENTS.c.name, ACCOUNTS.c.platform, ACCOUNTS.c.handle_normalized)
        .limit(DIRECTORY_LIMIT)
    )
    text = query.strip().lower()[:100]
    if text:
        like = f"%{text.replace('%', '').replace('_', '')}%"
        statement = statement.where(
            func.lower(ACCOUNTS.c.display_name).like(like)
            | ACCOUNTS.c.handle_normalized.like(like)
            | func.lower(DEPARTMENTS.c.name).like(like)
        )
    if platform.strip():
        statement = statement.where(ACCOUNTS.c.platform == get_platform(platform).name)
    if department.strip():
        statement = statement.where(
            (DEPARTMENTS.c.code == department.strip().upper())
            | (func.lower(DEPARTMENTS.c.name) == department.strip().lower())
        )
    # Department by department, in the order of their names: each read narrows to one
    # department's accounts on its index, where one ordered read of the whole registry would
    # sort every active account by its department's name to show the first 500.
    rows: list[Any] = []
    for department_id in connection.scalars(
        select(DEPARTMENTS.c.id).order_by(DEPARTMENTS.c.name, DEPARTMENTS.c.id)
    ):
        rows += connection.execute(
            statement.where(ACCOUNTS.c.department_id == department_id).limit(
                DIRECTORY_LIMIT - len(rows)
            )
        )
        if len(rows) >= DIRECTORY_LIMIT:
            break
    return [
        DirectoryEntry(
            platform=row.platform,
            platform_label=get_platform(row.platform).label,
            handle=row.handle,
            display_name=row.display_name,
            department=row.department,
            category=row.category,
            url=row.url,
            since=row.activated_at,
        )
        for row in rows
    ]
