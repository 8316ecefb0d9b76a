"""Engine, session and the one place that commits.

Services only ``flush()``; the edge (an HTTP request, a CLI command) opens a session with
:func:`session_scope` and commits once when the whole operation has succeeded, so every
command is one transaction: all of it happens or none of it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from sqlalchemy import Connection, Engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, create_engine

from registry import files


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


# Enough connections for every thread Starlette runs sync endpoints on (anyio's default
# limiter is 40), so a request waits for the database, not for a pooled connection; a request
# that still finds the pool empty waits POOL_TIMEOUT seconds at most, then is answered 503.
POOL_SIZE = 10
MAX_OVERFLOW = 30
POOL_TIMEOUT = 5.0


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine for ``url``; SQLite gets foreign keys, WAL and write-locking transactions."""
    pool: dict[str, Any] = {
        "pool_size": POOL_SIZE,
        "max_overflow": MAX_OVERFLOW,
        "pool_timeout": POOL_TIMEOUT,
    }
    if not is_sqlite(url):
        return create_engine(url, echo=echo, pool_pre_ping=True, **pool)
    in_memory = make_url(url).database in (None, "", ":memory:")
    kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": 30}}
    if in_memory:
        kwargs["poolclass"] = StaticPool
    else:
        kwargs.update(pool)
    engine = create_engine(url, echo=echo, **kwargs)
    _configure_sqlite(engine, wal=not in_memory)
    return engine


TIMEOUT_OPTION = "-c statement_timeout=2000"


def make_loop_engine(engine: Engine) -> Engine:
    """A second engine on ``engine``'s database for the reads the event loop makes itself
    (the public verification): one connection of its own, so the loop never waits for a
    connection that a worker thread holds, and reads that cannot queue behind a writer (an
    autocommit read on SQLite's WAL or PostgreSQL's MVCC takes no lock a writer holds).

    A statement on it is bounded: two seconds at most on PostgreSQL (``statement_timeout``),
    and a SQLite reader in WAL mode never waits for the write lock. Connecting is bounded too.
    An in-memory SQLite database cannot be opened twice, so there the engine itself serves.
    """
    url = engine.url
    if url.get_backend_name() == "sqlite":
        if url.database in (None, "", ":memory:"):
            return engine
        loop_engine = create_engine(
            url,
            pool_size=1,
            max_overflow=0,
            pool_timeout=POOL_TIMEOUT,
            connect_args={"check_same_thread": False, "timeout": 2},
        )
        _configure_sqlite(loop_engine, wal=True)
        return loop_engine
    given = url.query.get("options")  # such as a search_path
    options = " ".join([*([given] if isinstance(given, str) else given or ()), TIMEOUT_OPTION])
    return create_engine(
        url.difference_update_query(["options"]),
        pool_size=1,
        max_overflow=0,
        pool_timeout=POOL_TIMEOUT,
        connect_args={"connect_timeout": 2, "options": options},
    )


def _create_private(engine: Engine) -> None:
    """A new SQLite database file is created mode 0600 (``registry.files``) just before SQLite
    would create it with the umask's mode (often 0644); SQLite gives the -wal and -shm files
    the database file's mode. An existing file is left as it is."""
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return

    @event.listens_for(engine, "do_connect")
    def _before_connect(*_: Any) -> None:
        with suppress(OSError):  # a missing folder, no permission: SQLite says so itself
            files.create_private(os.path.realpath(database))  # SQLite follows a link


def _configure_sqlite(engine: Engine, *, wal: bool) -> None:
    _create_private(engine)

    # pysqlite's own transaction handling starts transactions lazily and as DEFERRED, so two
    # writers can both read and then one fails. A transaction that may write takes the write
    # lock when it begins instead (BEGIN IMMEDIATE): SQLite's SELECT ... FOR UPDATE. One that
    # only reads (an HTTP GET) begins DEFERRED and never waits for, or holds up, a writer.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA busy_timeout = 30000")
        if wal:
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        options = connection.get_execution_options()
        if options.get(READ_ONLY, False):
            return  # single-statement reads run in autocommit: no BEGIN at all
        connection.exec_driver_sql("BEGIN" if options.get(READS_ONLY, False) else "BEGIN IMMEDIATE")


READ_ONLY = "registry_read_only"
READS_ONLY = "registry_reads_only"


@contextmanager
def read_only(engine: Engine) -> Iterator[Connection]:
    """An autocommit connection for single-statement reads: no transaction to begin or end,
    and on SQLite no write lock to wait for. Never write through it."""
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            # pysqlite runs in autocommit here (see _configure_sqlite); READ_ONLY just keeps
            # the begin hook from issuing BEGIN IMMEDIATE.
            yield connection.execution_options(**{READ_ONLY: True})
        else:
            yield connection.execution_options(isolation_level="AUTOCOMMIT", **{READ_ONLY: True})


def reading(engine: Engine) -> Engine:
    """``engine`` for a transaction that only reads: on SQLite it begins DEFERRED (no write
    lock), on PostgreSQL it is a READ ONLY transaction, so a write through it fails loudly
    rather than silently taking a lock the caller said it would not need."""
    if engine.dialect.name == "sqlite":
        return engine.execution_options(**{READS_ONLY: True})
    return engine.execution_options(postgresql_readonly=True)


@contextmanager
def session_scope(
    engine: Engine, info: dict[str, Any] | None = None, *, writes: bool = True
) -> Iterator[Session]:
    """One unit of work: commit if the block succeeds, roll back if it raises.

    ``writes=False`` says the work only reads (see :func:`reading`): it takes no write lock.

    A refusal may carry ``afterwards`` (see ``registry.errors``): work that must be kept even
    though the operation was refused, such as the audit event of a refused reveal. It runs in
    its own transaction after the rollback. ``info`` is given to the sessions (the audit key
    source lives there: see ``registry.services.audit``).
    """
    bind = engine if writes else reading(engine)
    session = Session(bind, expire_on_commit=False, info=dict(info or {}))
    try:
        yield session
        session.commit()
    except BaseException as exc:
        undo(session, exc, engine=engine)
        raise
    finally:
        session.close()


def undo(session: Session, refusal: BaseException, *, engine: Engine) -> None:
    """Roll back work that was refused, keeping what the refusal says must be kept.

    A refusal may carry ``afterwards`` (see ``registry.errors``), such as the audit event of a
    refused reveal: it runs and is committed in a transaction of its own on ``engine``, with
    the session's ``info``, whatever becomes of ``session`` next (the CLI and the API end it;
    a console page goes on to show the refusal in it).
    """
    session.rollback()
    afterwards = getattr(refusal, "afterwards", None)
    if afterwards is not None:
        with Session(engine, info=dict(session.info)) as record:
            afterwards(record)
            record.commit()
