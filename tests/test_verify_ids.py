"""The public check by the platform's permanent id, and what an old handle answers after the
platform renamed the account."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from registry.errors import InvalidInput
from registry.models import AccountRename, utcnow
from registry.services import verify
from tests.conftest import Api, Cli
from tests.factories import World

PAGE_ID = "100064512345678"


def _renamed(world: World, account_id: int, old: str, new: str, *, at: dt.datetime) -> None:
    world.session.add(
        AccountRename(
            account_id=account_id,
            platform="facebook",
            old_handle=old,
            old_handle_normalized=old.lower().replace(".", ""),
            old_url=f"https://www.facebook.com/{old}",
            new_handle=new,
            new_url=f"https://www.facebook.com/{new}",
            renamed_at=at,
            renamed_by_id=world.people["ced1"].id,
        )
    )
    world.session.flush()


class TestById:
    def test_an_active_account_verifies_by_its_id_whatever_its_handle(self, world: World) -> None:
        account = world.account("MBGov")
        account.platform_id = PAGE_ID
        world.session.add(account)
        world.session.flush()
        answer = verify.answer(
            world.session.connection(),
            platform="fb",
            handle=None,
            url=None,
            platform_id=f"  {PAGE_ID} ",
        )
        assert answer.official and answer.handle == "MBGov"
        assert answer.platform_id == PAGE_ID and answer.department == "Agriculture"

    def test_an_unknown_id_is_not_official_and_says_which_id(self, world: World) -> None:
        answer = verify.answer(
            world.session.connection(),
            platform="facebook",
            handle=None,
            url=None,
            platform_id="123456789",
        )
        assert not answer.official and answer.platform_id == "123456789"
        assert "123456789" in answer.message

    def test_a_decommissioned_account_answers_no_by_its_id(self, world: World) -> None:
        account = world.account("OldPage")
        account.platform_id = PAGE_ID
        account.status, account.decommissioned_at = "decommissioned", utcnow()
        world.session.add(account)
        world.session.flush()
        answer = verify.verify_platform_id(
            world.session.connection(), platform="facebook", platform_id=PAGE_ID
        )
        assert not answer.official and answer.status == "decommissioned"

    @pytest.mark.parametrize(
        "kwargs",
        [
            {"platform": "facebook", "handle": "MBGov", "platform_id": PAGE_ID},
            {"platform": None, "handle": None, "platform_id": PAGE_ID},
            {"platform": "facebook", "handle": None, "platform_id": "not an id"},
            {"platform": "facebook", "handle": None, "platform_id": "9" * 301},
        ],
    )
    def test_malformed_questions_are_refused(self, world: World, kwargs: dict[str, str]) -> None:
        with pytest.raises(InvalidInput):
            verify.answer(world.session.connection(), url=None, **kwargs)  # type: ignore[arg-type]


class TestRenamed:
    def test_the_old_handle_says_renamed_and_the_new_one_verifies(self, world: World) -> None:
        account = world.account("MBGovNew")
        at = dt.datetime(2026, 11, 2, 15, 0, tzinfo=dt.UTC)
        _renamed(world, account.id or 0, "MBGov", "MBGovNew", at=at)
        connection = world.session.connection()
        old = verify.verify_handle(connection, platform="facebook", handle="@mbgov")
        assert not old.official and old.status == "renamed"
        assert old.renamed_to == "MBGovNew" and old.since == at
        assert "renamed to @MBGovNew on 2026-11-02" in old.message
        assert "does not speak for the government" in old.message
        new = verify.verify_handle(connection, platform="facebook", handle="MBGovNew")
        assert new.official and new.renamed_to is None

    def test_a_link_to_the_old_profile_says_renamed_too(self, world: World) -> None:
        account = world.account("MBGovNew")
        _renamed(world, account.id or 0, "MBGov", "MBGovNew", at=utcnow())
        answer = verify.verify_url(world.session.connection(), url="https://www.facebook.com/MBGov")
        assert not answer.official and answer.status == "renamed"

    def test_the_handle_registered_again_by_government_verifies(self, world: World) -> None:
        first = world.account("MBGovNew")
        _renamed(world, first.id or 0, "MBGov", "MBGovNew", at=utcnow() - dt.timedelta(days=3))
        world.account("MBGov", department="HLT", holders=("ced1", "hlt_requester"))
        answer = verify.verify_handle(
            world.session.connection(), platform="facebook", handle="MBGov"
        )
        assert answer.official and answer.department == "Health"

    def test_the_latest_event_wins_between_decommission_and_rename(self, world: World) -> None:
        gone = world.account("MBGov")
        gone.status = "decommissioned"
        gone.decommissioned_at = utcnow() - dt.timedelta(days=30)
        world.session.add(gone)
        world.session.flush()
        other = world.account("Elsewhere", department="HLT", holders=("ced1", "hlt_requester"))
        _renamed(world, other.id or 0, "MBGov", "Elsewhere", at=utcnow())
        answer = verify.verify_handle(
            world.session.connection(), platform="facebook", handle="MBGov"
        )
        assert answer.status == "renamed" and answer.renamed_to == "Elsewhere"


class TestInterfaces:
    def test_the_api_answers_by_id(self, api: Api) -> None:
        body = api.client.get("/verify", params={"platform": "facebook", "id": "42424242"})
        assert body.status_code == 200
        assert body.json()["official"] is False and body.json()["platform_id"] == "42424242"
        refused = api.client.get("/verify", params={"platform": "youtube", "id": "42"})
        assert refused.status_code == 422 and "YouTube" in refused.json()["detail"]

    def test_the_cli_answers_by_id(self, cli: Cli) -> None:
        cli("init", "--admin", "admin@gov.mb.ca", "--name", "Admin")
        result = cli("verify", "--platform", "x", "--id", "12345", "--json")
        assert result.exit_code == 1
        assert json.loads(result.stdout)["official"] is False
        assert "X" in cli.refused("verify", "--platform", "x", "--id", "@nope")
