"""The approval workflow (rule 4): requester -> department executive -> CED.

States: ``submitted -> department_approved -> approved``; ``rejected`` (with a reason) from
either open state; ``withdrawn`` by the requester while open. A decided request never changes
again. Each decision locks the request row first (``SELECT ... FOR UPDATE``; SQLite's write
transactions are exclusive), so two approvers acting at once cannot both decide it.

Policy: "Seek and obtain approval from department executive and the Communications and
Engagement Division before opening any social media account for official or
employment-related purposes."
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, and_, delete, false, or_
from sqlmodel import Session, col, select

from registry import permissions, rules
from registry.config import Settings
from registry.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    InvalidTransition,
    NotFound,
    RuleViolation,
)
from registry.models import (
    OPEN_STATES,
    AccessGrant,
    AccountRequest,
    AccountStatus,
    Decision,
    Department,
    Person,
    RequestHolder,
    RequestKind,
    RequestPublic,
    RequestState,
    utcnow,
)
from registry.paging import Key, Order, Page
from registry.rules import Stage, holder_shortfalls
from registry.services import access, account_details, accounts, audit, departments, notices
from registry.services.actors import Actor
from registry.validation import clean_text, parse_choice

MAX_HOLDERS = 50


# ------------------------------------------------------------------------------ submitting


def submit_new_account(
    session: Session,
    *,
    settings: Settings,
    actor: Actor,
    platform: str,
    handle: str,
    url: str,
    category: str,
    department: str,
    purpose: str,
    login_email: str,
    holders: Sequence[str],
    program_area: str = "",
    display_name: str = "",
    platform_id: str | None = None,
    language: str | None = None,
) -> RequestPublic:
    """Ask for a new official or employment-related account (rules 1 and 2 checked now)."""
    dept = _department_for(session, actor=actor, code=department)
    draft = accounts.validate_draft(
        settings=settings,
        departments_by_code={dept.code: dept},
        platform=platform,
        handle=handle,
        url=url,
        category=category,
        department=dept.code,
        program_area=program_area,
        purpose=purpose,
        login_email=login_email,
        display_name=display_name,
        platform_id=platform_id or None,
        language=language,
    )
    existing = accounts.find_live_handle(session, draft.platform, draft.handle_normalized)
    if existing is not None:
        raise Conflict(f"{draft.label} is already registered as {accounts.label(existing)}.")
    account_details.require_free_platform_id(session, draft.platform, draft.platform_id)
    pending = session.exec(
        select(AccountRequest).where(
            AccountRequest.kind == RequestKind.new_account.value,
            AccountRequest.platform == draft.platform,
            AccountRequest.handle_normalized == draft.handle_normalized,
            col(AccountRequest.state).in_(OPEN_STATES),
        )
    ).first()
    if pending is not None:
        raise Conflict(f"{draft.label} is already requested in request {pending.id}.")
    people = _holders(session, settings=settings, actor=actor, emails=holders)
    request = AccountRequest(
        kind=RequestKind.new_account.value,
        department_id=draft.department_id,
        requester_id=actor.id,
        platform=draft.platform,
        handle=draft.handle,
        handle_normalized=draft.handle_normalized,
        display_name=draft.display_name,
        url=draft.url,
        platform_id=draft.platform_id,
        language=draft.language,
        category=draft.category,
        program_area=draft.program_area,
        purpose=draft.purpose,
        login_email=draft.login_email,
    )
    session.add(request)
    session.flush()
    _add_holders(session, request=request, people=people, actor=actor)
    audit.record(
        session,
        actor=actor,
        action="request.submitted",
        entity_type="request",
        entity_id=request.id,
        details={
            "kind": request.kind,
            "department": dept.code,
            "platform": draft.platform,
            "handle": draft.handle,
            "holders": sorted(p.email for p in people),
        },
    )
    notices.request_submitted(session, settings=settings, request=request)
    return to_public(session, [request])[0]


def submit_decommission(
    session: Session, *, settings: Settings, actor: Actor, account_id: int, reason: str
) -> RequestPublic:
    """Ask for an account to be decommissioned; the account keeps its history."""
    why = clean_text(reason, field="Reason", max_length=2000)
    account = accounts.get_visible_account(session, actor=actor, account_id=account_id)
    dept = session.get(Department, account.department_id)
    assert dept is not None
    _may_submit_for(actor, dept)
    if account.status == AccountStatus.decommissioned:
        raise InvalidTransition(
            f"{accounts.label(account).capitalize()} is already decommissioned."
        )
    pending = session.exec(
        select(AccountRequest).where(
            AccountRequest.kind == RequestKind.decommission.value,
            AccountRequest.account_id == account_id,
            col(AccountRequest.state).in_(OPEN_STATES),
        )
    ).first()
    if pending is not None:
        raise Conflict(
            f"Decommissioning {accounts.label(account)} is already requested in request "
            f"{pending.id}."
        )
    request = AccountRequest(
        kind=RequestKind.decommission.value,
        department_id=account.department_id,
        requester_id=actor.id,
        account_id=account_id,
        platform=account.platform,
        handle=account.handle,
        reason=why,
    )
    session.add(request)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="request.submitted",
        entity_type="request",
        entity_id=request.id,
        details={"kind": request.kind, "account_id": account_id, "reason": why},
    )
    notices.request_submitted(session, settings=settings, request=request)
    return to_public(session, [request])[0]


def _department_for(session: Session, *, actor: Actor, code: str) -> Department:
    """The request's department: the actor's own, or any department for CED staff."""
    dept = departments.get_by_code(session, code)
    _may_submit_for(actor, dept)
    return dept


def _may_submit_for(actor: Actor, dept: Department) -> None:
    if not permissions.can_submit_for(actor, dept.id):
        raise Forbidden(
            f"{actor.email} may only submit requests for their own department "
            f"({actor.department_code}), not {dept.code}."
        )


def _holders(
    session: Session, *, settings: Settings, actor: Actor, emails: Sequence[str]
) -> list[Person]:
    """The named people, each registered, active and on a government address. A person the
    actor may not see (``GET /people/{email}`` answers 404) is refused as an unknown address,
    so that naming holders tells no one who exists, or who left, in other departments."""
    if len(emails) > MAX_HOLDERS:
        raise InvalidInput(f"At most {MAX_HOLDERS} holders may be named at once.")
    return accounts.resolve_holders(session, settings=settings, emails=emails, seen_by=actor)


def _add_holders(
    session: Session, *, request: AccountRequest, people: Sequence[Person], actor: Actor
) -> list[Person]:
    """Add ``people`` not already proposed; returns the ones added."""
    assert request.id is not None
    present = set(
        session.exec(select(RequestHolder.person_id).where(RequestHolder.request_id == request.id))
    )
    added = [p for p in people if p.id not in present]
    session.add_all(
        RequestHolder(request_id=request.id, person_id=p.id or 0, added_by_id=actor.id)
        for p in added
    )
    session.flush()
    return added


# ------------------------------------------------------------------------------ deciding


def lock_request(session: Session, *, actor: Actor, request_id: int) -> AccountRequest:
    """Load the request the actor may see, holding its row lock until the transaction ends."""
    request = session.exec(
        select(AccountRequest)
        .where(AccountRequest.id == request_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if request is None or not permissions.can_see_request(actor, request):
        raise NotFound(f"No request with id {request_id}.")
    return request


def _require_open(request: AccountRequest) -> None:
    if rules.stage_to_decide(request.state) is None:
        raise InvalidTransition(
            f"Request {request.id} is already {request.state}; a decided request never changes."
        )


def _require_stage_decider(actor: Actor, request: AccountRequest, *, verb: str) -> None:
    """Refuse unless the actor may decide the request's current stage (rule 4)."""
    why = permissions.decision_refusal(actor, request, verb=verb)
    if why is not None:
        raise Forbidden(why)


def approve(
    session: Session,
    *,
    settings: Settings,
    actor: Actor,
    request_id: int,
    comment: str | None = None,
    holders: Sequence[str] = (),
) -> RequestPublic:
    """Approve the request's current stage; the final approval carries it out.

    The final approval of a new account creates it active with its holders, which must then
    satisfy rule 3; CED may add holders at this moment. If a rule would still break, nothing
    changes and the request stays department_approved.
    """
    request = lock_request(session, actor=actor, request_id=request_id)
    _require_open(request)
    _require_stage_decider(actor, request, verb="approve")
    note = clean_text(comment or "", field="Comment", max_length=2000, required=False) or None
    now = utcnow()
    if rules.stage_to_decide(request.state) is Stage.department:
        if holders:
            raise InvalidInput("Holders can only be added by CED at the final approval.")
        request.state = RequestState.department_approved.value
        request.department_decided_by_id = actor.id
        request.department_decided_at = now
        request.department_comment = note
        action = "request.department_approved"
        details: dict[str, object] = {"comment": note}
    elif request.kind == RequestKind.new_account:
        account_id, added, dropped = _open_account(
            session, settings=settings, actor=actor, request=request, extra_holders=holders
        )
        request.account_id = account_id
        details = {
            "comment": note,
            "account_id": account_id,
            "added_holders": added,
            "dropped_holders": dropped,
        }
        action = "request.approved"
    else:
        if holders:
            raise InvalidInput("Holders cannot be added to a decommission request.")
        _decommission(session, actor=actor, request=request)
        details = {"comment": note, "account_id": request.account_id}
        action = "request.approved"
    if action == "request.approved":
        request.state = RequestState.approved.value
        request.decided_by_id = actor.id
        request.decided_at = now
        request.decision_comment = note
    session.add(request)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=action,
        entity_type="request",
        entity_id=request.id,
        details=details,
    )
    if action == "request.department_approved":
        notices.request_department_approved(
            session, settings=settings, request=request, by=actor.email
        )
    else:
        new_holders = (
            access.active_holders(session, request.account_id)
            if request.kind == RequestKind.new_account and request.account_id
            else []
        )
        notices.request_decided(
            session,
            settings=settings,
            request=request,
            outcome="approved",
            by=actor.email,
            holders=new_holders,
        )
    return to_public(session, [request])[0]


def _open_account(
    session: Session,
    *,
    settings: Settings,
    actor: Actor,
    request: AccountRequest,
    extra_holders: Sequence[str],
) -> tuple[int, list[str], list[str]]:
    """Create the requested account active, with its holders, under rules 1-3.

    Proposed holders who have left government since the request was made are dropped (rule
    6: a leaver holds nothing), so a request never sticks on them; the rest are checked again
    like the other fields (rule 2). Returns the account id and the e-mails added and dropped.
    """
    dept = session.get(Department, request.department_id)
    assert dept is not None and request.platform and request.handle
    draft = accounts.validate_draft(
        settings=settings,
        departments_by_code={dept.code: dept},
        platform=request.platform,
        handle=request.handle,
        url=request.url or "",
        category=request.category or "",
        department=dept.code,
        program_area=request.program_area,
        purpose=request.purpose or "",
        login_email=request.login_email or "",
        display_name=request.display_name,
        platform_id=request.platform_id,
        language=request.language,
    )
    existing = accounts.find_live_handle(session, draft.platform, draft.handle_normalized)
    if existing is not None:
        raise Conflict(
            f"Cannot approve request {request.id}: {draft.label} is already registered as "
            f"{accounts.label(existing)}."
        )
    account_details.require_free_platform_id(
        session, draft.platform, draft.platform_id, request_id=request.id
    )
    proposed = request_holders(session, request.id or 0)
    dropped = [p for p in proposed if not rules.may_hold(p.status)]
    kept = [
        accounts.eligible_holder(p, p.email, settings=settings)
        for p in proposed
        if rules.may_hold(p.status)
    ]
    extra = [
        p
        for p in _holders(session, settings=settings, actor=actor, emails=extra_holders)
        if p not in kept
    ]
    people = kept + extra
    shortfalls = holder_shortfalls(
        accounts.holder_facts(people, ced_id=accounts.ced_department_id(session, settings))
    )
    if shortfalls:
        gone = (
            [f"{', '.join(p.email for p in dropped)} left government and cannot hold it"]
            if dropped
            else []
        )
        raise RuleViolation(
            f"Cannot approve request {request.id} for {draft.label}: the account must have two "
            f"people with access, one from CED ({'; '.join(gone + shortfalls)}); "
            "add holders when approving (the holders field, or --holder)."
        )
    if dropped:
        session.execute(
            delete(RequestHolder).where(
                col(RequestHolder.request_id) == request.id,
                col(RequestHolder.person_id).in_([p.id for p in dropped]),
            )
        )
    added = _add_holders(session, request=request, people=extra, actor=actor)
    [account_id] = accounts.insert_active_accounts(
        session,
        settings=settings,
        actor=actor,
        entries=[(draft, people)],
        action="account.created",
    )
    return account_id, [p.email for p in added], [p.email for p in dropped]


def _decommission(session: Session, *, actor: Actor, request: AccountRequest) -> None:
    """Decommission the account: it keeps its history, loses its holders."""
    assert request.account_id is not None
    account = access.lock_account(session, request.account_id)
    if account.status == AccountStatus.decommissioned:
        raise InvalidTransition(
            f"{accounts.label(account).capitalize()} is already decommissioned."
        )
    now = utcnow()
    account.status = AccountStatus.decommissioned.value
    account.decommissioned_at = now
    session.add(account)
    grants = session.exec(
        select(AccessGrant).where(
            AccessGrant.account_id == account.id, col(AccessGrant.revoked_at).is_(None)
        )
    ).all()
    for grant in grants:
        grant.revoked_at = now
        grant.revoked_by_id = actor.id
        session.add(grant)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="account.decommissioned",
        entity_type="account",
        entity_id=account.id,
        details={"request_id": request.id, "grants_ended": len(grants)},
    )


def reject(
    session: Session, *, settings: Settings, actor: Actor, request_id: int, reason: str
) -> RequestPublic:
    """Reject an open request at its current stage; a reason is required."""
    why = clean_text(reason, field="Reason", max_length=2000)
    request = lock_request(session, actor=actor, request_id=request_id)
    _require_open(request)
    _require_stage_decider(actor, request, verb="reject")
    stage = request.state
    request.state = RequestState.rejected.value
    request.decided_by_id = actor.id
    request.decided_at = utcnow()
    request.decision_comment = why
    session.add(request)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="request.rejected",
        entity_type="request",
        entity_id=request.id,
        details={"reason": why, "stage": stage},
    )
    notices.request_decided(
        session, settings=settings, request=request, outcome="rejected", by=actor.email
    )
    return to_public(session, [request])[0]


def withdraw(
    session: Session, *, settings: Settings, actor: Actor, request_id: int
) -> RequestPublic:
    """The requester takes back their own open request."""
    request = lock_request(session, actor=actor, request_id=request_id)
    _require_open(request)
    if not permissions.can_withdraw(actor, request):
        raise Forbidden(f"Only the requester may withdraw request {request.id}.")
    request.state = RequestState.withdrawn.value
    request.decided_by_id = actor.id
    request.decided_at = utcnow()
    session.add(request)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="request.withdrawn",
        entity_type="request",
        entity_id=request.id,
    )
    notices.request_decided(
        session, settings=settings, request=request, outcome="withdrawn", by=actor.email
    )
    return to_public(session, [request])[0]


# ------------------------------------------------------------------------------ reading


def request_holders(session: Session, request_id: int) -> list[Person]:
    return list(
        session.exec(
            select(Person)
            .join(RequestHolder, col(RequestHolder.person_id) == Person.id)
            .where(RequestHolder.request_id == request_id)
            .order_by(Person.email)
        )
    )


def awaiting(actor: Actor) -> ColumnElement[bool]:
    """A WHERE clause: the open requests this actor could decide now
    (``permissions.can_decide``, in SQL)."""
    clauses: list[ColumnElement[bool]] = []
    if permissions.can_decide_stage(actor, Stage.department):
        clauses.append(
            and_(
                col(AccountRequest.state) == RequestState.submitted.value,
                col(AccountRequest.department_id) == actor.department_id,
            )
        )
    if permissions.can_decide_stage(actor, Stage.ced):
        clauses.append(
            and_(
                col(AccountRequest.state) == RequestState.department_approved.value,
                or_(
                    col(AccountRequest.department_decided_by_id).is_(None),
                    col(AccountRequest.department_decided_by_id) != actor.id,
                ),
            )
        )
    if not clauses:
        return false()
    return and_(or_(*clauses), col(AccountRequest.requester_id) != actor.id)


ORDER: Order[AccountRequest] = Order("requests", [col(AccountRequest.id)], key=lambda r: (r.id,))


def list_requests(
    session: Session,
    *,
    actor: Actor,
    state: str | None = None,
    awaiting_me: bool = False,
    department: str | None = None,
    mine: bool = False,
    limit: int | None = None,
    after: Key | None = None,
) -> Page[RequestPublic]:
    """The requests the actor may see, by id: ``limit`` of them after ``after`` (all if None);
    ``mine``: only those the actor asked for."""
    query = select(AccountRequest)
    if not permissions.can_see_all(actor):
        query = query.where(
            or_(
                col(AccountRequest.department_id) == actor.department_id,
                col(AccountRequest.requester_id) == actor.id,
            )
        )
    if state:
        chosen = parse_choice(RequestState, state, what="state")
        query = query.where(AccountRequest.state == chosen.value)
    if department:
        query = query.where(
            AccountRequest.department_id == departments.get_by_code(session, department).id
        )
    if awaiting_me:
        query = query.where(awaiting(actor))
    if mine:
        query = query.where(col(AccountRequest.requester_id) == actor.id)
    page = ORDER.fetch(session, query, limit=limit, after=after)
    return page.map(lambda rows: to_public(session, rows))


def show_request(session: Session, *, actor: Actor, request_id: int) -> RequestPublic:
    request = session.get(AccountRequest, request_id)
    if request is None or not permissions.can_see_request(actor, request):
        raise NotFound(f"No request with id {request_id}.")
    return to_public(session, [request])[0]


def approval_outcome(request: AccountRequest | RequestPublic) -> str:
    """What an approval did, in one sentence (the CLI says it; the console shows the fixed
    notice of the same outcome, ``registry.http.console.render.NOTICES``)."""
    if request.state != RequestState.approved:
        return f"Request {request.id} approved by the department; it now awaits CED."
    done = "active" if request.kind == "new_account" else "decommissioned"
    return f"Request {request.id} approved; account {request.account_id} is {done}."


def to_public(session: Session, rows: Sequence[AccountRequest]) -> list[RequestPublic]:
    ids = [r.id for r in rows if r.id is not None]
    holder_rows = (
        session.exec(
            select(RequestHolder.request_id, Person.email)
            .join(Person, col(Person.id) == RequestHolder.person_id)
            .where(col(RequestHolder.request_id).in_(ids))
            .order_by(Person.email)
        ).all()
        if ids
        else []
    )
    holders: dict[int, list[str]] = {i: [] for i in ids}
    for request_id, email in holder_rows:
        holders[request_id].append(email)
    person_ids = {
        pid
        for r in rows
        for pid in (r.requester_id, r.department_decided_by_id, r.decided_by_id)
        if pid is not None
    }
    emails = {
        p.id: p.email for p in session.exec(select(Person).where(col(Person.id).in_(person_ids)))
    }
    codes = {d.id: d.code for d in session.exec(select(Department))}

    def decision(who: int | None, at: object, comment: str | None) -> Decision | None:
        if who is None or at is None:
            return None
        return Decision(who=emails[who], at=at, comment=comment)  # type: ignore[arg-type]

    return [
        RequestPublic(
            id=r.id or 0,
            kind=r.kind,
            state=r.state,
            department=codes[r.department_id],
            requester=emails[r.requester_id],
            submitted_at=r.submitted_at,
            platform=r.platform,
            handle=r.handle,
            display_name=r.display_name,
            url=r.url,
            platform_id=r.platform_id,
            language=r.language,
            category=r.category,
            program_area=r.program_area,
            purpose=r.purpose,
            login_email=r.login_email,
            holders=holders.get(r.id or 0, []),
            reason=r.reason,
            account_id=r.account_id,
            department_decision=decision(
                r.department_decided_by_id, r.department_decided_at, r.department_comment
            ),
            final_decision=decision(r.decided_by_id, r.decided_at, r.decision_comment),
        )
        for r in rows
    ]
