"""The load balancer's probes: ``/healthz`` (the process answers) and ``/readyz`` (the database
answers and its schema is at this version's head); neither says anything else."""

from __future__ import annotations

import inspect
import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, text

from registry import db, migrate
from registry.config import Settings
from registry.db import make_engine
from registry.http.api.routes import health
from registry.http.app import create_app
from tests.conftest import FreshDatabase, empty_database

NOT_READY = {"status": "not ready"}
READY = {"status": "ready"}
# Words a 503 must never carry: what failed inside, and the database's address.
LEAKS = ("Error", "Exception", "sqlite", "psycopg", "postgres", "Traceback", "127.0.0.1")


def client_for(settings: Settings, engine: Engine | None = None) -> TestClient:
    return TestClient(create_app(settings, engine=engine))


@pytest.fixture
def client(fresh_db: FreshDatabase) -> Iterator[TestClient]:
    with client_for(fresh_db.settings(), fresh_db.engine) as client:
        yield client


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (it was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def assert_not_ready(response: Any, detail: str, *secrets: str) -> None:
    """A 503 with exactly this sentence, and none of ``secrets`` nor :data:`LEAKS` anywhere."""
    assert response.status_code == 503, response.text
    assert response.json() == {**NOT_READY, "detail": detail}
    answer = response.text + " ".join(response.headers.values())
    for secret in (*LEAKS, *secrets):
        assert secret not in answer, secret


class TestAlive:
    def test_healthz_answers_without_a_database(self, tmp_path: Path) -> None:
        connects: list[object] = []

        def record(*args: object) -> None:
            connects.append(args)

        event.listen(Engine, "do_connect", record)  # every engine's every connection attempt
        try:
            url = f"sqlite:///{tmp_path / 'missing' / 'registry.db'}"
            client = client_for(Settings(database_url=url, keyring=str(tmp_path / "k")))
            response = client.get("/healthz")
            head = client.head("/healthz")
        finally:
            event.remove(Engine, "do_connect", record)
        assert (response.status_code, response.json()) == (200, {"status": "ok"})
        assert (head.status_code, head.content) == (200, b"")
        assert connects == []

    def test_healthz_answers_on_the_loop_and_readyz_on_a_worker_thread(self) -> None:
        """Liveness answers while every worker thread waits for the database; readiness,
        which may wait for it, never waits on the event loop."""
        assert inspect.iscoroutinefunction(health.healthz)
        assert not inspect.iscoroutinefunction(health.readyz)


class TestReady:
    def test_a_migrated_database_is_ready_to_anyone(self, client: TestClient) -> None:
        response = client.get("/readyz")
        assert (response.status_code, response.json()) == (200, READY)
        assert response.headers["cache-control"] == "no-store"
        unknown_token = client.get("/readyz", headers={"Authorization": "Bearer smr_made-up"})
        assert unknown_token.status_code == 200  # no token needed, a wrong one is not read
        head = client.head("/readyz")
        assert (head.status_code, head.content) == (200, b"")

    def test_the_answer_names_no_revision(self, client: TestClient) -> None:
        head = migrate.head()
        assert head
        assert head not in client.get("/readyz").text

    def test_ready_while_every_pooled_connection_is_taken(
        self, fresh_db: FreshDatabase, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A busy instance is not an unready one: the probe has its own connection, so a
        load balancer polling during a rush does not take a healthy worker out of rotation."""
        monkeypatch.setattr(db, "POOL_SIZE", 1)
        monkeypatch.setattr(db, "MAX_OVERFLOW", 0)
        monkeypatch.setattr(db, "POOL_TIMEOUT", 0.2)
        engine = make_engine(fresh_db.url)
        try:
            client = client_for(fresh_db.settings(), engine)
            with engine.connect():  # the pool's only connection, held by a request
                response = client.get("/readyz")
        finally:
            engine.dispose()
        assert (response.status_code, response.json()) == (200, READY)

    def test_ready_while_a_writer_is_in_the_middle_of_a_transaction(
        self, fresh_db: FreshDatabase, client: TestClient
    ) -> None:
        """The probe reads without the write lock, even the row a migration would change."""
        with fresh_db.engine.connect() as writer, writer.begin():
            writer.execute(text("UPDATE alembic_version SET version_num = version_num"))
            response = client.get("/readyz")
        assert (response.status_code, response.json()) == (200, READY)


class TestSchemaNotAtHead:
    def test_one_migration_behind_is_not_ready_until_upgraded(
        self, fresh_db: FreshDatabase, client: TestClient
    ) -> None:
        migrate.downgrade(fresh_db.engine)  # one step
        previous = migrate.current(fresh_db.engine)
        assert previous
        behind = client.get("/readyz")
        assert_not_ready(behind, health.BEHIND, previous)
        migrate.upgrade(fresh_db.engine)
        assert client.get("/readyz").status_code == 200  # nothing about the schema is cached

    def test_a_database_never_migrated_is_behind(self, tmp_path: Path) -> None:
        with empty_database(tmp_path) as (url, engine):
            client = client_for(Settings(database_url=url, keyring=str(tmp_path / "k")), engine)
            assert_not_ready(client.get("/readyz"), health.BEHIND)

    def test_a_schema_newer_than_this_code_is_not_ready(
        self, fresh_db: FreshDatabase, client: TestClient
    ) -> None:
        """A revision this code does not know: the database was upgraded by a newer version
        (old workers still running during an upgrade say so rather than "behind")."""
        with fresh_db.engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = 'f00dfeedbeef'"))
        assert_not_ready(client.get("/readyz"), health.AHEAD, "f00dfeedbeef")


class TestDatabaseUnreachable:
    def test_sqlite_in_a_missing_folder(
        self, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        path = tmp_path / "missing" / "registry.db"
        client = client_for(Settings(database_url=f"sqlite:///{path}", keyring=str(tmp_path / "k")))
        with caplog.at_level(logging.WARNING, logger=health.__name__):
            response = client.get("/readyz")
        assert_not_ready(response, health.UNREACHABLE, str(tmp_path), "registry.db")
        assert "not answering" in caplog.text
        assert not path.parent.exists()  # asking created nothing
        assert client.get("/healthz").status_code == 200  # alive all the same

    def test_postgresql_on_a_closed_port(
        self, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        port = str(closed_port())
        password = "pr0be-s3cret-pw"
        url = f"postgresql+psycopg://probe:{password}@127.0.0.1:{port}/nowhere"
        client = client_for(Settings(database_url=url, keyring=str(tmp_path / "k")))
        with caplog.at_level(logging.WARNING, logger=health.__name__):
            response = client.get("/readyz")
        assert_not_ready(response, health.UNREACHABLE, password, port, "nowhere", "probe:")
        assert "not answering" in caplog.text
        for secret in (password, port, "127.0.0.1"):
            assert secret not in caplog.text  # the log names the failure's kind, no more


class TestDocumented:
    def test_both_probes_are_in_the_openapi_document(self, tmp_path: Path) -> None:
        app = create_app(Settings(database_url="sqlite://", keyring=str(tmp_path / "k")))
        paths = app.openapi()["paths"]
        assert set(paths["/healthz"]) == {"get"} and set(paths["/readyz"]) == {"get"}
        readyz = paths["/readyz"]["get"]
        assert {"200", "503"} <= set(readyz["responses"])
        assert "security" not in readyz and "security" not in paths["/healthz"]["get"]
