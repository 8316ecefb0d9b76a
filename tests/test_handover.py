"""Handover: everything a leaver held moves in one step, or nothing does."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session, select

from registry.errors import (
    Forbidden,
    InvalidInput,
    InvalidTransition,
    NotFound,
    RuleViolation,
    Unauthenticated,
)
from registry.models import AccountRequest, ApiToken, Credential, Handover
from registry.services import accounts, credentials, handover, requests, tokens, websessions
from registry.services.actors import actor_by_email, actor_for
from tests.conftest import FreshDatabase, table_rows
from tests.factories import CAST, World
from vault import Keyring, Secret


def run(world: World, departing: str, successor: str, *, who: str = "admin", **kw: Any):  # type: ignore[no-untyped-def]
    return handover.handover(
        world.session,
        settings=world.settings,
        actor=world.actor(who),
        departing=world.email(departing),
        successor=world.email(successor),
        **kw,
    )


def holders(world: World, account_id: int) -> list[str]:
    return accounts.show_account(
        world.session, actor=world.actor("admin"), account_id=account_id
    ).holders


class TestHandover:
    def test_leaver_with_accounts_in_two_departments(self, world: World) -> None:
        agr = world.account("AgrNews", holders=("ced1", "agr_staff"))
        hlt = world.account(
            "HealthNews", department="HLT", holders=("ced2", "agr_staff", "hlt_requester")
        )
        report = run(world, "agr_staff", "agr_requester")
        assert report.id is not None and not report.dry_run
        assert [(r.account_id, r.department, r.successor_added) for r in report.accounts] == [
            (agr.id, "AGR", True),
            (hlt.id, "HLT", True),
        ]
        assert holders(world, agr.id or 0) == sorted(
            [world.email("ced1"), world.email("agr_requester")]
        )
        assert world.email("agr_staff") not in holders(world, hlt.id or 0)
        leaver = world.people["agr_staff"]
        world.session.refresh(leaver)
        assert leaver.status == "left" and leaver.left_at is not None
        with pytest.raises(Unauthenticated, match="has left government"):
            actor_for(world.session, world.settings, leaver)
        stored = world.session.get(Handover, report.id)
        assert stored is not None and stored.report["accounts"][0]["account_id"] == agr.id
        assert (
            handover.show_handover(
                world.session, actor=world.actor("auditor"), handover_id=report.id
            )
            == report
        )

    def test_per_account_successors_from_a_map(self, world: World) -> None:
        agr = world.account("AgrNews", holders=("ced1", "agr_staff"))
        hlt = world.account("HealthNews", department="HLT", holders=("ced2", "agr_staff"))
        report = run(
            world, "agr_staff", "agr_requester", mapping={hlt.id: world.email("hlt_requester")}
        )
        assert {r.account_id: r.successor for r in report.accounts} == {
            agr.id: world.email("agr_requester"),
            hlt.id: world.email("hlt_requester"),
        }
        with pytest.raises(InvalidInput, match="does not hold: 99999"):
            run(world, "ced1", "ced2", mapping={99999: world.email("ced2")})

    def test_only_ced_holder_leaving_is_refused_naming_every_account(self, world: World) -> None:
        first = world.account("One", holders=("ced1", "agr_staff"))
        second = world.account("Two", holders=("ced1", "agr_requester"))
        world.account("Three", holders=("ced1", "ced2", "agr_staff"))  # fine: ced2 stays
        before = table_rows(world.session)
        with pytest.raises(RuleViolation) as caught:
            run(world, "ced1", "agr_approver")
        assert "2 accounts would be left" in caught.value.message
        assert [p.split(":")[0] for p in caught.value.problems] == [
            f"account {first.id} (facebook @One)",
            f"account {second.id} (facebook @Two)",
        ]
        assert all("one holder from CED" in p for p in caught.value.problems)
        assert table_rows(world.session) == before

    def test_dry_run_reports_the_same_and_changes_nothing(self, world: World) -> None:
        world.account("AgrNews", holders=("ced1", "agr_staff"))
        before = table_rows(world.session)
        preview = run(world, "agr_staff", "agr_requester", dry_run=True)
        assert preview.dry_run and preview.id is None
        assert table_rows(world.session) == before
        real = run(world, "agr_staff", "agr_requester")
        assert preview.model_dump(exclude={"dry_run", "id", "at"}) == real.model_dump(
            exclude={"dry_run", "id", "at"}
        )

    def test_tokens_roles_and_open_requests(self, world: World) -> None:
        issued = tokens.create_token(world.session, actor=None, email=world.email("agr_approver"))
        _, web, _ = websessions.sign_in(world.session, settings=world.settings, token=issued.token)
        request = requests.submit_new_account(
            world.session,
            settings=world.settings,
            actor=world.actor("agr_approver"),
            platform="x",
            handle="mbag",
            url="https://x.com/mbag",
            category="official",
            department="AGR",
            purpose="News",
            login_email="agr.social@gov.mb.ca",
            holders=[],
        )
        report = run(world, "agr_approver", "agr_requester")
        assert report.tokens_revoked == 1 and report.roles_removed == ["dept_approver"]
        assert [(m.request_id, m.to) for m in report.requests_moved] == [
            (request.id, world.email("agr_requester"))
        ]
        row = world.session.get(AccountRequest, request.id)
        assert row is not None
        world.session.refresh(row)
        assert row.requester_id == world.people["agr_requester"].id
        live = world.session.exec(
            select(ApiToken).where(ApiToken.person_id == world.people["agr_approver"].id)
        ).all()
        assert live and all(t.revoked_at is not None for t in live)
        world.session.refresh(web)
        assert web.ended_at is not None  # their console session ended with the handover
        # the request now belongs to the successor, who may withdraw it
        requests.withdraw(
            world.session,
            settings=world.settings,
            actor=world.actor("agr_requester"),
            request_id=request.id or 0,
        )

    def test_rotation_due_marks_set_then_cleared_by_a_new_version(
        self, world: World, keyring: Keyring
    ) -> None:
        held = world.account("Held", holders=("ced1", "agr_staff", "ced2"))
        other = world.account("Other", holders=("ced2", "agr_requester"))
        untouched = world.account("Untouched", holders=("ced2", "agr_requester"))
        for account in (held, other, untouched):
            credentials.put(
                world.session,
                keyring=keyring,
                actor=world.actor("ced2"),
                account_id=account.id or 0,
                kind="password",
                value=Secret("pw"),
            )
        credentials.reveal(
            world.session,
            keyring=keyring,
            actor=world.actor("ced1"),
            account_id=other.id or 0,
            kind="password",
            reason="Posting",
        )
        report = run(world, "ced1", "ced2")
        assert [(d.account_id, d.why) for d in report.credentials_due] == [
            (held.id, "held by the leaver"),
            (other.id, "revealed by the leaver"),
        ]
        due = {c.account_id: c for c in world.session.exec(select(Credential)).all()}
        assert due[held.id].rotation_reason == "known to a holder who left"
        assert due[untouched.id].rotation_due_at is None
        credentials.put(
            world.session,
            keyring=keyring,
            actor=world.actor("ced2"),
            account_id=held.id or 0,
            kind="password",
            value=Secret("new"),
        )
        [status] = credentials.status(
            world.session, actor=world.actor("ced2"), account_id=held.id or 0
        )
        assert status.version == 2 and status.rotation_due_at is None

    def test_login_email_that_is_the_leavers_own_address_is_flagged(self, world: World) -> None:
        own = world.account(
            "OwnMail", holders=("ced1", "agr_staff"), login_email=world.email("agr_staff")
        )
        report = run(world, "agr_staff", "agr_requester")
        assert report.login_email_flags == [own.id]

    def test_refusals_before_anything_changes(self, world: World) -> None:
        with pytest.raises(Forbidden, match="may not run a handover"):
            run(world, "agr_staff", "agr_requester", who="agr_approver")
        with pytest.raises(InvalidInput, match="someone other than"):
            run(world, "agr_staff", "agr_staff")
        with pytest.raises(Forbidden, match="their own handover"):
            run(world, "admin", "ced1")
        run(world, "agr_staff", "agr_requester")
        with pytest.raises(InvalidTransition, match="already left"):
            run(world, "agr_staff", "agr_requester")
        with pytest.raises(RuleViolation, match=r"Successor sam\.staff@\S+ has left government"):
            run(world, "agr_requester", "agr_staff")

    def test_every_unknown_successor_is_named_at_once(self, world: World) -> None:
        agr = world.account("AgrNews", holders=("ced1", "agr_staff"))
        hlt = world.account("HealthNews", department="HLT", holders=("ced2", "agr_staff"))
        before = table_rows(world.session)
        with pytest.raises(NotFound) as caught:
            run(
                world,
                "agr_staff",
                "agr_requester",
                mapping={agr.id: "ghost@gov.mb.ca", hlt.id: "Spook@gov.mb.ca"},
            )
        assert caught.value.message == (
            "Successors ghost@gov.mb.ca, spook@gov.mb.ca are not registered people."
        )
        with pytest.raises(InvalidInput, match=r"Successor mb@gmail\.com is not on an approved"):
            run(world, "agr_staff", "agr_requester", mapping={agr.id: "mb@gmail.com"})
        assert table_rows(world.session) == before

    def test_a_failure_after_half_the_grants_rolls_everything_back(
        self, fresh_db: FreshDatabase
    ) -> None:
        """The leaver's grants are ended, then the process fails before successors get theirs:
        the edge rolls the whole transaction back."""
        settings = fresh_db.settings()
        with fresh_db.scope() as session:
            world = World.build(session, settings)
            world.account("AgrNews", holders=("ced1", "agr_staff"))
            world.account("AgrEvents", holders=("ced1", "agr_staff"))
        with Session(fresh_db.engine) as session:
            before = table_rows(session)
        reached: list[str] = []

        def boom(name: str) -> None:
            reached.append(name)
            if name == "handover.grants_ended":
                raise RuntimeError("power cut")

        with pytest.raises(RuntimeError), fresh_db.scope() as session:
            actor = actor_by_email(session, settings, CAST["admin"][0])
            handover.handover(
                session,
                settings=settings,
                actor=actor,
                departing=CAST["agr_staff"][0],
                successor=CAST["agr_requester"][0],
                on_step=boom,
            )
        assert reached == ["handover.planned", "handover.grants_ended"]
        with Session(fresh_db.engine) as session:
            assert table_rows(session) == before
