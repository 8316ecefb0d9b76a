"""Requests awaiting the signed-in person, one request with its history, and the decisions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from registry import permissions
from registry.errors import RegistryError
from registry.http.console import render
from registry.http.console.deps import attempt, posted, signed_in
from registry.http.deps import RowId, SessionDep, SettingsDep
from registry.models import RequestKind, RequestPublic, RequestState, WebSession
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


@router.get("/requests/{request_id}", response_class=HTMLResponse)
def request_page(
    request: Request, request_id: RowId, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    web, actor = signed_in(request, session, settings)
    shown, error = attempt(
        request,
        session,
        lambda: account_requests.show_request(session, actor=actor, request_id=request_id),
    )
    if error is not None:
        return render.error_page(request, error, title="Not available", actor=actor, csrf=web.csrf)
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
    )
