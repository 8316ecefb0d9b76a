"""Editing an account's public details: what the audit log keeps, the refusals at approval and
for decommissioned accounts, and the CLI and API ways to change them (test_platform_ids.py
covers the id rules, requests, the import and the console)."""

from __future__ import annotations

import pytest
from sqlmodel import col, select

from registry.errors import Conflict
from registry.models import AuditEvent, utcnow
from registry.services import account_details, requests
from tests.conftest import Api, Cli, FreshDatabase
from tests.factories import World

PAGE_ID = "100064512345678"


def _updates(world: World) -> list[AuditEvent]:
    return list(
        world.session.exec(
            select(AuditEvent)
            .where(AuditEvent.action == "account.updated")
            .order_by(col(AuditEvent.seq))
        )
    )


def test_the_audit_event_keeps_each_change_and_the_other_side_of_a_twin(world: World) -> None:
    english = world.account("MBGov")
    french = world.account("MBGouv", login_email="gouv@gov.mb.ca")
    other = world.account("MBGouv2", login_email="gouv2@gov.mb.ca")
    ced = world.actor("ced1")
    for account in (french, other):
        account_details.update(world.session, actor=ced, account_id=account.id or 0, language="fr")
    account_details.update(
        world.session,
        actor=ced,
        account_id=english.id or 0,
        platform_id=f" {PAGE_ID} ",
        twin_id=french.id,
    )
    last = _updates(world)[-1]
    assert last.entity_id == str(english.id)
    assert last.details["platform_id"] == {"before": None, "after": PAGE_ID}
    assert last.details["twin_id"] == {"before": None, "after": french.id}
    assert last.details["other_accounts"] == {
        str(french.id): {"twin_id": {"before": None, "after": english.id}}
    }
    # Relinking to another French account unlinks the first one, and says so.
    account_details.update(world.session, actor=ced, account_id=english.id or 0, twin_id=other.id)
    assert _updates(world)[-1].details["other_accounts"] == {
        str(french.id): {"twin_id": {"before": english.id, "after": None}},
        str(other.id): {"twin_id": {"before": None, "after": english.id}},
    }
    # Nothing changed: nothing audited.
    count = len(_updates(world))
    account_details.update(
        world.session, actor=ced, account_id=english.id or 0, platform_id=PAGE_ID, language="en"
    )
    assert len(_updates(world)) == count


def test_decommissioned_accounts_keep_their_details_and_free_their_id(world: World) -> None:
    ced = world.actor("ced1")
    gone = world.account("MBGov")
    live = world.account("MBGov2", login_email="other@gov.mb.ca")
    account_details.update(world.session, actor=ced, account_id=gone.id or 0, platform_id=PAGE_ID)
    with pytest.raises(Conflict, match=f"Facebook id {PAGE_ID} is already registered as"):
        account_details.update(
            world.session, actor=ced, account_id=live.id or 0, platform_id=PAGE_ID
        )
    gone.status, gone.decommissioned_at = "decommissioned", utcnow()
    world.session.add(gone)
    world.session.flush()
    with pytest.raises(Conflict, match="is decommissioned; its details stay"):
        account_details.update(world.session, actor=ced, account_id=gone.id or 0, language="fr")
    account_details.update(world.session, actor=ced, account_id=live.id or 0, language="fr")
    with pytest.raises(Conflict, match="it cannot be a twin"):
        account_details.update(world.session, actor=ced, account_id=live.id or 0, twin_id=gone.id)
    account_details.update(world.session, actor=ced, account_id=live.id or 0, platform_id=PAGE_ID)
    assert live.platform_id == PAGE_ID


def test_a_twin_in_the_same_language_is_refused_before_anything_changes(world: World) -> None:
    ced = world.actor("ced1")
    english = world.account("MBGov")
    other = world.account("MBGov2", login_email="other@gov.mb.ca")
    with pytest.raises(Conflict) as refused:
        account_details.update(
            world.session, actor=ced, account_id=english.id or 0, twin_id=other.id
        )
    assert refused.value.message == (
        "Twins are one English (en) and one French (fr) account, and account "
        f"{english.id} (facebook @MBGov) is en while account {other.id} (facebook @MBGov2) is en."
    )
    assert (english.twin_id, other.twin_id) == (None, None) and _updates(world) == []


def test_an_id_taken_between_the_check_and_the_write_gets_the_checks_sentence(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    ced = world.actor("ced1")
    holder = world.account("MBGov")
    late = world.account("MBGov2", login_email="other@gov.mb.ca")
    account_details.update(world.session, actor=ced, account_id=holder.id or 0, platform_id=PAGE_ID)
    check = account_details.require_free_platform_id
    calls: list[str | None] = []

    def blind_first(*args: object, **kwargs: object) -> None:
        # The first check runs before the other account took the id (a concurrent change).
        calls.append(str(args[2]))
        if len(calls) > 1:
            check(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(account_details, "require_free_platform_id", blind_first)
    with pytest.raises(Conflict, match=f"Facebook id {PAGE_ID} is already registered as account"):
        account_details.update(
            world.session, actor=ced, account_id=late.id or 0, platform_id=PAGE_ID, language="fr"
        )
    assert calls == [PAGE_ID, PAGE_ID]
    world.session.refresh(late)
    assert late.platform_id is None


def test_approval_refuses_an_id_a_live_account_took_meanwhile(world: World) -> None:
    submitted = requests.submit_new_account(
        world.session,
        settings=world.settings,
        actor=world.actor("agr_requester"),
        platform="facebook",
        handle="MBFlood",
        url="https://www.facebook.com/MBFlood",
        category="official",
        department="AGR",
        purpose="Floods",
        login_email="agr.social@gov.mb.ca",
        holders=[world.email("agr_staff")],
        platform_id=PAGE_ID,
    )
    # Written past the service (as a concurrent import would): the request is still open.
    taken = world.account("MBGov")
    taken.platform_id = PAGE_ID
    world.session.add(taken)
    world.session.flush()
    requests.approve(
        world.session,
        settings=world.settings,
        actor=world.actor("agr_approver"),
        request_id=submitted.id,
    )
    with pytest.raises(Conflict, match=f"Facebook id {PAGE_ID} is already registered as"):
        requests.approve(
            world.session,
            settings=world.settings,
            actor=world.actor("ced1"),
            request_id=submitted.id,
            holders=[world.email("ced1")],
        )


def test_patch_clears_a_twin_on_both_sides_and_refuses_bad_input(api: Api) -> None:
    with api.db.scope() as session:
        world = World.load(session, api.db.settings())
        english = world.account("MBGov").id
        french = world.account("MBGouv", login_email="gouv@gov.mb.ca").id
    ced = api.headers("ced1")
    assert api.client.patch(f"/accounts/{french}", json={"language": "fr"}, headers=ced).is_success
    linked = api.client.patch(f"/accounts/{english}", json={"twin_id": french}, headers=ced)
    assert linked.status_code == 200 and linked.json()["twin_id"] == french
    shown = api.client.get(f"/accounts/{french}", headers=ced).json()
    assert (shown["twin_id"], shown["language"]) == (english, "fr")
    unlinked = api.client.patch(f"/accounts/{french}", json={"twin_id": None}, headers=ced)
    assert unlinked.status_code == 200 and unlinked.json()["twin_id"] is None
    assert api.client.get(f"/accounts/{english}", headers=ced).json()["twin_id"] is None
    bad = api.client.patch(f"/accounts/{english}", json={"language": "latin"}, headers=ced)
    assert bad.status_code == 422 and "language" in bad.json()["detail"].lower()
    missing = api.client.patch("/accounts/999999", json={"language": "fr"}, headers=ced)
    assert missing.status_code == 404
    bad_id = api.client.patch(
        f"/accounts/{english}", json={"platform_id": "not an id"}, headers=ced
    )
    assert bad_id.status_code == 422 and "Facebook page id" in bad_id.json()["detail"]


def test_the_cli_updates_shows_and_clears(fresh_db: FreshDatabase) -> None:
    with fresh_db.scope() as session:
        world = World.build(session, fresh_db.settings())
        english = str(world.account("MBGov").id)
        french = str(world.account("MBGouv", login_email="gouv@gov.mb.ca").id)
        ced = world.email("ced1")
        requester = world.email("agr_requester")
    cli = Cli(fresh_db.env())
    done = cli.ok("accounts", "update", french, "--language", "fr", "--as", ced)
    assert f"Updated account {french}." in done.stdout
    updated = cli.json(
        "accounts",
        "update",
        english,
        "--platform-id",
        PAGE_ID,
        "--twin",
        french,
        "--display-name",
        "Manitoba",
        "--as",
        ced,
    )
    assert (updated["platform_id"], updated["twin_id"], updated["display_name"]) == (
        PAGE_ID,
        int(french),
        "Manitoba",
    )
    shown = cli.json("accounts", "show", french, "--as", ced)
    assert (shown["language"], shown["twin_id"]) == ("fr", int(english))
    listed = {a["id"]: a for a in cli.json("accounts", "list", "--as", ced)}
    assert listed[int(english)]["platform_id"] == PAGE_ID
    assert "not both" in cli.refused(
        "accounts", "update", english, "--twin", french, "--no-twin", "--as", ced
    )
    assert "unlink the twin first" in cli.refused(
        "accounts", "update", english, "--language", "fr", "--as", ced
    )
    assert cli.refused("accounts", "update", english, "--language", "fr", "--as", requester)
    cleared = cli.json(
        "accounts", "update", english, "--clear-platform-id", "--no-twin", "--as", ced
    )
    assert (cleared["platform_id"], cleared["twin_id"]) == (None, None)
    assert cli.json("accounts", "show", french, "--as", ced)["twin_id"] is None
