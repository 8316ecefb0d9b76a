"""The service stays up when it is busy: reads take no write lock, a full connection pool is a
503 that says when to try again, and the event loop never waits for the database.

The load itself is measured by ``bench/load.py``; these tests pin each cause it found.
"""

from __future__ import annotations

import inspect
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from registry import db
from registry.db import make_engine
from registry.errors import DATABASE_UNAVAILABLE
from registry.http.api.routes import accounts, health, verify
from registry.http.app import create_app
from registry.http.deps import raw_body
from registry.services import tokens
from tests.conftest import ON_POSTGRES, Api, FreshDatabase, assert_refused, sign_in
from tests.factories import World

VERIFY = "/verify?platform=facebook&handle=ManitobaAg"


@contextmanager
def write_lock_held(fresh_db: FreshDatabase) -> Iterator[None]:
    """Another process's writer in the middle of its transaction: on SQLite the database's
    write lock, on PostgreSQL exclusive locks on the tables a change would write."""
    if ON_POSTGRES:
        with fresh_db.engine.connect() as connection, connection.begin():
            connection.execute(
                text("LOCK TABLE audit_event, audit_head, account, person IN EXCLUSIVE MODE")
            )
            yield
        return
    path = fresh_db.engine.url.database
    assert path
    writer = sqlite3.connect(path, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        yield
    finally:
        writer.execute("ROLLBACK")
        writer.close()


@contextmanager
def serving(fresh_db: FreshDatabase, engine: Engine | None = None) -> Iterator[Api]:
    """The API on ``fresh_db`` with the cast, an active @ManitobaAg account and ced1's token;
    server errors are answered (500) rather than raised, as a real server does."""
    settings = fresh_db.settings()
    with fresh_db.scope() as session:
        world = World.build(session, settings)
        world.account(handle="ManitobaAg")
        token = tokens.create_token(session, actor=None, email=world.email("ced1")).token
    app = create_app(settings, engine=engine or fresh_db.engine)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client=client, db=fresh_db, tokens={"ced1": token})


@pytest.fixture
def with_account(fresh_db: FreshDatabase) -> Iterator[Api]:
    with serving(fresh_db) as api:
        yield api


class TestReadsTakeNoWriteLock:
    """Before: every request began with BEGIN IMMEDIATE, so anonymous pages and bad tokens
    queued behind any writer for 30 s and then failed with 503."""

    def test_reads_answer_at_once_while_a_writer_holds_the_lock(self, with_account: Api) -> None:
        api = with_account
        cookie_client = TestClient(api.client.app)
        sign_in(cookie_client, api.tokens["ced1"])
        with write_lock_held(api.db):
            started = time.monotonic()
            answers = {
                "accounts": api.client.get("/accounts", headers=api.headers("ced1")),
                "bad token": api.client.get(
                    "/accounts", headers={"Authorization": "Bearer smr_made-up-token"}
                ),
                "directory": api.client.get("/directory?q=zz"),
                "verify": api.client.get(VERIFY),
                "console": cookie_client.get("/console/accounts"),
            }
            elapsed = time.monotonic() - started
        statuses = {name: answer.status_code for name, answer in answers.items()}
        assert statuses == {
            "accounts": 200,
            "bad token": 401,
            "directory": 200,
            "verify": 200,
            "console": 200,
        }
        assert answers["verify"].json()["official"] is True
        assert elapsed < 5, f"reads waited {elapsed:.1f} s for the writer"

    def test_a_change_still_waits_for_the_writer_and_then_goes_through(
        self, with_account: Api
    ) -> None:
        """The write lock is still taken by changes: the rule checks rely on it."""
        api = with_account
        with api.db.engine.connect() as connection:
            account_id = connection.execute(text("SELECT id FROM account")).scalar_one()
        response = api.client.post(
            f"/accounts/{account_id}/review", json={"note": "ok"}, headers=api.headers("ced1")
        )
        assert response.status_code == 200, response.text


@pytest.fixture
def tiny_pool(fresh_db: FreshDatabase, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    """An app whose pool has one connection and waits a fifth of a second for it."""
    monkeypatch.setattr(db, "POOL_SIZE", 1)
    monkeypatch.setattr(db, "MAX_OVERFLOW", 0)
    monkeypatch.setattr(db, "POOL_TIMEOUT", 0.2)
    engine = make_engine(fresh_db.url)
    with serving(fresh_db, engine) as api:
        yield api
    engine.dispose()


class TestFullPool:
    """Before: a request that found every pooled connection taken waited 30 s, then
    SQLAlchemy's TimeoutError escaped as a 500; /verify waited on the event loop meanwhile,
    freezing every other request."""

    def test_a_full_pool_is_a_503_with_retry_after(self, tiny_pool: Api) -> None:
        engine = tiny_pool.client.app.state.engine  # type: ignore[attr-defined]
        with engine.connect():  # the only connection, held by someone else
            response = tiny_pool.client.get("/accounts", headers=tiny_pool.headers("ced1"))
        assert_refused(response, 503, error="unavailable")
        assert response.json()["detail"] == DATABASE_UNAVAILABLE
        assert response.headers["retry-after"] == "2"

    def test_verify_does_not_wait_for_the_pool(self, tiny_pool: Api) -> None:
        engine = tiny_pool.client.app.state.engine  # type: ignore[attr-defined]
        with engine.connect():
            started = time.monotonic()
            response = tiny_pool.client.get(VERIFY)
            elapsed = time.monotonic() - started
        assert response.status_code == 200, response.text
        assert response.json()["official"] is True
        assert elapsed < 0.2, "the public check waited for a pooled connection"


# Endpoints and dependencies that may run on the event loop, and why each cannot block it.
ON_THE_LOOP = {
    # one indexed read on the loop's own connection (registry.db.make_loop_engine)
    verify.verify_account,
    # only reads the request body
    raw_body,
    # the liveness probe: answers from memory
    health.healthz,
}


def _calls(routes: Iterable[Any]) -> Iterator[Any]:
    """Every endpoint and dependency the application can call for a request."""
    for route in routes:
        nested = getattr(route, "effective_route_contexts", None)
        if callable(nested):  # a router included by FastAPI >= 0.16x
            yield from _calls(nested())
            continue
        mounted = getattr(route, "routes", None)
        if mounted is not None:  # a mounted application (the console): its routes
            yield from _calls(mounted)
            continue
        dependant = getattr(route, "dependant", None)
        if dependant is None:  # a plain Starlette route: its endpoint
            yield getattr(route, "endpoint", None)
            continue
        stack = [dependant]
        while stack:
            dependant = stack.pop()
            yield dependant.call
            stack.extend(dependant.dependencies)


class TestNothingBlocksTheLoop:
    """Before: the CSV import was an ``async def``, so a 45,000-row import ran on the event
    loop and stalled /verify for seconds. FastAPI runs plain functions on worker threads;
    a coroutine must be one of the few that cannot block."""

    def test_every_coroutine_endpoint_and_dependency_is_known_not_to_block(
        self, fresh_db: FreshDatabase
    ) -> None:
        app = create_app(fresh_db.settings(), engine=fresh_db.engine)
        coroutines = {
            call
            for call in _calls(app.routes)
            if inspect.iscoroutinefunction(call) and call.__module__.startswith("registry")
        }  # FastAPI's own /docs and /openapi.json answer from memory
        assert coroutines <= ON_THE_LOOP, coroutines - ON_THE_LOOP
        assert verify.verify_account in coroutines  # the check really looks

    def test_the_import_runs_on_a_worker_thread(self) -> None:
        assert not inspect.iscoroutinefunction(accounts.import_accounts)
