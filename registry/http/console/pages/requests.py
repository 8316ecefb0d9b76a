"""Requests awaiting the signed-in person and their own, one request with its history, and
what may be done with it (withdraw, approve, reject); asking for a new account is in
``new_request``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from registry import permissions
from registry.errors import RegistryError
from registry.http.console import render
from registry.http.console.deps import attempt, posted, signed_in
from registry.http.deps import RowId, SessionDep, SettingsDep
from registry.models import (
    OPEN_STATES,
    AccountRequest,
    RequestKind,
    RequestPublic,
    RequestState,
    WebSession,
)
from registry.permissions import Actor
from registry.services import audit
from registry.services import requests as account_requests

router = APIRouter(prefix="/console")

TITLE = "Requests awaiting me"


def _approval_notice(decided: RequestPublic) -> str:
    """The notice key of what an approval did (the outcome ``requests.approval_outcome`` says)."""
    if decided.state != RequestState.approved:
        return "department_approved"
    return "account_opened" if decided.kind == RequestKind.new_account else "account_decommissioned"


def _mine(session: Session, actor: Actor) -> list[RequestPublic]:
    """The actor's own requests, newest first."""
    return list(reversed(account_requests.list_requests(session, actor=actor, mine=True)))


@router.get("", response_class=HTMLResponse)
def awaiting_me(
    request: Request, session: SessionDep, settings: SettingsDep, notice: str = ""
) -> HTMLResponse:
    web, actor = signed_in(request, session, settings)
    return render.page(
        request,
        "requests/requests.html",
        title=TITLE,
        actor=actor,
        csrf=web.csrf,
        notice=render.notice(notice),
        requests=account_requests.list_requests(session, actor=actor, awaiting_me=True),
        mine=_mine(session, actor),
    )


def _awaiting_me_with_error(
    request: Request, session: Session, web: WebSession, actor: Actor, error: RegistryError
) -> HTMLResponse:
    return render.page(
        request,
        "requests/requests.html",
        title=TITLE,
        actor=actor,
        csrf=web.csrf,
        status_code=error.status_code,
        requests=account_requests.list_requests(session, actor=actor, awaiting_me=True),
        mine=_mine(session, actor),
        **render.error_context(error),
    )


@router.post("/requests/{request_id}/approve", response_class=HTMLResponse)
def approve(
    request: Request,
    request_id: RowId,
    session: SessionDep,
    settings: SettingsDep,
    csrf: Annotated[str, Form(max_length=100)] = "",
    comment: Annotated[str, Form(max_length=2000)] = "",
    holders: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    web, actor = posted(request, session, settings, csrf)
    extra = [h.strip() for h in holders.replace(";", ",").split(",") if h.strip()]
    done, error = attempt(
        request,
        session,
        lambda: account_requests.approve(
            session,
            settings=settings,
            actor=actor,
            request_id=request_id,
            comment=comment or None,
            holders=extra,
        ),
    )
    if error is not None:
        return _awaiting_me_with_error(request, session, web, actor, error)
    assert done is not None  # attempt returns a result or a refusal
    return render.back("/console", _approval_notice(done))


@router.post("/requests/{request_id}/reject", response_class=HTMLResponse)
def reject(
    request: Request,
    request_id: RowId,
    session: SessionDep,
    settings: SettingsDep,
    csrf: Annotated[str, Form(max_length=100)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    web, actor = posted(request, session, settings, csrf)
    _, error = attempt(
        request,
        session,
        lambda: account_requests.reject(session, actor=actor, request_id=request_id, reason=reason),
    )
    if error is not None:
        return _awaiting_me_with_error(request, session, web, actor, error)
    return render.back("/console", "rejected")


def _request_page(
    request: Request,
    session: Session,
    web: WebSession,
    actor: Actor,
    request_id: int,
    **extra: Any,
) -> HTMLResponse:
    """The request with its history, and the forms the actor may use on it now."""
    shown, error = attempt(
        request,
        session,
        lambda: account_requests.show_request(session, actor=actor, request_id=request_id),
    )
    if error is not None:
        return render.error_page(request, error, title="Not available", actor=actor, csrf=web.csrf)
    assert shown is not None  # attempt returns a result or a refusal
    # The row show_request has just loaded (from the session, no second query): the
    # permissions answer on it what the services would allow.
    row = session.get(AccountRequest, request_id)
    assert row is not None
    is_open = row.state in OPEN_STATES
    events = (
        audit.list_events(session, actor=actor, entity=("request", request_id), limit=None)
        if permissions.can_read_audit(actor)
        else None
    )
    return render.page(
        request,
        "requests/request.html",
        title=f"Request {request_id}",
        actor=actor,
        csrf=web.csrf,
        r=shown,
        events=events,
        may_withdraw=is_open and permissions.can_withdraw(actor, row),
        may_decide=is_open and permissions.can_decide(actor, row),
        ced_stage=row.state == RequestState.department_approved,
        **extra,
    )


@router.get("/requests/{request_id}", response_class=HTMLResponse)
def request_page(
    request: Request,
    request_id: RowId,
    session: SessionDep,
    settings: SettingsDep,
    notice: str = "",
) -> HTMLResponse:
    web, actor = signed_in(request, session, settings)
    return _request_page(request, session, web, actor, request_id, notice=render.notice(notice))


@router.post("/requests/{request_id}/withdraw", response_class=HTMLResponse)
def withdraw(
    request: Request,
    request_id: RowId,
    session: SessionDep,
    settings: SettingsDep,
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    web, actor = posted(request, session, settings, csrf)
    _, error = attempt(
        request,
        session,
        lambda: account_requests.withdraw(session, actor=actor, request_id=request_id),
    )
    if error is not None:
        shown = _request_page(
            request, session, web, actor, request_id, **render.error_context(error)
        )
        shown.status_code = error.status_code
        return shown
    return render.back(f"/console/requests/{request_id}", "request_withdrawn")
