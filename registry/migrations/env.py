"""Alembic environment: migrations run against REGISTRY_DATABASE_URL or a passed connection."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection
from sqlmodel import SQLModel

import registry.models  # noqa: F401  (registers every table on the metadata)
from registry.config import get_settings
from registry.db import make_engine

config = context.config
target_metadata = SQLModel.metadata


def run_migrations_offline() -> None:
    url = config.get_main_option("sqlalchemy.url") or get_settings().database_url
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or get_settings().database_url
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


def _run(connection: Connection) -> None:
    if connection.dialect.name != "sqlite" or connection.in_transaction():
        _migrate(connection)
        return
    # SQLite alters a table by rebuilding it (batch mode): the old table is dropped while
    # other tables still point at its rows. As SQLite's own procedure for altering a table
    # says, foreign keys are off meanwhile (a PRAGMA that only takes effect outside a
    # transaction) and every reference is checked once the migrations are done.
    raw = connection.connection.dbapi_connection
    assert raw is not None
    raw.execute("PRAGMA foreign_keys = OFF")
    try:
        _migrate(connection)
    finally:
        raw.execute("PRAGMA foreign_keys = ON")


def _migrate(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    if connection.dialect.name == "sqlite":
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            connection.rollback()
            raise RuntimeError(
                f"The migration would leave {len(broken)} broken reference(s), the first in "
                f"table {broken[0][0]}; nothing was changed."
            )
    # The one commit, whoever opened the connection (registry.migrate or `alembic` by hand):
    # begin_transaction() leaves open a transaction the connection was already in, or one
    # that Alembic's own queries (the version table) began.
    if connection.in_transaction():
        connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
