"""Renames: the platform renamed an account; CED moves its handle in one audited operation,
the old handle answers "renamed", the new one verifies, and everything else stays."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlmodel import select

from registry.errors import Conflict, Forbidden, InvalidInput, NotFound
from registry.models import AccessGrant, Account, AuditEvent, OutboxMessage, utcnow
from registry.services import accounts, renames, requests, verify
from tests.conftest import Api, Cli, csrf_of
from tests.factories import World

NEW_URL = "https://www.facebook.com/MBAgNews"


def _rename(world: World, account: Account, who: str = "ced1", **kw: str) -> object:
    return renames.rename(
        world.session,
        actor=world.actor(who),
        account_id=account.id or 0,
        handle=kw.get("handle", "MBAgNews"),
        url=kw.get("url", NEW_URL),
    )


class TestRename:
    def test_the_handle_moves_and_everything_else_stays(self, world: World) -> None:
        account = world.account("ManitobaAg")
        grants = world.session.exec(
            select(AccessGrant.person_id).where(AccessGrant.account_id == account.id)
        ).all()
        public = _rename(world, account)
        assert public.handle == "MBAgNews" and public.url == NEW_URL  # type: ignore[attr-defined]
        assert public.id == account.id and public.status == "active"  # type: ignore[attr-defined]
        assert sorted(public.holders) == sorted(  # type: ignore[attr-defined]
            [world.email("ced1"), world.email("agr_staff")]
        )
        assert (
            world.session.exec(
                select(AccessGrant.person_id).where(AccessGrant.account_id == account.id)
            ).all()
            == grants
        )
        [earlier] = renames.history(
            world.session, actor=world.actor("auditor"), account_id=account.id or 0
        )
        assert (earlier.old_handle, earlier.new_handle) == ("ManitobaAg", "MBAgNews")
        assert earlier.renamed_by == world.email("ced1")
        [event] = world.session.exec(
            select(AuditEvent).where(AuditEvent.action == "account.renamed")
        ).all()
        assert event.entity_id == str(account.id)

    def test_the_old_handle_answers_renamed_and_the_new_one_verifies(self, world: World) -> None:
        account = world.account("ManitobaAg")
        _rename(world, account)
        connection = world.session.connection()
        old = verify.verify_handle(connection, platform="facebook", handle="ManitobaAg")
        assert not old.official and old.status == "renamed" and old.renamed_to == "MBAgNews"
        assert f"renamed to @MBAgNews on {utcnow():%Y-%m-%d}" in old.message
        new = verify.verify_url(connection, url=NEW_URL)
        assert new.official and new.department == "Agriculture"

    def test_renaming_back_verifies_the_old_handle_again(self, world: World) -> None:
        account = world.account("ManitobaAg")
        _rename(world, account)
        _rename(world, account, handle="ManitobaAg", url="https://www.facebook.com/ManitobaAg")
        connection = world.session.connection()
        assert verify.verify_handle(connection, platform="facebook", handle="ManitobaAg").official
        assert not verify.verify_handle(connection, platform="facebook", handle="MBAgNews").official

    def test_a_change_of_case_alone_is_recorded(self, world: World) -> None:
        account = world.account("manitobaag")
        public = _rename(
            world, account, handle="ManitobaAg", url="https://www.facebook.com/ManitobaAg"
        )
        assert public.handle == "ManitobaAg"  # type: ignore[attr-defined]


class TestRefusals:
    def test_only_ced_renames(self, world: World) -> None:
        account = world.account("ManitobaAg")
        for who in ("fin_admin", "agr_requester", "agr_approver", "auditor"):
            with pytest.raises(Forbidden, match="ced role"):
                _rename(world, account, who=who)

    def test_unknown_decommissioned_taken_same_and_bad_links(self, world: World) -> None:
        account = world.account("ManitobaAg")
        other = world.account("MBAgNews", login_email="agr.news@gov.mb.ca")
        with pytest.raises(Conflict, match="already registered as account"):
            _rename(world, account)
        with pytest.raises(Conflict, match="already has the handle"):
            _rename(world, account, handle="@ManitobaAg", url="https://www.facebook.com/ManitobaAg")
        with pytest.raises(InvalidInput, match="points to"):
            _rename(world, account, handle="Fresh", url="https://www.facebook.com/Other")
        with pytest.raises(InvalidInput, match="not a valid Facebook handle"):
            _rename(world, account, handle="no spaces", url="https://www.facebook.com/x")
        with pytest.raises(NotFound):
            renames.rename(
                world.session, actor=world.actor("ced1"), account_id=999999, handle="a", url="b"
            )
        other.status, other.decommissioned_at = "decommissioned", utcnow()
        world.session.add(other)
        world.session.flush()
        with pytest.raises(Conflict, match="only an active or suspended"):
            _rename(world, other, handle="Fresh", url="https://www.facebook.com/Fresh")
        # The freed handle can now be taken by the rename.
        assert _rename(world, account).handle == "MBAgNews"  # type: ignore[attr-defined]


class TestMore:
    def test_listing_and_showing_carry_the_new_handle_and_holders_hear_of_it(
        self, world: World
    ) -> None:
        account = world.account("ManitobaAg")
        renames.rename(
            world.session,
            actor=world.actor("ced1"),
            account_id=account.id or 0,
            handle="MBAgNews",
            url=NEW_URL,
            settings=world.settings,
        )
        listed = accounts.list_accounts(world.session, actor=world.actor("agr_requester"))
        assert [a.handle for a in listed] == ["MBAgNews"]
        shown = accounts.show_account(
            world.session, actor=world.actor("agr_requester"), account_id=account.id or 0
        )
        assert shown.handle == "MBAgNews" and shown.url == NEW_URL
        mails = world.session.exec(
            select(OutboxMessage).where(OutboxMessage.event == "account.renamed")
        ).all()
        assert sorted(m.recipient for m in mails) == sorted(
            [world.email("ced1"), world.email("agr_staff")]
        )
        assert all("@ManitobaAg" in m.subject and "@MBAgNews" in m.subject for m in mails)

    def test_a_suspended_account_is_renamed(self, world: World) -> None:
        account = world.account("ManitobaAg")
        account.status = "suspended"
        world.session.add(account)
        world.session.flush()
        public = _rename(world, account)
        assert public.handle == "MBAgNews" and public.status == "suspended"  # type: ignore[attr-defined]

    def test_a_handle_asked_for_in_an_open_request_is_refused(self, world: World) -> None:
        account = world.account("ManitobaAg")
        asked = requests.submit_new_account(
            world.session,
            settings=world.settings,
            actor=world.actor("agr_requester"),
            platform="facebook",
            handle="MBAgNews",
            url=NEW_URL,
            category="official",
            department="AGR",
            purpose="News for farmers",
            login_email="agr.news@gov.mb.ca",
            holders=[world.email("agr_staff")],
        )
        with pytest.raises(Conflict, match=f"already requested in request {asked.id}"):
            _rename(world, account)
        assert world.session.get(Account, account.id).handle == "ManitobaAg"  # type: ignore[union-attr]

    def test_the_unique_index_race_gets_the_same_sentence(
        self, world: World, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Another account takes the handle between the check and the write: the live-handle
        index refuses the write and the refusal names that account, as the check would."""
        account = world.account("ManitobaAg")
        other = world.account("MBAgNews", login_email="agr.news@gov.mb.ca")
        checks: list[str] = []
        real = renames._refuse_taken

        def late(*args: object) -> None:
            checks.append("check")
            if len(checks) > 1:  # the second look, after the index refused the write
                real(*args)  # type: ignore[arg-type]

        monkeypatch.setattr(renames, "_refuse_taken", late)
        with pytest.raises(Conflict, match=f"already registered as account {other.id} "):
            _rename(world, account)
        assert checks == ["check", "check"]
        assert world.session.get(Account, account.id).handle == "ManitobaAg"  # type: ignore[union-attr]
        assert not world.session.exec(
            select(AuditEvent).where(AuditEvent.action == "account.renamed")
        ).all()


class TestInterfaces:
    def test_the_cli_renames_and_the_audit_chain_still_verifies(
        self, cli: Cli, tmp_path: Path
    ) -> None:
        cli.ok("init", "--admin", "admin@gov.mb.ca", "--name", "Admin")
        admin = ("--as", "admin@gov.mb.ca")
        cli.ok("departments", "add", "AGR", "Agriculture", *admin)
        cli.ok(
            "people",
            "add",
            "ced@gov.mb.ca",
            "--name",
            "C",
            "--department",
            "CED",
            "--role",
            "ced",
            *admin,
        )
        cli.ok("people", "add", "staff@gov.mb.ca", "--name", "S", "--department", "AGR", *admin)
        rows = (
            "platform,handle,url,category,department,purpose,login_email,holders\n"
            "facebook,ManitobaAg,https://www.facebook.com/ManitobaAg,official,AGR,News,"
            "agr@gov.mb.ca,ced@gov.mb.ca;staff@gov.mb.ca\n"
        )
        csv_file = tmp_path / "accounts.csv"
        csv_file.write_text(rows)
        [account_id] = cli.json("accounts", "import", str(csv_file), "--as", "ced@gov.mb.ca")[
            "account_ids"
        ]
        refused = cli.refused(
            "accounts",
            "rename",
            str(account_id),
            "--handle",
            "MBAgNews",
            "--url",
            NEW_URL,
            "--as",
            "staff@gov.mb.ca",
        )
        assert "ced role" in refused
        said = cli.ok(
            "accounts",
            "rename",
            str(account_id),
            "--handle",
            "MBAgNewsroom",
            "--url",
            "https://www.facebook.com/MBAgNewsroom",
            "--as",
            "ced@gov.mb.ca",
        )
        assert f"Renamed account {account_id} from @ManitobaAg to @MBAgNewsroom." in said.stdout
        renamed = cli.json(
            "accounts",
            "rename",
            str(account_id),
            "--handle",
            "MBAgNews",
            "--url",
            NEW_URL,
            "--as",
            "ced@gov.mb.ca",
        )
        assert renamed["handle"] == "MBAgNews" and renamed["id"] == account_id
        old = cli("verify", "--platform", "facebook", "--handle", "ManitobaAg", "--json")
        assert old.exit_code == 1 and json.loads(old.stdout)["status"] == "renamed"
        cli.ok("verify", "--platform", "facebook", "--handle", "MBAgNews")
        shown = cli.json("accounts", "show", str(account_id), "--as", "staff@gov.mb.ca")
        assert shown["handle"] == "MBAgNews" and sorted(shown["holders"]) == [
            "ced@gov.mb.ca",
            "staff@gov.mb.ca",
        ]
        cli.ok("audit", "verify", *admin)

    def test_the_api_renames_and_lists_earlier_handles(self, api: Api) -> None:
        with api.db.scope() as session:
            account_id = World.load(session, api.db.settings()).account("ManitobaAg").id
        body = {"handle": "MBAgNews", "url": NEW_URL}
        path = f"/accounts/{account_id}/rename"
        assert api.client.post(path, json=body, headers=api.headers("fin_admin")).status_code == 403
        done = api.client.post(path, json=body, headers=api.headers("ced1"))
        assert done.status_code == 200 and done.json()["handle"] == "MBAgNews"
        again = api.client.post(path, json=body, headers=api.headers("ced1"))
        assert again.status_code == 409 and "already has the handle" in again.json()["detail"]
        unknown = api.client.post("/accounts/999999/rename", json=body, headers=api.headers("ced1"))
        assert unknown.status_code == 404
        bad = api.client.post(
            path,
            json={"handle": "Fresh", "url": "https://www.facebook.com/Other"},
            headers=api.headers("ced1"),
        )
        assert bad.status_code == 422 and bad.json()["detail"].count(". ") == 0
        assert "points to" in bad.json()["detail"]
        [earlier] = api.client.get(
            f"/accounts/{account_id}/renames", headers=api.headers("auditor")
        ).json()
        assert earlier["old_handle"] == "ManitobaAg"
        answer = api.client.get("/verify", params={"platform": "facebook", "handle": "ManitobaAg"})
        assert answer.json()["status"] == "renamed"

    def test_the_console_form_renames(self, api: Api) -> None:
        with api.db.scope() as session:
            account_id = World.load(session, api.db.settings()).account("ManitobaAg").id
        api.client.cookies.clear()
        api.sign_in("ced1")
        page = api.client.get(f"/console/accounts/{account_id}")
        assert 'id="rename"' in page.text
        bad = api.client.post(
            f"/console/accounts/{account_id}/rename",
            data={"csrf": csrf_of(page.text), "handle": "Other", "url": NEW_URL},
        )
        assert bad.status_code == 422 and "points to" in bad.text
        done = api.client.post(
            f"/console/accounts/{account_id}/rename",
            data={"csrf": csrf_of(page.text), "handle": "MBAgNews", "url": NEW_URL},
        )
        assert done.status_code == 200 and "its old handle no longer verifies" in done.text
        assert "Earlier handles" in done.text and "@ManitobaAg → @MBAgNews" in done.text
        api.client.cookies.clear()
        api.sign_in("agr_requester")
        assert 'id="rename"' not in api.client.get(f"/console/accounts/{account_id}").text
