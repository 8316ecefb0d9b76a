"""Nobody opens an account or reaches its password alone (rule 4 and rule 5), and the registry
always keeps an administrator.

Before: an administrator who was not CED imported `x @PremierMB` as an official Health
account in one step, granted themselves access to an account and revealed its password (200),
and a handover could remove the last administrator.
"""

from __future__ import annotations

import pytest

from registry.errors import Forbidden, InvalidTransition
from registry.models import Role
from registry.services import access, handover
from tests.conftest import Api, assert_cli_refused, assert_refused, table_rows
from tests.factories import World

IMPORT_CSV = (
    "platform,handle,url,category,department,login_email,purpose,holders\n"
    "x,PremierMB,https://x.com/PremierMB,official,HLT,premier.social@gov.mb.ca,"
    "Premier's news,ced.one@gov.mb.ca;hana.health@gov.mb.ca\n"
)


def _account(api: Api) -> int:
    with api.db.scope() as session:
        world = World.load(session, api.db.settings())
        return world.account(handle="ManitobaAg").id or 0


class TestImportIsCedOnly:
    def test_an_administrator_who_is_not_ced_may_not_import(self, api: Api) -> None:
        before = table_rows(api.db.engine)
        response = api.client.post(
            "/accounts/import",
            content=IMPORT_CSV,
            headers={**api.headers("fin_admin"), "Content-Type": "text/csv"},
        )
        assert_refused(response, 403, "import accounts", "ced")
        assert table_rows(api.db.engine) == before

    def test_nor_from_the_command_line(self, api: Api, tmp_path: pytest.TempPathFactory) -> None:
        from tests.conftest import Cli

        path = tmp_path / "accounts.csv"  # type: ignore[operator]
        path.write_text(IMPORT_CSV)
        before = table_rows(api.db.engine)
        result = Cli(api.db.env())("accounts", "import", str(path), "--as", "fin.admin@gov.mb.ca")
        assert_cli_refused(result, "import accounts")
        assert table_rows(api.db.engine) == before

    def test_ced_imports_and_the_log_says_it_was_an_import(self, api: Api) -> None:
        response = api.client.post(
            "/accounts/import",
            content=IMPORT_CSV,
            headers={**api.headers("ced1"), "Content-Type": "text/csv"},
        )
        assert response.status_code == 201, response.text
        [account_id] = response.json()["account_ids"]
        events = api.client.get("/audit/events", headers=api.headers("auditor")).json()["events"]
        actions = {(e["action"], e["actor"]) for e in events if e["action"].endswith("import")}
        assert ("accounts.import", "ced.one@gov.mb.ca") in actions
        imported = [e for e in events if e["action"] == "account.imported"]
        assert [e["entity_id"] for e in imported] == [str(account_id)]


class TestNobodyGrantsThemselvesAccess:
    @pytest.mark.parametrize("who", ["fin_admin", "ced1", "admin"])
    def test_a_self_grant_is_refused_and_changes_nothing(self, api: Api, who: str) -> None:
        account_id = _account(api)
        email = {"fin_admin": "fin.admin@gov.mb.ca", "ced1": "ced.one@gov.mb.ca"}.get(
            who, "admin@gov.mb.ca"
        )
        if who == "ced1":  # ced1 holds it already by default: use a fresh account
            with api.db.scope() as session:
                world = World.load(session, api.db.settings())
                account_id = (
                    world.account(handle="OtherNews", holders=("ced2", "agr_staff")).id or 0
                )
        before = table_rows(api.db.engine)
        response = api.client.post(
            f"/accounts/{account_id}/holders", json={"email": email}, headers=api.headers(who)
        )
        assert_refused(response, 403, "may not grant access to themselves")
        assert table_rows(api.db.engine) == before

    def test_so_an_administrator_cannot_reach_the_password(self, api: Api) -> None:
        account_id = _account(api)
        stored = api.client.put(
            f"/accounts/{account_id}/credentials/password",
            json={"value": "canary-password-1"},
            headers=api.headers("ced1"),
        )
        assert stored.status_code in (200, 201), stored.text
        api.client.post(
            f"/accounts/{account_id}/holders",
            json={"email": "fin.admin@gov.mb.ca"},
            headers=api.headers("fin_admin"),
        )
        revealed = api.client.post(
            f"/accounts/{account_id}/credentials/password/reveal",
            json={"reason": "Just looking"},
            headers=api.headers("fin_admin"),
        )
        assert revealed.status_code == 403
        assert "canary-password-1" not in revealed.text

    def test_granting_someone_else_still_works(self, world: World) -> None:
        account = world.account(holders=("ced1", "agr_staff"))
        access.grant(
            world.session,
            settings=world.settings,
            actor=world.actor("fin_admin"),
            account_id=account.id or 0,
            email=world.email("ced2"),
        )

    def test_nor_by_a_handover_to_themselves(self, world: World) -> None:
        world.account(holders=("ced1", "agr_staff"))
        with pytest.raises(Forbidden, match="may not hand accounts to themselves"):
            handover.handover(
                world.session,
                settings=world.settings,
                actor=world.actor("ced2"),
                departing=world.email("ced1"),
                successor=world.email("ced2"),
            )


class TestTheLastAdministratorStays:
    def _hand_over(self, world: World, departing: str, runner: str) -> None:
        handover.handover(
            world.session,
            settings=world.settings,
            actor=world.actor(runner),
            departing=world.email(departing),
            successor=world.email("ced2"),
        )

    def test_the_last_administrator_cannot_leave(self, world: World) -> None:
        self._hand_over(world, "fin_admin", "admin")  # another administrator remains
        with pytest.raises(InvalidTransition, match="last active administrator") as refused:
            self._hand_over(world, "admin", "ced1")
        assert refused.value.message.endswith(".")
        assert Role.admin in world.actor("admin").roles

    def test_over_http_the_refusal_is_one_sentence_and_changes_nothing(self, api: Api) -> None:
        first = api.client.post(
            "/handovers",
            json={"departing": "fin.admin@gov.mb.ca", "successor": "ced.two@gov.mb.ca"},
            headers=api.headers("admin"),
        )
        assert first.status_code == 201, first.text
        before = table_rows(api.db.engine)
        response = api.client.post(
            "/handovers",
            json={"departing": "admin@gov.mb.ca", "successor": "ced.two@gov.mb.ca"},
            headers=api.headers("ced1"),
        )
        assert_refused(response, 409, "last active administrator")
        assert table_rows(api.db.engine) == before
