"""The directory feed is built once per version of the registry, not once per request: polls
that change nothing do not read every account, and a change shows at the next request."""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
from email.utils import format_datetime
from typing import Any

import pytest
from sqlalchemy import Connection

from registry.models import utcnow
from registry.services import feed, signing
from tests.conftest import Api, FreshDatabase
from tests.factories import World

JOSE = {"Accept": "application/jose"}


def add_account(db: FreshDatabase, handle: str, **changes: Any) -> int:
    """An active account, made as an import makes one (audited), with ``changes`` applied."""
    with db.scope() as session:
        world = World.load(session, db.settings())
        account = world.account(handle)
        for name, value in changes.items():
            setattr(account, name, value)
        session.add(account)
        return account.id or 0


@pytest.fixture
def built(fresh_db: FreshDatabase, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The registry's cast, and a list that grows by one each time the feed is built."""
    with fresh_db.scope() as session:
        World.build(session, fresh_db.settings())
    calls: list[int] = []
    real = feed.build

    def counted(connection: Connection, *, now: dt.datetime) -> feed.Feed:
        calls.append(1)
        return real(connection, now=now)

    monkeypatch.setattr(feed, "build", counted)
    return calls


def handles(entry: Any) -> list[str]:
    return [account["handle"] for account in entry.feed.document["accounts"]]


class TestFeedCache:
    def test_built_once_until_the_audit_log_moves(
        self, fresh_db: FreshDatabase, built: list[int]
    ) -> None:
        add_account(fresh_db, "ManitobaAg")
        cache, now = feed.FeedCache(), utcnow()
        with fresh_db.engine.connect() as connection:
            first = cache.get(connection, now=now)
            assert cache.get(connection, now=now + dt.timedelta(seconds=30)) is first
        assert len(built) == 1 and handles(first) == ["ManitobaAg"]
        add_account(fresh_db, "ManitobaHealth")
        with fresh_db.engine.connect() as connection:
            second = cache.get(connection, now=now + dt.timedelta(seconds=31))
        assert len(built) == 2 and handles(second) == ["ManitobaAg", "ManitobaHealth"]

    def test_rebuilt_when_it_is_older_than_fresh_for(
        self, fresh_db: FreshDatabase, built: list[int]
    ) -> None:
        cache, now = feed.FeedCache(), utcnow()
        with fresh_db.engine.connect() as connection:
            first = cache.get(connection, now=now)
            later = cache.get(connection, now=now + feed.FRESH_FOR)
        assert later is not first and len(built) == 2

    def test_rebuilt_when_a_withdrawn_account_leaves_the_year(
        self, fresh_db: FreshDatabase, built: list[int]
    ) -> None:
        now = utcnow()
        gone_at = now - feed.WINDOW + dt.timedelta(seconds=10)
        add_account(fresh_db, "GonePage", status="decommissioned", decommissioned_at=gone_at)
        cache = feed.FeedCache()
        with fresh_db.engine.connect() as connection:
            first = cache.get(connection, now=now)
            assert first.good_until == gone_at + feed.WINDOW
            later = cache.get(connection, now=now + dt.timedelta(seconds=20))
        assert [w["handle"] for w in first.feed.document["withdrawn"]] == ["GonePage"]
        assert later.feed.document["withdrawn"] == [] and len(built) == 2

    def test_requests_at_the_same_moment_build_it_once(
        self, fresh_db: FreshDatabase, built: list[int]
    ) -> None:
        add_account(fresh_db, "ManitobaAg")
        cache, now = feed.FeedCache(), utcnow()
        start = threading.Barrier(4)
        got: list[Any] = []

        def fetch() -> None:
            with fresh_db.engine.connect() as connection:
                start.wait()
                got.append(cache.get(connection, now=now))

        threads = [threading.Thread(target=fetch) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(got) == 4 and all(entry is got[0] for entry in got)
        assert len(built) == 1


class TestFeedOverHttp:
    def test_an_edit_of_public_details_moves_last_modified(self, api: Api) -> None:
        yesterday = utcnow() - dt.timedelta(days=1)
        account_id = add_account(api.db, "ManitobaAg", activated_at=yesterday)
        first = api.client.get("/directory.json")
        assert first.headers["last-modified"] == format_datetime(yesterday, usegmt=True)
        edited = api.client.patch(
            f"/accounts/{account_id}",
            json={"display_name": "Manitoba Agriculture"},
            headers=api.headers("ced1"),
        )
        assert edited.status_code == 200, edited.text
        since = api.client.get(
            "/directory.json", headers={"If-Modified-Since": first.headers["last-modified"]}
        )
        assert since.status_code == 200
        assert since.json()["accounts"][0]["display_name"] == "Manitoba Agriculture"
        assert since.headers["last-modified"] != first.headers["last-modified"]
        assert since.headers["etag"] != first.headers["etag"]

    def test_repeated_polls_are_answered_from_one_build(
        self, api: Api, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        add_account(api.db, "ManitobaAg")
        calls: list[int] = []
        real = feed.build
        monkeypatch.setattr(
            feed, "build", lambda connection, *, now: calls.append(1) or real(connection, now=now)
        )
        first = api.client.get("/directory.json")
        for _ in range(5):
            again = api.client.get(
                "/directory.json", headers={"If-None-Match": first.headers["etag"]}
            )
            assert again.status_code == 304
        assert api.client.get("/directory.json").content == first.content
        assert len(calls) == 1

    def test_the_signed_feed_follows_a_new_signing_key(self, api: Api) -> None:
        add_account(api.db, "ManitobaAg")
        before = api.client.get("/directory.json", headers=JOSE).text
        keyring = api.db.keyring()
        new_kid, _ = signing.rotate(keyring, now=utcnow())
        after = api.client.get("/directory.json", headers=JOSE).text
        assert header(after)["kid"] == new_kid != header(before)["kid"]


def header(token: str) -> Any:
    part = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_the_account_factory_writes_an_audit_event(fresh_db: FreshDatabase) -> None:
    """The cache's key is the audit log's last number: the accounts the tests add must move it
    as real ones do."""
    with fresh_db.scope() as session:
        World.build(session, fresh_db.settings())
    with fresh_db.engine.connect() as connection:
        before = feed.version(connection)
    add_account(fresh_db, "ManitobaAg")
    with fresh_db.engine.connect() as connection:
        assert feed.version(connection) > before
