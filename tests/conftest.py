"""Test databases are built by ``alembic upgrade head``, on SQLite or on PostgreSQL.

Set REGISTRY_TEST_DATABASE_URL=postgresql+psycopg://... to run the suite on PostgreSQL.
Service tests run inside one transaction rolled back at the end; tests that need real
commits (CLI, HTTP, concurrency) get a fresh empty database of their own (a new SQLite file,
or a new PostgreSQL schema that is dropped afterwards).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlmodel import Session, func, select

from registry import migrate
from registry.api.app import create_app
from registry.config import Settings
from registry.db import make_engine, session_scope
from registry.keys import AUDIT_KEY, session_info
from registry.services import tokens
from tests.factories import CAST, World
from vault import Keyring

PG_URL = os.environ.get("REGISTRY_TEST_DATABASE_URL", "")
ON_POSTGRES = PG_URL.startswith("postgresql")

postgres_only = pytest.mark.skipif(not ON_POSTGRES, reason="needs PostgreSQL")


@dataclass
class FreshDatabase:
    """An empty registry database migrated to head (and a keyring), for tests that commit."""

    url: str
    engine: Engine
    keyring_path: Path

    def settings(self) -> Settings:
        return Settings(database_url=self.url, keyring=str(self.keyring_path))

    def keyring(self) -> Keyring:
        return Keyring.load(self.keyring_path)

    def scope(self) -> AbstractContextManager[Session]:
        """A committing transaction, as the CLI and the API open one (audit key included)."""
        return session_scope(self.engine, session_info(self.settings()))


def _schema_url(schema: str) -> str:
    return (
        make_url(PG_URL)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )


@contextmanager
def empty_database(tmp_path: Path, name: str = "registry") -> Iterator[tuple[str, Engine]]:
    """A database with no tables yet: a new SQLite file in ``tmp_path``, or a new PostgreSQL
    schema that is dropped afterwards. Yields its URL and an engine."""
    if ON_POSTGRES:
        schema = f"t_{uuid.uuid4().hex[:12]}"
        admin = make_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = _schema_url(schema)
    else:
        url = f"sqlite:///{tmp_path / f'{name}.db'}"
    engine = make_engine(url)
    try:
        yield url, engine
    finally:
        engine.dispose()
        if ON_POSTGRES:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


def new_database(tmp_path: Path) -> Iterator[FreshDatabase]:
    """An empty registry migrated to head, with a keyring: see :class:`FreshDatabase`."""
    with empty_database(tmp_path) as (url, engine):
        migrate.upgrade(engine)
        keyring_path = tmp_path / "registry.keyring"
        Keyring.create(keyring_path)
        yield FreshDatabase(url=url, engine=engine, keyring_path=keyring_path)


@pytest.fixture(autouse=True)
def _no_stray_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands that fall back to defaults write into the test's folder, never the repo."""
    monkeypatch.setenv("REGISTRY_KEYRING", str(tmp_path / "default.keyring"))
    monkeypatch.setenv("REGISTRY_DATABASE_URL", f"sqlite:///{tmp_path / 'default.db'}")
    monkeypatch.delenv("REGISTRY_ACTOR", raising=False)


@pytest.fixture
def keyring(shared_db: FreshDatabase) -> Keyring:
    return shared_db.keyring()


@pytest.fixture
def fresh_db(tmp_path: Path) -> Iterator[FreshDatabase]:
    yield from new_database(tmp_path)


@pytest.fixture(scope="session")
def shared_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FreshDatabase]:
    """One migrated database for the whole run; tests roll their changes back."""
    yield from new_database(tmp_path_factory.mktemp("shared"))


@pytest.fixture
def settings(shared_db: FreshDatabase) -> Settings:
    return shared_db.settings()


@pytest.fixture
def session(shared_db: FreshDatabase) -> Iterator[Session]:
    """A session whose every change is rolled back when the test ends."""
    connection = shared_db.engine.connect()
    outer = connection.begin()
    audit_key = shared_db.keyring().audit_key
    session = Session(
        bind=connection,
        join_transaction_mode="create_savepoint",
        info={AUDIT_KEY: lambda: audit_key},
    )
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        connection.close()


@pytest.fixture
def world(session: Session, settings: Settings) -> World:
    return World.build(session, settings)


@dataclass
class Api:
    client: TestClient
    db: FreshDatabase
    tokens: dict[str, str]

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def count(self, model: type) -> int:
        with Session(self.db.engine) as session:
            return session.exec(select(func.count()).select_from(model)).one()


@pytest.fixture
def api(fresh_db: FreshDatabase) -> Iterator[Api]:
    settings = fresh_db.settings()
    with fresh_db.scope() as session:
        World.build(session, settings)
        issued = {
            key: tokens.create_token(session, actor=None, email=email).token
            for key, (email, _, _) in CAST.items()
        }
    app = create_app(settings, engine=fresh_db.engine)
    with TestClient(app) as client:
        yield Api(client=client, db=fresh_db, tokens=issued)
