"""The approval workflow: every transition for every role, and the rules at final approval."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlmodel import select

from registry.config import Settings
from registry.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    InvalidTransition,
    NotFound,
    RegistryError,
    RuleViolation,
)
from registry.models import (
    AccessGrant,
    Account,
    AccountRequest,
    AuditEvent,
    RequestPublic,
    RequestState,
)
from registry.services import accounts, handover, requests
from tests.factories import World


def submit(
    world: World,
    who: str = "agr_requester",
    *,
    handle: str = "MBAgNews",
    department: str = "AGR",
    holders: tuple[str, ...] = ("agr_staff",),
    holder_emails: list[str] | None = None,
    category: str = "official",
    login_email: str = "agr.social@gov.mb.ca",
    url: str | None = None,
) -> AccountRequest:
    """Submit a new-account request; the stored row, which the tests watch change."""
    submitted = requests.submit_new_account(
        world.session,
        settings=world.settings,
        actor=world.actor(who),
        platform="facebook",
        handle=handle,
        url=url or f"https://facebook.com/{handle}",
        category=category,
        department=department,
        purpose="News for farmers",
        login_email=login_email,
        holders=holder_emails if holder_emails is not None else [world.email(h) for h in holders],
    )
    row = world.session.get(AccountRequest, submitted.id)
    assert row is not None
    return row


def approve(world: World, who: str, request_id: int, **kw: object) -> RequestPublic:
    return requests.approve(
        world.session,
        settings=world.settings,
        actor=world.actor(who),
        request_id=request_id,
        **kw,  # type: ignore[arg-type]
    )


def approve_as_ced(world: World, who: str, request_id: int) -> RequestPublic:
    """The final approval of an AGR request, adding ced1 as its CED holder (a requester
    outside CED names holders of their own department only)."""
    return approve(world, who, request_id, holders=[world.email("ced1")])


def request_in(world: World, state: RequestState) -> AccountRequest:
    """A request by agr_requester brought to ``state`` the normal way."""
    request = submit(world)
    rid = request.id or 0
    if state in (RequestState.department_approved, RequestState.approved):
        approve(world, "agr_approver", rid)
    if state == RequestState.approved:
        approve_as_ced(world, "ced1", rid)
    if state == RequestState.rejected:
        requests.reject(
            world.session,
            settings=world.settings,
            actor=world.actor("agr_approver"),
            request_id=rid,
            reason="No plan",
        )
    if state == RequestState.withdrawn:
        requests.withdraw(
            world.session,
            settings=world.settings,
            actor=world.actor("agr_requester"),
            request_id=rid,
        )
    world.session.refresh(request)
    assert request.state == state
    return request


ACTIONS: dict[str, Callable[[World, str, int], object]] = {
    # at the CED stage the approver adds the CED holder; at other states it is never reached
    "approve": lambda w, who, rid: (
        approve_as_ced(w, who, rid)
        if requests.show_request(w.session, actor=w.actor("auditor"), request_id=rid).state
        == RequestState.department_approved
        else approve(w, who, rid)
    ),
    "reject": lambda w, who, rid: requests.reject(
        w.session, settings=w.settings, actor=w.actor(who), request_id=rid, reason="Not needed"
    ),
    "withdraw": lambda w, who, rid: requests.withdraw(
        w.session, settings=w.settings, actor=w.actor(who), request_id=rid
    ),
}

S, D = RequestState.submitted, RequestState.department_approved
OK = "ok"
# (state, action, actor) -> expected outcome; every role in every open state, and the
# decided states for everyone who could otherwise act.
TRANSITIONS: list[tuple[RequestState, str, str, object]] = [
    # submitted: only a dept_approver of AGR approves or rejects; only the requester withdraws
    (S, "approve", "agr_approver", OK),
    (S, "approve", "agr_requester", Forbidden),
    (S, "approve", "agr_staff", Forbidden),
    (S, "approve", "hlt_approver", NotFound),
    (S, "approve", "ced1", Forbidden),
    (S, "approve", "ced_exec", Forbidden),
    (S, "approve", "admin", Forbidden),
    (S, "approve", "fin_admin", Forbidden),
    (S, "approve", "auditor", Forbidden),
    (S, "approve", "hlt_requester", NotFound),
    (S, "reject", "agr_approver", OK),
    (S, "reject", "hlt_approver", NotFound),
    (S, "reject", "ced1", Forbidden),
    (S, "reject", "agr_requester", Forbidden),
    (S, "reject", "auditor", Forbidden),
    (S, "withdraw", "agr_requester", OK),
    (S, "withdraw", "agr_approver", Forbidden),
    (S, "withdraw", "ced1", Forbidden),
    (S, "withdraw", "admin", Forbidden),
    # department_approved: only CED staff (ced role) decide; the requester may still withdraw
    (D, "approve", "ced1", OK),
    (D, "approve", "ced_exec", OK),
    (D, "approve", "admin", OK),
    (D, "approve", "agr_approver", Forbidden),
    (D, "approve", "agr_requester", Forbidden),
    (D, "approve", "fin_admin", Forbidden),
    (D, "approve", "auditor", Forbidden),
    (D, "reject", "ced2", OK),
    (D, "reject", "agr_approver", Forbidden),
    (D, "reject", "auditor", Forbidden),
    (D, "withdraw", "agr_requester", OK),
    (D, "withdraw", "ced1", Forbidden),
]
for decided in (RequestState.approved, RequestState.rejected, RequestState.withdrawn):
    for action, who in [
        ("approve", "ced1"),
        ("approve", "agr_approver"),
        ("reject", "ced1"),
        ("reject", "agr_approver"),
        ("withdraw", "agr_requester"),
    ]:
        TRANSITIONS.append((decided, action, who, InvalidTransition))

NEXT_STATE = {
    (S, "approve"): RequestState.department_approved,
    (D, "approve"): RequestState.approved,
    (S, "reject"): RequestState.rejected,
    (D, "reject"): RequestState.rejected,
    (S, "withdraw"): RequestState.withdrawn,
    (D, "withdraw"): RequestState.withdrawn,
}


class TestTransitionTable:
    @pytest.mark.parametrize(
        ("state", "action", "who", "expected"),
        TRANSITIONS,
        ids=[f"{s.value}-{a}-{w}" for s, a, w, _ in TRANSITIONS],
    )
    def test_transition(
        self, world: World, state: RequestState, action: str, who: str, expected: object
    ) -> None:
        request = request_in(world, state)
        events_before = len(world.session.exec(select(AuditEvent)).all())
        if expected == OK:
            ACTIONS[action](world, who, request.id or 0)
            world.session.refresh(request)
            assert request.state == NEXT_STATE[(state, action)]
            assert len(world.session.exec(select(AuditEvent)).all()) > events_before
        else:
            assert isinstance(expected, type) and issubclass(expected, RegistryError)
            with pytest.raises(expected):
                ACTIONS[action](world, who, request.id or 0)
            world.session.refresh(request)
            assert request.state == state
            assert len(world.session.exec(select(AuditEvent)).all()) == events_before


class TestApprovals:
    def test_full_flow_records_who_when_and_comments(self, world: World) -> None:
        request = submit(world)
        approve(world, "agr_approver", request.id or 0, comment="Fits our plan")
        approve(world, "ced1", request.id or 0, comment="Welcome", holders=[world.email("ced1")])
        shown = requests.show_request(
            world.session, actor=world.actor("auditor"), request_id=request.id or 0
        )
        assert shown.state == "approved"
        assert shown.department_decision is not None and shown.final_decision is not None
        assert shown.department_decision.who == world.email("agr_approver")
        assert shown.department_decision.comment == "Fits our plan"
        assert shown.final_decision.who == world.email("ced1")
        account = accounts.show_account(
            world.session, actor=world.actor("auditor"), account_id=shown.account_id or 0
        )
        assert account.status == "active"
        assert account.holders == sorted([world.email("agr_staff"), world.email("ced1")])
        actions = [
            e.action
            for e in world.session.exec(select(AuditEvent).order_by(AuditEvent.seq)).all()  # type: ignore[arg-type]
            if e.entity_type in ("request", "account")
        ]
        assert actions[-4:] == [
            "request.submitted",
            "request.department_approved",
            "account.created",
            "request.approved",
        ]

    def test_self_approval_is_refused(self, world: World) -> None:
        request = submit(world, "agr_approver")
        with pytest.raises(Forbidden, match="may not approve their own request"):
            approve(world, "agr_approver", request.id or 0)

    def test_the_same_person_cannot_give_both_approvals(self, world: World) -> None:
        request = submit(world, "ced1", department="CED", holders=("ced2", "ced1"))
        approve(world, "ced_exec", request.id or 0)
        with pytest.raises(Forbidden, match="must come from a different person"):
            approve(world, "ced_exec", request.id or 0)
        approve(world, "ced2", request.id or 0)

    def test_another_departments_executive_cannot_approve(self, world: World) -> None:
        request = submit(world)
        with pytest.raises(NotFound, match=f"No request with id {request.id}"):
            approve(world, "hlt_approver", request.id or 0)
        with pytest.raises(Forbidden, match="dept_approver of the request's department"):
            approve(world, "agr_staff", request.id or 0)

    def test_final_approval_refused_without_a_ced_holder_then_ced_adds_one(
        self, world: World
    ) -> None:
        request = submit(world, holders=("agr_staff", "agr_approver"))
        approve(world, "agr_approver", request.id or 0)
        with pytest.raises(RuleViolation, match="one from CED") as caught:
            approve(world, "ced1", request.id or 0)
        assert f"request {request.id}" in caught.value.message
        world.session.refresh(request)
        assert request.state == RequestState.department_approved
        assert world.session.exec(select(Account)).all() == []
        approve(world, "ced1", request.id or 0, holders=[world.email("ced2")])
        world.session.refresh(request)
        account = accounts.show_account(
            world.session, actor=world.actor("ced1"), account_id=request.account_id or 0
        )
        assert world.email("ced2") in account.holders and len(account.holders) == 3

    def test_final_approval_refused_with_one_holder(self, world: World) -> None:
        request = submit(world, holders=("agr_staff",))
        approve(world, "agr_approver", request.id or 0)
        with pytest.raises(RuleViolation, match="at least 2 active holders and would have 1"):
            approve(world, "ced2", request.id or 0)

    def test_a_proposed_holder_who_left_is_dropped_at_final_approval(self, world: World) -> None:
        leaver = world.email("agr_staff")
        request = submit(world, "ced2", holders=("agr_staff", "ced1"))  # CED names anyone
        approve(world, "agr_approver", request.id or 0)
        handover.handover(
            world.session,
            settings=world.settings,
            actor=world.actor("admin"),
            departing=leaver,
            successor=world.email("agr_requester"),
        )
        with pytest.raises(RuleViolation) as caught:
            approve(world, "ced1", request.id or 0)
        assert f"{leaver} left government and cannot hold it" in caught.value.message
        assert "would have 1" in caught.value.message
        approve(world, "ced1", request.id or 0, holders=[world.email("ced2")])
        world.session.refresh(request)
        assert request.state == RequestState.approved
        account = accounts.show_account(
            world.session, actor=world.actor("ced1"), account_id=request.account_id or 0
        )
        assert account.holders == sorted([world.email("ced1"), world.email("ced2")])
        shown = requests.show_request(
            world.session, actor=world.actor("ced1"), request_id=request.id or 0
        )
        assert shown.holders == account.holders
        event = world.session.exec(
            select(AuditEvent).where(AuditEvent.action == "request.approved")
        ).one()
        assert event.details["dropped_holders"] == [leaver]
        assert event.details["added_holders"] == [world.email("ced2")]

    def test_proposed_holders_are_checked_against_the_domains_again(self, world: World) -> None:
        request = submit(
            world, "ced_exec", holders=("agr_staff", "ced1"), login_email="mbag@agr.gov.mb.ca"
        )
        approve(world, "agr_approver", request.id or 0)
        narrower = Settings(**{**world.settings.model_dump(), "gov_domains": "agr.gov.mb.ca"})
        with pytest.raises(
            InvalidInput, match=r"Holder ced\.one@gov\.mb\.ca is not on an approved"
        ):
            requests.approve(
                world.session,
                settings=narrower,
                actor=world.actor("ced2"),
                request_id=request.id or 0,
            )
        world.session.refresh(request)
        assert request.state == RequestState.department_approved

    def test_department_stage_takes_no_holders(self, world: World) -> None:
        request = submit(world)
        with pytest.raises(InvalidInput, match="only be added by CED"):
            approve(world, "agr_approver", request.id or 0, holders=[world.email("ced2")])

    def test_blank_reasons_are_refused(self, world: World) -> None:
        request = submit(world)
        for reason in ("", "   ", "\n"):
            with pytest.raises(InvalidInput, match="Reason must not be blank"):
                requests.reject(
                    world.session,
                    settings=world.settings,
                    actor=world.actor("agr_approver"),
                    request_id=request.id or 0,
                    reason=reason,
                )
        account = world.account("Other")
        with pytest.raises(InvalidInput, match="Reason must not be blank"):
            requests.submit_decommission(
                world.session,
                settings=world.settings,
                actor=world.actor("agr_requester"),
                account_id=account.id or 0,
                reason=" ",
            )


class TestApprovalOutcome:
    def test_one_sentence_per_stage(self, world: World) -> None:
        request = submit(world)
        rid = request.id or 0
        first = approve(world, "agr_approver", rid)
        assert requests.approval_outcome(first) == (
            f"Request {rid} approved by the department; it now awaits CED."
        )
        final = approve_as_ced(world, "ced1", rid)
        assert requests.approval_outcome(final) == (
            f"Request {rid} approved; account {final.account_id} is active."
        )
        row = world.session.get(AccountRequest, rid)
        assert row is not None
        assert requests.approval_outcome(row) == requests.approval_outcome(final)


class TestSubmitting:
    def test_duplicate_of_an_active_account_names_it(self, world: World) -> None:
        account = world.account("MBAgNews")
        with pytest.raises(Conflict, match=f"already registered as account {account.id}"):
            submit(world, handle="@mbagnews")

    def test_duplicate_of_an_open_request_names_it(self, world: World) -> None:
        first = submit(world)
        with pytest.raises(Conflict, match=f"already requested in request {first.id}"):
            submit(world, "agr_staff", handle="MBAGNEWS")

    def test_a_rejected_request_frees_the_handle(self, world: World) -> None:
        request_in(world, RequestState.rejected)
        assert submit(world).state == RequestState.submitted

    def test_requesters_submit_for_their_own_department_only(self, world: World) -> None:
        with pytest.raises(Forbidden, match="only submit requests for their own department"):
            submit(world, "agr_requester", department="HLT")
        assert submit(world, "ced1", department="HLT", handle="HealthMB").department_id

    @pytest.mark.parametrize(
        ("change", "error", "message"),
        [
            ({"category": "personal"}, InvalidInput, "personal"),
            ({"login_email": "mbag@gmail.com"}, InvalidInput, "approved government domain"),
            ({"holder_emails": ["ghost@gov.mb.ca"]}, NotFound, r"ghost@gov\.mb\.ca"),
            ({"url": "javascript:alert(1)"}, InvalidInput, "http\\(s\\) address"),
            (
                {"url": "https://evil.example/login"},
                InvalidInput,
                "'https://evil.example/login' is not a profile on a platform the registry knows",
            ),
            (
                {"url": "https://facebook.com/SomeoneElse"},
                InvalidInput,
                "points to Facebook @SomeoneElse, not to the handle given, Facebook @MBAgNews",
            ),
            (
                {"url": "https://x.com/MBAgNews"},
                InvalidInput,
                "points to X \\(Twitter\\) @MBAgNews, not to the handle given",
            ),
        ],
    )
    def test_bad_submissions_are_refused(
        self, world: World, change: dict[str, object], error: type[Exception], message: str
    ) -> None:
        with pytest.raises(error, match=message):
            submit(world, **change)  # type: ignore[arg-type]
        assert requests.list_requests(world.session, actor=world.actor("admin")) == []


class TestDecommission:
    def test_decommission_flow_ends_access_and_frees_the_handle(self, world: World) -> None:
        account = world.account("MBAgNews", holders=("ced1", "agr_staff", "ced2"))
        request = requests.submit_decommission(
            world.session,
            settings=world.settings,
            actor=world.actor("agr_requester"),
            account_id=account.id or 0,
            reason="Program ended",
        )
        with pytest.raises(Conflict, match=f"already requested in request {request.id}"):
            requests.submit_decommission(
                world.session,
                settings=world.settings,
                actor=world.actor("agr_staff"),
                account_id=account.id or 0,
                reason="Again",
            )
        approve(world, "agr_approver", request.id or 0)
        approve(world, "ced1", request.id or 0)
        world.session.refresh(account)
        assert account.status == "decommissioned" and account.decommissioned_at is not None
        grants = world.session.exec(
            select(AccessGrant).where(AccessGrant.account_id == account.id)
        ).all()
        assert len(grants) == 3 and all(g.revoked_at is not None for g in grants)
        assert submit(world, handle="mbagnews").state == RequestState.submitted

    def test_other_departments_account_is_not_found(self, world: World) -> None:
        account = world.account("HealthMB", department="HLT", holders=("ced1", "hlt_requester"))
        with pytest.raises(NotFound):
            requests.submit_decommission(
                world.session,
                settings=world.settings,
                actor=world.actor("agr_requester"),
                account_id=account.id or 0,
                reason="x",
            )


class TestReading:
    def test_requesters_see_their_department_and_awaiting_me(self, world: World) -> None:
        agr = submit(world)
        hlt = submit(
            world,
            "hlt_requester",
            department="HLT",
            handle="HealthMB",
            holders=("hlt_requester",),
        )
        seen = requests.list_requests(world.session, actor=world.actor("agr_staff"))
        assert [r.id for r in seen] == [agr.id]
        with pytest.raises(NotFound):
            requests.show_request(
                world.session, actor=world.actor("agr_staff"), request_id=hlt.id or 0
            )
        mine = requests.list_requests(
            world.session, actor=world.actor("agr_approver"), awaiting_me=True
        )
        assert [r.id for r in mine] == [agr.id]
        assert (
            requests.list_requests(world.session, actor=world.actor("ced1"), awaiting_me=True) == []
        )
        approve(world, "agr_approver", agr.id or 0)
        ced_queue = requests.list_requests(
            world.session, actor=world.actor("ced1"), awaiting_me=True
        )
        assert [r.id for r in ced_queue] == [agr.id]
        assert (
            requests.list_requests(
                world.session, actor=world.actor("agr_approver"), awaiting_me=True
            )
            == []
        )
        everything = requests.list_requests(
            world.session, actor=world.actor("auditor"), state="submitted"
        )
        assert [r.id for r in everything] == [hlt.id]
