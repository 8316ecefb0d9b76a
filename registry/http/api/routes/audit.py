"""The audit log, a page at a time, and the compliance report."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from registry.http.api.errors import error_responses
from registry.http.api.paging import link_next
from registry.http.deps import ActorDep, SessionDep, SettingsDep
from registry.schemas.api import EventPage, IsoTime
from registry.services import audit, compliance
from registry.validation import MAX_ID

router = APIRouter(tags=["audit"])


@router.get("/audit/events", response_model=EventPage, responses=error_responses(401, 403, 422))
def audit_events(
    request: Request,
    response: Response,
    session: SessionDep,
    actor: ActorDep,
    account_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    by: Annotated[str | None, Query(max_length=254, description="Actor e-mail.")] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    since: Annotated[
        IsoTime | None, Query(description="From this time (UTC if no offset).")
    ] = None,
    until: Annotated[
        IsoTime | None, Query(description="Before this time (UTC if no offset).")
    ] = None,
    after_seq: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> EventPage:
    """The audit log in order, a page at a time (CED, administrators, auditors)."""
    events = audit.list_events(
        session,
        actor=actor,
        account_id=account_id,
        by=by,
        action=action,
        since=since,
        until=until,
        after_seq=after_seq,
        limit=limit,
    )
    page = EventPage(events=events, next_after_seq=events[-1].seq if len(events) == limit else None)
    if page.next_after_seq is not None:  # the same as ``next_after_seq``, for generic clients
        link_next(request, response, after_seq=page.next_after_seq)
    return page


@router.get(
    "/compliance",
    response_model=compliance.ComplianceReport,
    responses=error_responses(401, 403, 404, 422),
)
def compliance_report(
    session: SessionDep,
    settings: SettingsDep,
    actor: ActorDep,
    department: Annotated[str | None, Query(max_length=32)] = None,
) -> compliance.ComplianceReport:
    """Findings per active account and rule, waiting requests, totals per department."""
    return compliance.report(session, settings=settings, actor=actor, department=department)
