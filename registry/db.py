"""Engine, session and the one place that commits.

Services only ``flush()``; the edge (an HTTP request, a CLI command) opens a session with
:func:`session_scope` and commits once when the whole operation has succeeded, so every
command is one transaction: all of it happens or none of it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, create_engine


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine for ``url``; SQLite gets foreign keys, WAL and write-locking transactions."""
    if not is_sqlite(url):
        return create_engine(url, echo=echo, pool_pre_ping=True)
    in_memory = make_url(url).database in (None, "", ":memory:")
    kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": 30}}
    if in_memory:
        kwargs["poolclass"] = StaticPool
    engine = create_engine(url, echo=echo, **kwargs)
    _configure_sqlite(engine, wal=not in_memory)
    return engine


def _configure_sqlite(engine: Engine, *, wal: bool) -> None:
    # pysqlite's own transaction handling starts transactions lazily and as DEFERRED, so two
    # writers can both read and then one fails. Take the write lock when the transaction
    # begins instead (BEGIN IMMEDIATE): SQLite's equivalent of SELECT ... FOR UPDATE.
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
        # Single-statement reads (the public verification) run in autocommit and must not
        # queue behind writers: no BEGIN IMMEDIATE for them.
        if not connection.get_execution_options().get(READ_ONLY, False):
            connection.exec_driver_sql("BEGIN IMMEDIATE")


READ_ONLY = "registry_read_only"


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


@contextmanager
def session_scope(engine: Engine, info: dict[str, Any] | None = None) -> Iterator[Session]:
    """One unit of work: commit if the block succeeds, roll back if it raises.

    A refusal may carry ``afterwards`` (see ``registry.errors``): work that must be kept even
    though the operation was refused, such as the audit event of a refused reveal. It runs in
    its own transaction after the rollback. ``info`` is given to the sessions (the audit key
    source lives there: see ``registry.services.audit``).
    """
    session = Session(engine, expire_on_commit=False, info=dict(info or {}))
    try:
        yield session
        session.commit()
    except BaseException as exc:
        session.rollback()
        afterwards = getattr(exc, "afterwards", None)
        if afterwards is not None:
            with Session(engine, info=dict(info or {})) as record:
                afterwards(record)
                record.commit()
        raise
    finally:
        session.close()
