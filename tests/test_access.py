"""Granting and revoking access under rule 3: two people, one from CED, always."""

from __future__ import annotations

import pytest
from sqlmodel import select

from registry.errors import Conflict, Forbidden, InvalidTransition, NotFound, RuleViolation
from registry.models import AccessGrant, AccessGrantPublic, AuditEvent, PersonStatus
from registry.services import access, accounts
from tests.factories import World


def holders(world: World, account_id: int) -> list[str]:
    return accounts.show_account(
        world.session, actor=world.actor("admin"), account_id=account_id
    ).holders


def change(world: World, what: str, who: str, account_id: int, email: str) -> AccessGrantPublic:
    """Grant or revoke ``email``'s access to an account, acting as ``who``."""
    operation = access.grant if what == "grant" else access.revoke
    return operation(
        world.session,
        settings=world.settings,
        actor=world.actor(who),
        account_id=account_id,
        email=email,
    )


class TestRevoke:
    def test_revoke_leaving_two_with_ced(self, world: World) -> None:
        account = world.account(holders=("ced1", "ced2", "agr_staff"))
        change(world, "revoke", "ced1", account.id or 0, world.email("ced2"))
        assert holders(world, account.id or 0) == ["ced.one@gov.mb.ca", "sam.staff@agr.gov.mb.ca"]
        event = world.session.exec(
            select(AuditEvent).where(AuditEvent.action == "access.revoked")
        ).one()
        assert event.details["holder"] == "ced.two@gov.mb.ca"
        assert event.entity_id == str(account.id)

    def test_revoke_below_two_is_refused_naming_the_account(self, world: World) -> None:
        account = world.account("MBAg", holders=("ced1", "agr_staff"))
        with pytest.raises(RuleViolation) as caught:
            change(world, "revoke", "admin", account.id or 0, world.email("agr_staff"))
        assert f"account {account.id} (facebook @MBAg)" in caught.value.message
        assert "would have 1" in caught.value.message
        assert len(holders(world, account.id or 0)) == 2

    def test_revoking_the_last_ced_holder_is_refused(self, world: World) -> None:
        account = world.account(holders=("ced1", "agr_staff", "agr_requester"))
        with pytest.raises(RuleViolation, match="one from CED"):
            change(world, "revoke", "admin", account.id or 0, world.email("ced1"))
        assert world.email("ced1") in holders(world, account.id or 0)

    def test_revoke_someone_who_holds_nothing(self, world: World) -> None:
        account = world.account()
        with pytest.raises(NotFound, match="does not hold"):
            change(world, "revoke", "admin", account.id or 0, world.email("ced2"))

    def test_requesters_may_not_revoke(self, world: World) -> None:
        account = world.account(holders=("ced1", "ced2", "agr_staff"))
        with pytest.raises(Forbidden):
            change(world, "revoke", "agr_approver", account.id or 0, world.email("ced2"))


class TestGrant:
    def test_grant_adds_a_holder_and_audits(self, world: World) -> None:
        account = world.account()
        public = change(world, "grant", "ced2", account.id or 0, "RITA.requester@gov.mb.ca")
        assert public.account_id == account.id and public.revoked_at is None
        assert public.holder == "rita.requester@gov.mb.ca"
        assert public.granted_by == "ced.two@gov.mb.ca"
        assert world.email("agr_requester") in holders(world, account.id or 0)

    def test_grant_twice_is_a_conflict(self, world: World) -> None:
        account = world.account()
        with pytest.raises(Conflict, match="already holds"):
            change(world, "grant", "admin", account.id or 0, world.email("ced1"))

    def test_leaver_cannot_be_granted(self, world: World) -> None:
        account = world.account()
        leaver = world.people["agr_requester"]
        leaver.status = PersonStatus.left.value
        world.session.add(leaver)
        world.session.flush()
        with pytest.raises(RuleViolation, match="has left government"):
            change(world, "grant", "admin", account.id or 0, leaver.email)

    def test_decommissioned_account_takes_no_holders(self, world: World) -> None:
        account = world.account()
        account.status = "decommissioned"
        world.session.add(account)
        world.session.flush()
        with pytest.raises(InvalidTransition, match="decommissioned"):
            change(world, "grant", "admin", account.id or 0, world.email("ced2"))

    def test_unknown_account_and_person(self, world: World) -> None:
        with pytest.raises(NotFound, match="No account with id 424242"):
            change(world, "grant", "admin", 424242, world.email("ced2"))
        account = world.account()
        with pytest.raises(NotFound, match="not a registered person"):
            change(world, "grant", "admin", account.id or 0, "nobody@gov.mb.ca")

    def test_grant_then_revoke_keeps_history(self, world: World) -> None:
        account = world.account()
        for what in ("grant", "revoke", "grant"):
            change(world, what, "admin", account.id or 0, world.email("ced2"))
        rows = world.session.exec(
            select(AccessGrant).where(
                AccessGrant.account_id == account.id,
                AccessGrant.person_id == world.people["ced2"].id,
            )
        ).all()
        assert len(rows) == 2 and sum(r.revoked_at is None for r in rows) == 1
