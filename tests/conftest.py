"""Test databases are built by ``alembic upgrade head``, on SQLite or on PostgreSQL.

Set REGISTRY_TEST_DATABASE_URL=postgresql+psycopg://... to run the suite on PostgreSQL.
Service tests run inside one transaction rolled back at the end; tests that need real
commits (CLI, HTTP, concurrency) get a fresh empty database of their own (a new SQLite file,
or a new PostgreSQL schema that is dropped afterwards).

Shared helpers: :func:`table_rows` (every row of every table, to compare before and after),
:class:`Cli` (the ``registry`` command in-process), :func:`assert_refused` and
:func:`assert_cli_refused` (a refusal is one sentence, never a traceback), and
:func:`sign_in` (the console's sign-in form, as a browser fills it).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import uuid
from collections.abc import Iterator, Mapping, Set
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url
from sqlmodel import Session, SQLModel, func, select
from typer.testing import CliRunner, Result

from cli.main import app as cli_app
from registry import migrate
from registry.config import Settings
from registry.db import make_engine, session_scope
from registry.http.app import create_app
from registry.keys import AUDIT_KEY, session_info
from registry.services import tokens
from tests.factories import CAST, World
from tests.mailserver import mail_server as mail_server  # the SMTP server fixture
from vault import Keyring

PG_URL = os.environ.get("REGISTRY_TEST_DATABASE_URL", "")
ON_POSTGRES = PG_URL.startswith("postgresql")

postgres_only = pytest.mark.skipif(not ON_POSTGRES, reason="needs PostgreSQL")

# The tables a refused reveal (or TOTP request) still writes to: it is audited.
AUDIT_TABLES = frozenset({"audit_event", "audit_head"})

Rows = dict[str, list[dict[str, Any]]]


def registry_env(url: str, keyring: Path | str) -> dict[str, str]:
    """The environment that points the ``registry`` command at a database and a keyring."""
    return {"REGISTRY_DATABASE_URL": url, "REGISTRY_KEYRING": str(keyring)}


@dataclass
class FreshDatabase:
    """An empty registry database migrated to head (and a keyring), for tests that commit."""

    url: str
    engine: Engine
    keyring_path: Path

    def settings(self) -> Settings:
        return Settings(database_url=self.url, keyring=str(self.keyring_path))

    def env(self) -> dict[str, str]:
        """The environment a ``registry`` command (in-process or a real one) needs to use this
        database and its keyring, so the events it writes are sealed."""
        return registry_env(self.url, self.keyring_path)

    def keyring(self) -> Keyring:
        return Keyring.load(self.keyring_path)

    def scope(self) -> AbstractContextManager[Session]:
        """A committing transaction, as the CLI and the API open one (audit key included)."""
        return session_scope(self.engine, session_info(self.settings()))


def _utc(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    return value


def table_rows(bind: Engine | Connection | Session, skip: Set[str] = frozenset()) -> Rows:
    """Every row of every registry table (``SQLModel.metadata``) but those in ``skip``, in
    primary-key order, times as aware UTC: equal results mean nothing changed. A session's
    pending changes are flushed first, so it sees its own transaction."""
    if isinstance(bind, Engine):
        with bind.connect() as connection:
            return table_rows(connection, skip)
    if isinstance(bind, Session):
        bind.flush()
    return {
        table.name: [
            {key: _utc(value) for key, value in row.items()}
            for row in bind.execute(table.select().order_by(*table.primary_key)).mappings()
        ]
        for table in SQLModel.metadata.sorted_tables
        if table.name not in skip
    }


def assert_refused(
    response: Any, status: int, *phrases: str, error: str | None = None
) -> dict[str, Any]:
    """An API refusal: this status, the JSON error body (with the ``error`` code, when given),
    one sentence in ``detail``, and each of ``phrases`` in it or in its ``problems``."""
    assert response.status_code == status, response.text[:500]
    body: dict[str, Any] = response.json()
    assert set(body) <= {"error", "detail", "problems"}, body
    if error is not None:
        assert body["error"] == error, body
    detail = body["detail"]
    assert detail.endswith(".") and "Traceback" not in response.text, detail
    assert len(detail) < 400, "a refusal is one sentence, not an echo of the input"
    for phrase in phrases:
        assert phrase in detail or any(phrase in p for p in body.get("problems", [])), (
            phrase,
            body,
        )
    return body


def assert_cli_refused(result: Result, *phrases: str) -> str:
    """A command refused: exit 1, no traceback, each of ``phrases`` on stderr (returned)."""
    assert result.exit_code == 1, (result.stdout, result.stderr, result.exception)
    assert "Traceback" not in result.stderr + result.stdout
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    for phrase in phrases:
        assert phrase in result.stderr, (phrase, result.stderr)
    return result.stderr


@dataclass
class Cli:
    """The ``registry`` command run in-process (Typer's CliRunner) with ``env`` set."""

    env: dict[str, str]
    runner: CliRunner = field(default_factory=CliRunner)

    @classmethod
    def on(cls, url: str, keyring: Path | str) -> Cli:
        """The command on the database at ``url``, with the keyring at ``keyring``."""
        return cls(registry_env(url, keyring))

    def __call__(
        self, *args: str, input: str | None = None, env: Mapping[str, str] | None = None
    ) -> Result:
        """Run it, whatever the outcome (``env`` adds to or overrides :attr:`env`)."""
        return self.runner.invoke(cli_app, list(args), env={**self.env, **(env or {})}, input=input)

    def ok(self, *args: str, input: str | None = None) -> Result:
        """Run it and check it succeeded."""
        result = self(*args, input=input)
        assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
        return result

    def json(self, *args: str, input: str | None = None) -> Any:
        """Run it with ``--json``, check it succeeded, and parse what it printed."""
        return json.loads(self.ok(*args, "--json", input=input).stdout)

    def refused(
        self, *args: str, input: str | None = None, env: Mapping[str, str] | None = None
    ) -> str:
        """Run it and check it was refused (see :func:`assert_cli_refused`); its stderr."""
        return assert_cli_refused(self(*args, input=input, env=env))


def csrf_of(html: str) -> str:
    """The CSRF token of the (first) form on a console page."""
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field in the form"
    return found.group(1)


def sign_in(client: TestClient, token: str) -> str:
    """Sign in to the console with ``token`` as a browser does; the console's CSRF token."""
    form = client.get("/login")
    signed = client.post(
        "/login", data={"token": token, "csrf": csrf_of(form.text)}, follow_redirects=False
    )
    assert (signed.status_code, signed.headers.get("location")) == (303, "/console"), signed.text
    return csrf_of(client.get("/console").text)


def _schema_url(schema: str) -> str:
    return (
        make_url(PG_URL)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )


@contextmanager
def empty_database(
    tmp_path: Path, name: str = "registry", *, postgres: bool = ON_POSTGRES
) -> Iterator[tuple[str, Engine]]:
    """A database with no tables yet: a new SQLite file ``name``.db in ``tmp_path``, or (on
    PostgreSQL) a new schema of REGISTRY_TEST_DATABASE_URL that is dropped afterwards. Yields
    its URL and an engine."""
    if postgres:
        assert PG_URL, "REGISTRY_TEST_DATABASE_URL names no PostgreSQL database"
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
        if postgres:
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


@pytest.fixture
def cli(fresh_db: FreshDatabase) -> Cli:
    """The ``registry`` command on :func:`fresh_db` (and its keyring)."""
    return Cli(fresh_db.env())


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

    def sign_in(self, who: str) -> str:
        """Sign the client in to the console as ``who``; the console's CSRF token."""
        return sign_in(self.client, self.tokens[who])


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
