"""Backups and restores of the whole registry: one consistent snapshot in one file.

A job, not a service: a backup reads through connections of its own (SQLite's backup API, or
one read-only snapshot) and writes a file before its audit event is recorded in a separate
transaction (:func:`record_backup`); a restore may migrate the target (Alembic's own
transactions, :func:`prepare_restore`) before copying the rows in the caller's transaction
(:func:`restore`).

A backup is an SQLite database file, whichever database the registry runs on:

- on SQLite it is a copy made with SQLite's online backup API (``Connection.backup``), which
  copies every page inside one read transaction: a server writing meanwhile is not blocked
  and none of its changes is half in the copy;
- on PostgreSQL it is an SQLite file migrated to the database's Alembic revision and filled
  with every table's rows, all read in one ``REPEATABLE READ``, read-only transaction (one
  snapshot), so no external tool is needed and the file restores into either backend.

Either way the file gets a ``registry_backup`` table, the manifest: a format marker, the
Alembic revision, when and from which backend it was taken, each table's row count and a
SHA-256 digest of every row, so a truncated or altered file is refused, never half restored.
Rows are copied as stored: credentials stay sealed by the vault, tokens and web sessions stay
hashes. The keyring is not in the backup; it is kept apart (see ``docs/backup.md``).

Restoring checks the whole file before touching the target, migrates an un-migrated target to
the backup's revision, then copies every row into the empty registry in one transaction
(:func:`restore` flushes; the edge commits) and moves PostgreSQL's sequences past the restored
ids. Before the commit it checks the row counts against the manifest, that every credential's
master key is in the keyring and that the audit chain verifies with the keyring's audit key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from contextlib import closing, contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    Connection,
    Engine,
    Integer,
    MetaData,
    Table,
    and_,
    create_engine,
    delete,
    func,
    insert,
    inspect,
    not_,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from registry import files, migrate
from registry.errors import Conflict, InvalidInput, NotFound, RegistryError
from registry.models import utcnow
from registry.services import audit
from vault import Keyring

FORMAT = "registry-backup/1"
MANIFEST = "registry_backup"
VERSIONS = "alembic_version"  # Alembic's table: recorded, never counted or copied on restore
AUDIT_HEAD = "audit_head"  # a migrated empty registry already has its one initial row
SQLITE_MAGIC = b"SQLite format 3\x00"
BATCH = 1000


@dataclass(frozen=True)
class Manifest:
    """What a backup holds, as written in its ``registry_backup`` table."""

    revision: str
    taken_at: str
    source: str
    tables: dict[str, int]
    digest: str
    format: str = FORMAT

    @property
    def rows(self) -> int:
        return sum(self.tables.values())

    @property
    def backup_id(self) -> str:
        """A short name for this backup (the start of its digest), used in audit events."""
        return self.digest.removeprefix("sha256:")[:16]

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rows": self.rows, "backup_id": self.backup_id}


@dataclass(frozen=True)
class RestorePlan:
    """A checked backup file and a target ready for it (see :func:`prepare_restore`)."""

    path: Path
    manifest: Manifest
    migrated: bool


@dataclass(frozen=True)
class RestoreResult:
    manifest: Manifest
    target: str
    migrated: bool
    keyring_checked: bool
    audit: audit.Verdict | None = None
    counts: dict[str, int] = field(default_factory=dict)


# ------------------------------------------------------------------------------ backup


def backup(*, engine: Engine, path: Path) -> Manifest:
    """Write a consistent snapshot of the registry at ``engine`` to the new file ``path``.

    The file is written to a temporary file (mode 0600) in the same folder and linked into
    place only when complete (``registry.files``), so a failed backup leaves nothing behind,
    and an existing file is never overwritten. Nothing is written to the database.
    """
    target = Path(path)
    _refuse_existing(target)
    folder = target.parent
    if not _checked(folder.is_dir, target):
        raise InvalidInput(f"There is no folder {folder}; the backup was not written.")
    try:
        out = files.PrivateFile.create(target, exclusive=True)
    except FileExistsError:
        raise Conflict(f"{target} already exists; a backup never overwrites a file.") from None
    except OSError as exc:
        raise InvalidInput(f"Cannot write in {folder}: {exc.strerror or exc}.") from None
    try:
        if engine.dialect.name == "sqlite":
            _snapshot_sqlite(engine, out.path)
        else:
            _export(engine, out.path)
        manifest = _write_manifest(out.path, source=engine.dialect.name)
        out.commit()
    except FileExistsError:
        raise Conflict(f"{target} already exists; a backup never overwrites a file.") from None
    except OSError as exc:
        raise InvalidInput(
            f"Cannot write the backup {target}: {exc.strerror or exc}; nothing was kept."
        ) from None
    except sqlite3.Error as exc:
        raise InvalidInput(f"Cannot write the backup {target}: {exc}; nothing was kept.") from None
    finally:
        out.discard()
        with suppress(FileNotFoundError):
            Path(f"{out.path}-journal").unlink()
    return manifest


def record_backup(session: Session, *, manifest: Manifest, path: Path) -> bool:
    """Audit that a backup was taken (after the snapshot, so not in it); False when the
    database is at an older schema revision whose audit log this version cannot append to."""
    if manifest.revision != migrate.head():
        return False
    audit.record(
        session,
        actor=None,
        action="backup.created",
        entity_type="backup",
        entity_id=manifest.backup_id,
        details={
            "file": str(Path(path).resolve()),
            "revision": manifest.revision,
            "taken_at": manifest.taken_at,
            "rows": manifest.rows,
        },
    )
    return True


def _refuse_existing(target: Path) -> None:
    if _checked(target.exists, target) or _checked(target.is_symlink, target):
        raise Conflict(f"{target} already exists; a backup never overwrites a file.")


def _checked(question: Callable[[], bool], target: Path) -> bool:
    """Ask the file system about the backup's path; a path that cannot even be looked at (a
    folder without search permission, a name too long) is refused in one sentence."""
    try:
        return question()
    except OSError as exc:
        raise InvalidInput(
            f"Cannot use {target}: {exc.strerror or exc}; the backup was not written."
        ) from None


def _snapshot_sqlite(engine: Engine, temp: Path) -> None:
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise InvalidInput(
            "Only a registry in an SQLite file named by its path (sqlite:///PATH) can be "
            "backed up this way."
        )
    source_path = Path(database)
    if not _checked(source_path.is_file, source_path):
        raise NotFound(f"There is no registry database at {source_path}; nothing to back up.")
    source = sqlite3.connect(source_path.resolve().as_uri() + "?mode=ro", uri=True, timeout=30)
    try:
        with closing(sqlite3.connect(temp)) as copy:
            try:
                # One step (pages=-1): every page is read inside one read transaction.
                source.backup(copy)
            except sqlite3.Error as exc:
                raise InvalidInput(
                    f"Cannot copy the registry database {source_path}: {exc}; "
                    "no backup was written."
                ) from None
            copy.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
    finally:
        source.close()


def _export(engine: Engine, temp: Path) -> None:
    """Every table of the database, read in one snapshot, into an SQLite file at ``temp``."""
    options: dict[str, Any] = {"isolation_level": "REPEATABLE READ"}
    if engine.dialect.name == "postgresql":
        options["postgresql_readonly"] = True
    out = _file_engine(temp)
    try:
        with engine.connect() as plain:
            source = plain.execution_options(**options)
            with source.begin():
                revision = MigrationContext.configure(source).get_current_revision()
                if revision is None:
                    where = engine.url.render_as_string(hide_password=True)
                    raise NotFound(
                        f"The registry at {where} is not initialised; nothing to back up."
                    )
                if not known_revision(revision):
                    raise Conflict(
                        f"The database is at schema revision {revision}, which this version "
                        "of the registry does not know; back it up with the version that "
                        "migrated it."
                    )
                migrate.upgrade(out, revision)
                with out.begin() as dest:
                    _copy_all(source, dest, revision=revision)
    finally:
        out.dispose()


def _copy_all(source: Connection, dest: Connection, *, revision: str) -> None:
    wanted = MetaData()
    wanted.reflect(dest)
    names = [t.name for t in wanted.sorted_tables if t.name != VERSIONS]
    present = set(inspect(source).get_table_names())
    missing = [n for n in names if n not in present]
    if missing:
        raise Conflict(
            f"The database lacks the table {missing[0]} of schema revision {revision}; "
            "it cannot be backed up as a registry."
        )
    found = MetaData()
    found.reflect(source, only=names)
    for name in names:
        dest.execute(delete(wanted.tables[name]))  # the migrations' own rows (audit_head)
        _copy_table(source, found.tables[name], dest, wanted.tables[name], revision=revision)


def _copy_table(
    source: Connection, src: Table, dest: Connection, dst: Table, *, revision: str
) -> None:
    if set(src.columns.keys()) != set(dst.columns.keys()):
        raise Conflict(
            f"The table {dst.name} does not have the columns of schema revision {revision}; "
            "nothing was copied."
        )
    to_sqlite = dest.dialect.name == "sqlite"
    order = list(src.primary_key.columns) or list(src.columns)
    result = source.execution_options(yield_per=BATCH).execute(select(src).order_by(*order))
    for part in result.mappings().partitions(BATCH):
        dest.execute(insert(dst), [_portable(row, to_sqlite=to_sqlite) for row in part])


def _portable(row: Mapping[Any, Any], *, to_sqlite: bool) -> dict[str, Any]:
    """A row for another backend: times in UTC, naive on SQLite (as the registry stores them)."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, dt.datetime):
            value = (
                value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
            )
            if to_sqlite:
                value = value.replace(tzinfo=None)
        out[str(key)] = value
    return out


def _write_manifest(temp: Path, *, source: str) -> Manifest:
    with closing(sqlite3.connect(temp)) as conn:
        tables = _user_tables(conn)
        if VERSIONS not in tables:
            raise NotFound(
                "The registry is not initialised (no schema revision); nothing to back up."
            )
        revision = _revision(conn)
        manifest = Manifest(
            revision=revision,
            taken_at=utcnow().isoformat(),
            source=source,
            tables={t: _count(conn, t) for t in tables if t != VERSIONS},
            digest=_digest(conn, tables),
        )
        conn.execute(f"CREATE TABLE {MANIFEST} (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        conn.executemany(
            f"INSERT INTO {MANIFEST} (key, value) VALUES (?, ?)",  # noqa: S608 (a constant)
            [
                ("format", manifest.format),
                ("revision", manifest.revision),
                ("taken_at", manifest.taken_at),
                ("source", manifest.source),
                ("tables", json.dumps(manifest.tables, sort_keys=True)),
                ("digest", manifest.digest),
            ],
        )
        conn.commit()
    return manifest


def _file_engine(path: Path) -> Engine:
    return create_engine("sqlite://", creator=lambda: sqlite3.connect(path))


# ------------------------------------------------------------------------------ reading a file


def read_backup(path: Path) -> Manifest:
    """The manifest of the backup at ``path`` after checking the whole file; refuses a file
    that is not a registry backup, and a truncated or altered one."""
    source = Path(path)
    try:
        with source.open("rb") as handle:
            head = handle.read(len(SQLITE_MAGIC))
    except FileNotFoundError:
        raise NotFound(f"There is no file {source}; nothing was restored.") from None
    except OSError as exc:
        raise InvalidInput(f"Cannot read {source}: {exc.strerror or exc}.") from None
    not_backup = f"{source} is not a registry backup; nothing was restored."
    if head != SQLITE_MAGIC:
        if head and SQLITE_MAGIC.startswith(head):
            raise InvalidInput(_damaged(source, "it ends early"))
        raise InvalidInput(not_backup)
    try:
        with closing(_open_read_only(source)) as conn:
            return _check(conn, source)
    except sqlite3.Error as exc:
        raise InvalidInput(_damaged(source, str(exc))) from None


def _damaged(source: Path, why: str) -> str:
    return f"{source} is a damaged backup ({why}); nothing was restored."


def _check(conn: sqlite3.Connection, source: Path) -> Manifest:
    verdict = [row[0] for row in conn.execute("PRAGMA quick_check")]
    if verdict != ["ok"]:
        raise InvalidInput(_damaged(source, "SQLite finds it corrupt"))
    tables = _user_tables(conn)
    if MANIFEST not in tables:
        raise InvalidInput(
            f"{source} is an SQLite database but not a registry backup (it has no "
            f"{MANIFEST} table); nothing was restored."
        )
    tables.remove(MANIFEST)
    values = dict(conn.execute(f"SELECT key, value FROM {MANIFEST}").fetchall())  # noqa: S608
    marker = values.get("format")
    if marker != FORMAT:
        raise InvalidInput(
            f"{source} is in backup format {marker!r}, which this version of the registry "
            f"does not read (it reads {FORMAT}); nothing was restored."
        )
    try:
        counts = json.loads(values["tables"])
        manifest = Manifest(
            revision=str(values["revision"]),
            taken_at=str(values["taken_at"]),
            source=str(values["source"]),
            tables={str(k): int(v) for k, v in counts.items()},
            digest=str(values["digest"]),
        )
    except (KeyError, ValueError, TypeError, AttributeError):
        raise InvalidInput(_damaged(source, "its manifest is incomplete")) from None
    if VERSIONS not in tables or _revision(conn) != manifest.revision:
        raise InvalidInput(_damaged(source, "its schema revision does not match its manifest"))
    if not known_revision(manifest.revision):
        raise Conflict(
            f"{source} is a backup at schema revision {manifest.revision}, which this version "
            "of the registry does not know; restore it with the version that wrote it."
        )
    if set(manifest.tables) != set(tables) - {VERSIONS}:
        raise InvalidInput(_damaged(source, "its tables do not match its manifest"))
    for name, expected in manifest.tables.items():
        if _count(conn, name) != expected:
            raise InvalidInput(_damaged(source, f"the table {name} lost or gained rows"))
    if _digest(conn, tables) != manifest.digest:
        raise InvalidInput(_damaged(source, "its rows do not match their digest"))
    return manifest


def _open_read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _user_tables(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' "
        "ESCAPE '\\' ORDER BY name"
    )
    return [str(row[0]) for row in rows]


def _revision(conn: sqlite3.Connection) -> str:
    rows = conn.execute(f"SELECT version_num FROM {VERSIONS}").fetchall()  # noqa: S608
    if len(rows) != 1:
        raise sqlite3.DatabaseError("it does not have exactly one schema revision")
    return str(rows[0][0])


def _count(conn: sqlite3.Connection, table: str) -> int:
    return int(conn.execute(f"SELECT count(*) FROM {_quote(table)}").fetchone()[0])  # noqa: S608


def _digest(conn: sqlite3.Connection, tables: list[str]) -> str:
    """SHA-256 over every row of every table, in a fixed order, as SQLite stores them."""
    digest = hashlib.sha256()
    for table in sorted(tables):
        digest.update(f"table {table}\n".encode())
        for row in conn.execute(f"SELECT * FROM {_quote(table)} ORDER BY rowid"):  # noqa: S608
            digest.update(repr(tuple(row)).encode("utf-8", "backslashreplace") + b"\n")
    return "sha256:" + digest.hexdigest()


def known_revision(revision: str) -> bool:
    """Whether ``revision`` is one of this version's migrations (exactly, not a prefix)."""
    script = ScriptDirectory(str(migrate.MIGRATIONS))
    return any(r.revision == revision for r in script.walk_revisions())


# ------------------------------------------------------------------------------ restore


def prepare_restore(*, engine: Engine, path: Path) -> RestorePlan:
    """Check the backup at ``path`` and the target at ``engine``; migrate an un-migrated
    target (one with no tables at all) to the backup's revision. Refusals change nothing."""
    manifest = read_backup(path)
    where = _where(engine)
    current = migrate.current(engine)
    if current is None:
        if inspect(engine).get_table_names():
            raise Conflict(
                f"The database at {where} has tables but no schema revision; restore only "
                "into an empty registry, nothing changed."
            )
        migrate.upgrade(engine, manifest.revision)
        return RestorePlan(path=Path(path), manifest=manifest, migrated=True)
    if current != manifest.revision:
        raise Conflict(
            f"{path} is a backup at schema revision {manifest.revision} but the registry at "
            f"{where} is at {current}; restore into an empty registry at the same revision "
            "(or an empty database), nothing changed."
        )
    return RestorePlan(path=Path(path), manifest=manifest, migrated=False)


def restore(session: Session, *, plan: RestorePlan, keyring: Keyring | None) -> RestoreResult:
    """Copy every row of the backup into the empty registry of ``session``, then check it.

    Flushes only: the caller's transaction commits all of it or none. With a ``keyring`` the
    restore is refused unless every credential's master key is in it and the audit chain
    verifies with its audit key (``None`` skips both: a registry whose keyring is lost).
    """
    manifest = plan.manifest
    connection = session.connection()
    where = _where(connection.engine)
    target = MetaData()
    target.reflect(connection)
    tables = [t for t in target.sorted_tables if t.name != VERSIONS]
    if {t.name for t in tables} != set(manifest.tables):
        raise Conflict(
            f"The registry at {where} does not have the tables of schema revision "
            f"{manifest.revision}; nothing was restored."
        )
    _require_empty(connection, tables, where)
    with _backup_connection(plan.path) as source:
        found = MetaData()
        found.reflect(source, only=[t.name for t in tables])
        for table in tables:
            if table.name == AUDIT_HEAD:
                connection.execute(delete(table))
            try:
                _copy_table(
                    source,
                    found.tables[table.name],
                    connection,
                    table,
                    revision=manifest.revision,
                )
            except IntegrityError as exc:
                first = str(exc.orig).splitlines()[0] if exc.orig else str(exc)
                raise Conflict(
                    f"The rows of {table.name} in {plan.path} break the schema's rules "
                    f"({first}); nothing was restored."
                ) from None
    _reset_sequences(connection, tables)
    counts = {t.name: _count_rows(connection, t) for t in tables}
    if counts != manifest.tables:
        differ = sorted(n for n in counts if counts[n] != manifest.tables.get(n))
        raise RestoreMismatch(
            f"After restoring, {', '.join(differ)} do not hold the backup's row counts; "
            "nothing was restored."
        )
    verdict = None
    if keyring is not None:
        _require_keys(connection, target, keyring)
    at_head = manifest.revision == migrate.head()
    if at_head:
        audit.record(
            session,
            actor=None,
            action="backup.restored",
            entity_type="backup",
            entity_id=manifest.backup_id,
            details={
                "file": str(plan.path.resolve()),
                "revision": manifest.revision,
                "taken_at": manifest.taken_at,
                "source": manifest.source,
                "rows": manifest.rows,
            },
        )
        if keyring is not None:
            verdict = audit.verify(session, key=keyring.audit_key)
            if not verdict.whole:
                raise Conflict(
                    f"The restored audit log does not verify with the keyring at "
                    f"{keyring.path} ({verdict.message}); restore with the keyring of the "
                    "registry that was backed up, nothing was restored."
                )
    session.flush()
    return RestoreResult(
        manifest=manifest,
        target=where,
        migrated=plan.migrated,
        keyring_checked=keyring is not None,
        audit=verdict,
        counts=counts,
    )


class RestoreMismatch(RegistryError):
    """The restored rows do not match the backup's manifest (a bug, or a changing target)."""

    status_code = 500
    kind = "restore_mismatch"


def _where(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


@contextmanager
def _backup_connection(path: Path) -> Iterator[Connection]:
    engine = create_engine("sqlite://", creator=lambda: _open_read_only(path))
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def _require_empty(connection: Connection, tables: list[Table], where: str) -> None:
    busy = []
    for table in tables:
        query = select(func.count()).select_from(table)
        if table.name == AUDIT_HEAD:  # the row every migrated registry starts with
            c = table.c
            query = query.where(
                not_(and_(c.id == 1, c.last_seq == 0, c.last_hash == "", c.sealed_through == 0))
            )
        rows = int(connection.execute(query).scalar_one())
        if rows:
            busy.append(f"{rows} in {table.name}")
    if busy:
        raise Conflict(
            f"The registry at {where} is not empty (rows: {', '.join(busy)}); restore only "
            "into an empty registry, nothing changed."
        )


def _count_rows(connection: Connection, table: Table) -> int:
    return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def _reset_sequences(connection: Connection, tables: list[Table]) -> None:
    """On PostgreSQL, make each serial id continue after the largest restored one."""
    if connection.dialect.name != "postgresql":
        return  # SQLite picks max(rowid) + 1 by itself
    quote = connection.dialect.identifier_preparer.quote
    for table in tables:
        keys = list(table.primary_key.columns)
        if len(keys) != 1 or not isinstance(keys[0].type, Integer):
            continue
        column = keys[0].name
        sequence = connection.execute(
            text("SELECT pg_get_serial_sequence(:table, :column)"),
            {"table": quote(table.name), "column": column},
        ).scalar()
        if sequence is None:
            continue
        highest = connection.execute(select(func.max(table.c[column]))).scalar()
        connection.execute(
            text("SELECT setval(:sequence, :next, false)"),
            {"sequence": sequence, "next": int(highest or 0) + 1},
        )


def _require_keys(connection: Connection, target: MetaData, keyring: Keyring) -> None:
    credential = target.tables.get("credential")
    if credential is None or "key_id" not in credential.c:
        return
    used = {
        str(k)
        for k in connection.execute(
            select(credential.c.key_id).distinct().where(credential.c.key_id.is_not(None))
        ).scalars()
    }
    missing = sorted(used - {k.id for k in keyring.keys})
    if missing:
        raise Conflict(
            f"Credentials in the backup are sealed under master key(s) "
            f"{', '.join(missing)}, which the keyring at {keyring.path} does not hold; "
            "restore with the keyring in use when the backup was taken, nothing was restored."
        )
