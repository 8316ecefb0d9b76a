"""Public verification: "is this an official government account?" — and nothing else.

The answer carries only public fields (platform, handle, display name, department, category,
since when) and never ids, e-mails or holders. Only ``active`` accounts verify: a
decommissioned or suspended one answers ``official: false`` with its status and since when,
so a freed handle that someone else takes never verifies. There is no cache: every answer is
read from the database, so once a decommission commits no worker says ``official: true``.

Every answer is about an account (``scope: "account"``). A link to a post, a video or other
content names its account, which is what is checked; the message then says that the post
itself is not verified (X, for one, shows any post by its number whatever name precedes it).

Messages speak English or French (``lang``, see ``registry.i18n``): the same facts, dates as
YYYY-MM-DD in both, department names as stored.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import Connection, Dialect, bindparam, case, desc, func, select
from sqlalchemy.exc import DBAPIError

from registry import i18n
from registry.errors import InvalidInput
from registry.i18n import N_
from registry.models import Account, AccountRename, AccountStatus, Department
from registry.platforms import (
    Platform,
    get_platform,
    handle_label,
    normalize_handle,
    normalize_platform_id,
    read_profile_url,
)
from registry.schemas.verify import DirectoryEntry as DirectoryEntry
from registry.schemas.verify import VerifyAnswer as VerifyAnswer

ACCOUNTS = Account.metadata.tables["account"]
DEPARTMENTS = Department.metadata.tables["department"]
RENAMES = AccountRename.metadata.tables["account_rename"]


# The first sentence of an answer about a link to a post or other content.
CONTENT_NOTE = N_(
    "This link is to a post or other content, not to the profile: the answer is about the "
    "account only, and the post itself is not verified."
)


def _best(column: Any) -> Any:
    """The best account whose ``column`` is the one asked about: the active one, else the
    latest to have changed."""
    return (
        select(
            ACCOUNTS.c.handle,
            ACCOUNTS.c.platform_id,
            ACCOUNTS.c.display_name,
            ACCOUNTS.c.category,
            ACCOUNTS.c.language,
            ACCOUNTS.c.status,
            ACCOUNTS.c.activated_at,
            ACCOUNTS.c.decommissioned_at,
            DEPARTMENTS.c.name.label("department"),
        )
        .join(DEPARTMENTS, DEPARTMENTS.c.id == ACCOUNTS.c.department_id)
        .where(ACCOUNTS.c.platform == bindparam("platform"), column == bindparam("handle"))
        .order_by(
            case((ACCOUNTS.c.status == AccountStatus.active.value, 0), else_=1),
            desc(func.coalesce(ACCOUNTS.c.decommissioned_at, ACCOUNTS.c.activated_at)),
        )
        .limit(1)
    )


_QUERY = _best(ACCOUNTS.c.handle_normalized)
_BY_ID = _best(ACCOUNTS.c.platform_id)

# The latest rename away from a handle.
_RENAMED = (
    select(RENAMES.c.new_handle, RENAMES.c.renamed_at)
    .where(
        RENAMES.c.platform == bindparam("platform"),
        RENAMES.c.old_handle_normalized == bindparam("handle"),
    )
    .order_by(desc(RENAMES.c.renamed_at), desc(RENAMES.c.id))
    .limit(1)
)


def answer(
    connection: Connection,
    *,
    platform: str | None,
    handle: str | None,
    url: str | None,
    platform_id: str | None = None,
    lang: str = "en",
) -> VerifyAnswer:
    """The public question as the API and the CLI take it: a platform and a handle, a
    platform and the platform's id of the account, or a profile URL; the message in ``lang``."""
    if (
        len(platform or "") > 32
        or len(handle or "") > 200
        or len(url or "") > 2000
        or len(platform_id or "") > 300
    ):
        raise InvalidInput("The platform, handle, id or URL is too long.")
    if url is not None and platform is None and handle is None and platform_id is None:
        return verify_url(connection, url=url, lang=lang)
    if url is None and platform is not None:
        if handle is not None and platform_id is None:
            return verify_handle(connection, platform=platform, handle=handle, lang=lang)
        if platform_id is not None and handle is None:
            return verify_platform_id(
                connection, platform=platform, platform_id=platform_id, lang=lang
            )
    raise InvalidInput(
        "Give either a platform and a handle, a platform and the platform's account id, "
        "or a profile URL."
    )


def verify_handle(
    connection: Connection, *, platform: str, handle: str, lang: str = "en"
) -> VerifyAnswer:
    known = get_platform(platform)
    shown, compared = normalize_handle(known, handle)
    return _answer(connection, known, shown, compared, lang=lang)


def verify_url(connection: Connection, *, url: str, lang: str = "en") -> VerifyAnswer:
    link = read_profile_url(url)
    return _answer(
        connection, link.platform, link.handle, link.compared, content=link.content, lang=lang
    )


def verify_platform_id(
    connection: Connection, *, platform: str, platform_id: str, lang: str = "en"
) -> VerifyAnswer:
    """By the platform's permanent id of the account, which survives renames: the answer a
    platform or a browser extension that knows the id should ask for."""
    known = get_platform(platform)
    canonical = normalize_platform_id(known, platform_id)
    row = _lookup(connection, known.name, canonical, by_id=True)
    if row is None:
        lang, _ = _language(lang)
        return VerifyAnswer(
            official=False,
            platform=known.name,
            handle="",
            platform_id=canonical,
            message=_(
                "The %(platform)s account with id %(id)s is not an official government account."
            )
            % {"platform": known.label, "id": canonical},
            lang=lang,
        )
    return _row_answer(known, row, handle_label(known, row.handle), note="", lang=lang)


@dataclass(frozen=True)
class _Prepared:
    """The verification query compiled once per database dialect, for the DBAPI directly."""

    sql: str
    fixed: dict[str, Any]
    order: tuple[str, ...] | None  # parameter names in order, for positional paramstyles
    convert: tuple[Callable[[Any], Any] | None, ...]

    @classmethod
    def build(cls, dialect: Dialect, query: Any) -> _Prepared:
        compiled = query.compile(dialect=dialect)
        return cls(
            sql=compiled.string,
            fixed=dict(compiled.construct_params({"platform": "", "handle": ""})),
            order=tuple(compiled.positiontup or ()) if dialect.positional else None,
            convert=tuple(
                column.type.dialect_impl(dialect).result_processor(dialect, None)
                for column in query.selected_columns
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


_PREPARED: dict[tuple[str, int], _Prepared] = {}


def _first(connection: Connection, query: Any, platform: str, handle: str) -> Any:
    """The first row of one of this module's queries. The public check is the hottest path
    of the service, so this skips SQLAlchemy's per-execution work."""
    key = (connection.dialect.name, id(query))
    prepared = _PREPARED.get(key)
    if prepared is None:
        prepared = _PREPARED[key] = _Prepared.build(connection.dialect, query)
    return prepared.first(connection, platform=platform, handle=handle)


def _lookup(connection: Connection, platform: str, handle: str, *, by_id: bool = False) -> Any:
    """The best row for a handle (or a platform id): the active account, else the latest one."""
    row = _first(connection, _BY_ID if by_id else _QUERY, platform, handle)
    return None if row is None else _Row(*row)


class _Row(NamedTuple):
    handle: str
    platform_id: str | None
    display_name: str
    category: str
    language: str
    status: str
    activated_at: dt.datetime | None
    decommissioned_at: dt.datetime | None
    department: str


class _Renamed(NamedTuple):
    new_handle: str
    renamed_at: dt.datetime


def _answer(
    connection: Connection,
    platform: Platform,
    shown: str,
    compared: str,
    *,
    content: bool = False,
    lang: str = "en",
) -> VerifyAnswer:
    row = _lookup(connection, platform.name, compared)
    label = handle_label(platform, shown)
    lang, _ = _language(lang)
    note = _(CONTENT_NOTE) if content else ""
    if row is None or row.status != AccountStatus.active.value:
        found = _first(connection, _RENAMED, platform.name, compared)
        renamed = None if found is None else _Renamed(*found)
        if renamed is not None and (row is None or renamed.renamed_at > _changed(row)):
            return VerifyAnswer(
                official=False,
                platform=platform.name,
                handle=shown,
                status="renamed",
                since=renamed.renamed_at,
                renamed_to=renamed.new_handle,
                message=_noted(
                    note,
                    _(
                        "%(label)s is no longer an official government account: it was renamed "
                        "to %(new)s on %(date)s. Anyone using %(old)s now does not speak for "
                        "the government."
                    )
                    % {
                        "label": label,
                        "new": shown_name(renamed.new_handle),
                        "date": f"{renamed.renamed_at:%Y-%m-%d}",
                        "old": shown_name(shown),
                    },
                ),
                lang=lang,
            )
    if row is None:
        return VerifyAnswer(
            official=False,
            platform=platform.name,
            handle=shown,
            message=_noted(
                note, _("%(label)s is not an official government account.") % {"label": label}
            ),
            lang=lang,
        )
    return _row_answer(platform, row, label, note=note, lang=lang)


def shown_name(shown: str) -> str:
    """A handle as a sentence names it: ``@name``, or ``c/Name`` for a namespaced one."""
    return shown if "/" in shown else f"@{shown}"


def _language(lang: str) -> tuple[str, i18n.Gettext]:
    """A supported language (English for any other) and its ``_``."""
    chosen = lang if lang in i18n.LANGUAGES else i18n.DEFAULT
    return chosen, i18n.translator(chosen)


def _noted(note: str, message: str) -> str:
    """The message, after the note on a link to content when there is one."""
    return f"{note} {message}" if note else message


def _changed(row: _Row) -> dt.datetime:
    """When the account last changed as the public sees it."""
    moment = row.decommissioned_at or row.activated_at
    return moment or dt.datetime.min.replace(tzinfo=dt.UTC)


def _row_answer(
    platform: Platform, row: _Row, label: str, *, note: str, lang: str = "en"
) -> VerifyAnswer:
    lang, _ = _language(lang)
    if row.status != AccountStatus.active.value:
        since = row.decommissioned_at if row.status == AccountStatus.decommissioned else None
        status = _(i18n.STATUS.get(row.status, row.status))
        if since is not None:
            message = _(
                "%(label)s is no longer an official government account: it has been "
                "%(status)s since %(date)s. Anyone using it now does not speak for the "
                "government."
            ) % {"label": label, "status": status, "date": f"{since:%Y-%m-%d}"}
        else:
            message = _(
                "%(label)s is no longer an official government account: it has been "
                "%(status)s. Anyone using it now does not speak for the government."
            ) % {"label": label, "status": status}
        return VerifyAnswer(
            official=False,
            platform=platform.name,
            handle=row.handle,
            platform_id=row.platform_id,
            status=row.status,
            since=since,
            message=_noted(note, message),
            lang=lang,
        )
    return VerifyAnswer(
        official=True,
        platform=platform.name,
        handle=row.handle,
        platform_id=row.platform_id,
        display_name=row.display_name or None,
        department=row.department,
        category=row.category,
        language=row.language,
        since=row.activated_at,
        status=row.status,
        message=_noted(
            note,
            _("%(label)s is an official account of %(department)s.")
            % {"label": label, "department": row.department},
        ),
        lang=lang,
    )


DIRECTORY_LIMIT = 500  # entries on one directory page


_DIRECTORY_COLUMNS = (
    ACCOUNTS.c.id,
    ACCOUNTS.c.twin_id,
    ACCOUNTS.c.platform,
    ACCOUNTS.c.handle,
    ACCOUNTS.c.display_name,
    ACCOUNTS.c.category,
    ACCOUNTS.c.language,
    ACCOUNTS.c.url,
    ACCOUNTS.c.activated_at,
    DEPARTMENTS.c.name.label("department"),
)


def directory(
    connection: Connection,
    *,
    query: str = "",
    platform: str = "",
    department: str = "",
    lang: str = "en",
) -> list[DirectoryEntry]:
    """Active accounts only (the first ``DIRECTORY_LIMIT``), searchable by name or handle,
    platform and department; labels in ``lang``.

    Twins (an English account and its French counterpart, ``twin_id`` both ways) are one
    entry: the English account's, carrying the French one as ``twin``, wherever either of them
    matched the search."""
    statement = (
        select(*_DIRECTORY_COLUMNS)
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
    return _paired(connection, rows, lang=lang)


def _paired(connection: Connection, rows: list[Any], *, lang: str) -> list[DirectoryEntry]:
    """The rows as entries, each pair of active twins as one (English first)."""
    by_id = {row.id: row for row in rows}
    missing = {row.twin_id for row in rows if row.twin_id is not None} - by_id.keys()
    if missing:
        twins = connection.execute(
            select(*_DIRECTORY_COLUMNS)
            .join(DEPARTMENTS, DEPARTMENTS.c.id == ACCOUNTS.c.department_id)
            .where(
                ACCOUNTS.c.id.in_(sorted(missing)),
                ACCOUNTS.c.status == AccountStatus.active.value,
            )
        )
        others = {row.id: row for row in twins}
    else:
        others = {}
    _lang, _ = _language(lang)
    shown: set[int] = set()
    entries: list[DirectoryEntry] = []
    for row in rows:
        if row.id in shown:
            continue
        twin = by_id.get(row.twin_id) or others.get(row.twin_id)
        if twin is None or twin.id in shown or twin.twin_id != row.id:
            twin = None
        first, second = (row, twin) if twin is None or row.language != "fr" else (twin, row)
        entry = _entry(first, _)
        if second is not None:
            entry.twin = _entry(second, _)
            shown.add(second.id)
        shown.add(first.id)
        entries.append(entry)
    return entries


def _entry(row: Any, _: i18n.Gettext) -> DirectoryEntry:
    return DirectoryEntry(
        platform=row.platform,
        platform_label=get_platform(row.platform).label,
        handle=row.handle,
        display_name=row.display_name,
        department=row.department,
        category=row.category,
        url=row.url,
        since=row.activated_at,
        language=row.language,
        language_label=_(i18n.LANGUAGE_NAMES.get(row.language, row.language)),
    )
