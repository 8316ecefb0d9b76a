"""Requests for new accounts and decommissions, and their two-stage approval."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Request, Response, status

from registry.defaults import PAGE_LIMIT
from registry.http.api.errors import error_responses
from registry.http.api.paging import CursorQuery, LimitQuery, link_page
from registry.http.deps import ActorDep, RowId, SessionDep, SettingsDep
from registry.models import RequestPublic
from registry.schemas.api import ApproveBody, DecommissionBody, NewRequestBody, RejectBody
from registry.services import requests as account_requests

router = APIRouter(prefix="/requests", tags=["requests"])

DECIDE = error_responses(401, 403, 404, 409, 422)


@router.post(
    "",
    response_model=RequestPublic,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(401, 403, 404, 409, 422),
)
def submit_request(
    body: Annotated[NewRequestBody | DecommissionBody, Body(discriminator="kind")],
    session: SessionDep,
    settings: SettingsDep,
    actor: ActorDep,
) -> RequestPublic:
    """Ask for a new account (``kind: new_account``) or a decommission (``kind: decommission``)."""
    if isinstance(body, DecommissionBody):
        return account_requests.submit_decommission(
            session, settings=settings, actor=actor, account_id=body.account_id, reason=body.reason
        )
    return account_requests.submit_new_account(
        session,
        settings=settings,
        actor=actor,
        platform=body.platform,
        handle=body.handle,
        url=body.url,
        category=body.category,
        department=body.department,
        program_area=body.program_area,
        purpose=body.purpose,
        login_email=body.login_email,
        holders=body.holders,
        display_name=body.display_name,
        platform_id=body.platform_id,
        language=body.language,
    )


@router.get(
    "",
    response_model=list[RequestPublic],
    responses=error_responses(401, 403, 404, 422),  # 404: no such ``department``
)
def list_requests(
    request: Request,
    response: Response,
    session: SessionDep,
    actor: ActorDep,
    state: Annotated[str | None, Query(max_length=32)] = None,
    department: Annotated[str | None, Query(max_length=32)] = None,
    awaiting_me: bool = False,
    limit: LimitQuery = PAGE_LIMIT,
    cursor: CursorQuery = None,
) -> list[RequestPublic]:
    """The requests you may see, by id, a page at a time (the next in the ``Link`` header)."""
    page = account_requests.list_requests(
        session,
        actor=actor,
        state=state,
        department=department,
        awaiting_me=awaiting_me,
        limit=limit,
        after=account_requests.ORDER.decode(cursor),
    )
    link_page(request, response, account_requests.ORDER, page)
    return page


@router.get("/{request_id}", response_model=RequestPublic, responses=error_responses(401, 404, 422))
def show_request(request_id: RowId, session: SessionDep, actor: ActorDep) -> RequestPublic:
    return account_requests.show_request(session, actor=actor, request_id=request_id)


@router.post("/{request_id}/approve", response_model=RequestPublic, responses=DECIDE)
def approve_request(
    request_id: RowId,
    session: SessionDep,
    settings: SettingsDep,
    actor: ActorDep,
    body: ApproveBody | None = None,
) -> RequestPublic:
    """Approve the request's current stage; CED may add ``holders`` at the final approval."""
    body = body or ApproveBody()
    return account_requests.approve(
        session,
        settings=settings,
        actor=actor,
        request_id=request_id,
        comment=body.comment,
        holders=body.holders,
    )


@router.post("/{request_id}/reject", response_model=RequestPublic, responses=DECIDE)
def reject_request(
    request_id: RowId,
    body: RejectBody,
    session: SessionDep,
    settings: SettingsDep,
    actor: ActorDep,
) -> RequestPublic:
    return account_requests.reject(
        session, settings=settings, actor=actor, request_id=request_id, reason=body.reason
    )


@router.post("/{request_id}/withdraw", response_model=RequestPublic, responses=DECIDE)
def withdraw_request(
    request_id: RowId, session: SessionDep, settings: SettingsDep, actor: ActorDep
) -> RequestPublic:
    return account_requests.withdraw(session, settings=settings, actor=actor, request_id=request_id)
