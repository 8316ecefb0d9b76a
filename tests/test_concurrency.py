"""Races with real connections: two revokes cannot both pass; a request is decided once."""

from __future__ import annotations

import threading
import time

import pytest
from sqlmodel import func, select

from registry.errors import InvalidTransition, RegistryError, RuleViolation
from registry.models import Account, AccountRequest, Person
from registry.services import access, accounts, handover, requests
from registry.services.actors import actor_by_email
from tests.conftest import FreshDatabase, postgres_only
from tests.factories import CAST, World


@pytest.fixture
def account_with_three_holders(fresh_db: FreshDatabase) -> int:
    settings = fresh_db.settings()
    with fresh_db.scope() as session:
        world = World.build(session, settings)
        account = world.account(holders=("ced1", "ced2", "agr_staff"))
        assert account.id is not None
        return account.id


def revoke_in_own_transaction(
    db: FreshDatabase,
    account_id: int,
    email: str,
    *,
    hold: float = 0.0,
    started: threading.Event | None = None,
) -> None:
    settings = db.settings()
    with db.scope() as session:
        actor = actor_by_email(session, settings, CAST["admin"][0])
        access.revoke(session, settings=settings, actor=actor, account_id=account_id, email=email)
        if started is not None:
            started.set()
        time.sleep(hold)  # keep the transaction open while the other one tries


class TestConcurrentRevokes:
    @postgres_only
    def test_two_concurrent_revokes_cannot_both_pass(
        self, fresh_db: FreshDatabase, account_with_three_holders: int
    ) -> None:
        """Revoking ced2 and agr_staff at once would leave one holder; one must be refused.

        The first transaction revokes and stays open; the second starts while it is open.
        Without the row lock the second would read three holders and pass too.
        """
        account_id = account_with_three_holders
        first_done = threading.Event()
        errors: list[BaseException] = []

        def first() -> None:
            try:
                revoke_in_own_transaction(
                    fresh_db, account_id, CAST["ced2"][0], hold=0.5, started=first_done
                )
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)
                first_done.set()

        thread = threading.Thread(target=first)
        thread.start()
        assert first_done.wait(10)
        with pytest.raises(RuleViolation, match="would have 1"):
            revoke_in_own_transaction(fresh_db, account_id, CAST["agr_staff"][0])
        thread.join(10)
        assert errors == []
        with fresh_db.scope() as session:
            actor = actor_by_email(session, fresh_db.settings(), CAST["admin"][0])
            shown = accounts.show_account(session, actor=actor, account_id=account_id)
        assert shown.holders == [CAST["ced1"][0], CAST["agr_staff"][0]]

    def test_many_racing_revokes_leave_rule_three_intact(
        self, fresh_db: FreshDatabase, account_with_three_holders: int
    ) -> None:
        """Every holder revoked at once from several threads: at most one revoke succeeds."""
        account_id = account_with_three_holders
        barrier = threading.Barrier(3)
        outcomes: list[str] = []

        def attempt(email: str) -> None:
            barrier.wait()
            try:
                revoke_in_own_transaction(fresh_db, account_id, email, hold=0.05)
                outcomes.append("ok")
            except RegistryError as exc:
                outcomes.append(type(exc).__name__)

        threads = [
            threading.Thread(target=attempt, args=(CAST[k][0],))
            for k in ("ced1", "ced2", "agr_staff")
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert outcomes.count("ok") == 1, outcomes
        assert sorted(outcomes) == ["RuleViolation", "RuleViolation", "ok"]
        with fresh_db.scope() as session:
            actor = actor_by_email(session, fresh_db.settings(), CAST["admin"][0])
            shown = accounts.show_account(session, actor=actor, account_id=account_id)
        assert len(shown.holders) == 2
        assert CAST["ced1"][0] in shown.holders or CAST["ced2"][0] in shown.holders


@pytest.fixture
def department_approved_request(fresh_db: FreshDatabase) -> int:
    settings = fresh_db.settings()
    with fresh_db.scope() as session:
        world = World.build(session, settings)
        request = requests.submit_new_account(
            session,
            settings=settings,
            actor=world.actor("ced_exec"),  # CED staff may name a CED holder up front
            platform="x",
            handle="mbag",
            url="https://x.com/mbag",
            category="official",
            department="AGR",
            purpose="News",
            login_email="agr.social@gov.mb.ca",
            holders=[world.email("ced1"), world.email("agr_staff")],
        )
        requests.approve(
            session,
            settings=settings,
            actor=world.actor("agr_approver"),
            request_id=request.id or 0,
        )
        assert request.id is not None
        return request.id


def approve_in_own_transaction(
    db: FreshDatabase,
    request_id: int,
    who: str,
    *,
    hold: float = 0.0,
    done: threading.Event | None = None,
) -> None:
    settings = db.settings()
    with db.scope() as session:
        actor = actor_by_email(session, settings, CAST[who][0])
        requests.approve(session, settings=settings, actor=actor, request_id=request_id)
        if done is not None:
            done.set()
        time.sleep(hold)


class TestConcurrentDecisions:
    @postgres_only
    def test_two_approvers_at_once_exactly_one_decides(
        self, fresh_db: FreshDatabase, department_approved_request: int
    ) -> None:
        request_id = department_approved_request
        first_done = threading.Event()
        errors: list[BaseException] = []

        def first() -> None:
            try:
                approve_in_own_transaction(fresh_db, request_id, "ced1", hold=0.5, done=first_done)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)
                first_done.set()

        thread = threading.Thread(target=first)
        thread.start()
        assert first_done.wait(10)
        with pytest.raises(InvalidTransition, match="already approved"):
            approve_in_own_transaction(fresh_db, request_id, "ced2")
        thread.join(10)
        assert errors == []
        with fresh_db.scope() as session:
            assert session.exec(select(func.count()).select_from(Account)).one() == 1
            request = session.get(AccountRequest, request_id)
            assert request is not None and request.decided_by_id is not None
            decider = session.get(Person, request.decided_by_id)
            assert decider is not None and decider.email == CAST["ced1"][0]

    def test_racing_approvers_create_one_account(
        self, fresh_db: FreshDatabase, department_approved_request: int
    ) -> None:
        barrier = threading.Barrier(3)
        outcomes: list[str] = []

        def attempt(who: str) -> None:
            barrier.wait()
            try:
                approve_in_own_transaction(fresh_db, department_approved_request, who, hold=0.05)
                outcomes.append("ok")
            except RegistryError as exc:
                outcomes.append(type(exc).__name__)

        threads = [threading.Thread(target=attempt, args=(w,)) for w in ("ced1", "ced2", "admin")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sorted(outcomes) == ["InvalidTransition", "InvalidTransition", "ok"]
        with fresh_db.scope() as session:
            assert session.exec(select(func.count()).select_from(Account)).one() == 1


class TestHandoverAgainstRevoke:
    """ced1 leaves (successor not CED) while someone revokes ced2: one of them must lose."""

    @pytest.fixture
    def shared_account(self, fresh_db: FreshDatabase) -> int:
        with fresh_db.scope() as session:
            world = World.build(session, fresh_db.settings())
            return world.account(holders=("ced1", "ced2", "agr_staff")).id or 0

    def _handover(
        self, db: FreshDatabase, *, hold: float = 0.0, done: threading.Event | None = None
    ) -> None:
        settings = db.settings()
        with db.scope() as session:
            actor = actor_by_email(session, settings, CAST["admin"][0])
            handover.handover(
                session,
                settings=settings,
                actor=actor,
                departing=CAST["ced1"][0],
                successor=CAST["agr_requester"][0],
            )
            if done is not None:
                done.set()
            time.sleep(hold)

    def _final_holders(self, db: FreshDatabase, account_id: int) -> list[str]:
        with db.scope() as session:
            actor = actor_by_email(session, db.settings(), CAST["admin"][0])
            return accounts.show_account(session, actor=actor, account_id=account_id).holders

    @postgres_only
    def test_handover_first_then_revoke_is_refused(
        self, fresh_db: FreshDatabase, shared_account: int
    ) -> None:
        done = threading.Event()
        thread = threading.Thread(
            target=self._handover, args=(fresh_db,), kwargs={"hold": 0.5, "done": done}
        )
        thread.start()
        assert done.wait(10)
        with pytest.raises(RuleViolation, match="one from CED"):
            revoke_in_own_transaction(fresh_db, shared_account, CAST["ced2"][0])
        thread.join(10)
        assert CAST["ced2"][0] in self._final_holders(fresh_db, shared_account)

    @postgres_only
    def test_revoke_first_then_handover_is_refused(
        self, fresh_db: FreshDatabase, shared_account: int
    ) -> None:
        done = threading.Event()
        thread = threading.Thread(
            target=revoke_in_own_transaction,
            args=(fresh_db, shared_account, CAST["ced2"][0]),
            kwargs={"hold": 0.5, "started": done},
        )
        thread.start()
        assert done.wait(10)
        with pytest.raises(RuleViolation, match="refused, nothing changed"):
            self._handover(fresh_db)
        thread.join(10)
        holders = self._final_holders(fresh_db, shared_account)
        assert CAST["ced1"][0] in holders and CAST["ced2"][0] not in holders
