"""The requests list (filtered by state and department, a page at a time), one request with
its history, and what may be done with it (withdraw, approve, reject); the requests awaiting
the signed-in person are on the home page (``home``), asking for a new account is in
``new_request``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from registry import permissions
from registry.config import Settings
from registry.errors import InvalidInput, RegistryError
from registry.http.console import render
from registry.http.console.deps import attempt, posted, signed_in
from registry.http.console.pages import home
from registry.http.console.paging import CONSOLE_PAGE, CursorParam, cursor_of, pager
from registry.http.deps import RowId, SessionDep, SettingsDep
from registry.models import (
    OPEN_STATES,
    AccountRequest,
    RequestKind,
    RequestPublic,
    RequestState,
    WebSession,
)
from registry.paging import Page
from registry.permissions import Actor
from registry.services import audit, departments
from registry.services import requests as account_requests

router = APIRouter(prefix="/console")

LIST_TITLE = "Requests"

# The list's "Show" filter: which of the requests the actor may see.
SHOW: dict[str, str] = {
    "": "Every request you may see",
    "awaiting": "Awaiting my decision",
    "mine": "Asked by me",
}
FilterParam = Annotated[str, Query(max_length=64)]


def _approval_notice(decided: RequestPublic) -> str:
    """The notice key of what an approval did (the outcome ``requests.approval_outcome`` says)."""
    if decided.state != RequestState.approved:
        return "department_approved"
    return "account_opened" if decided.kind == RequestKind.new_account else "account_decommissioned"


def _list(
    session: Session, actor: Actor, *, state: str, department: str, show: str, cursor: str
) -> Page[RequestPublic]:
    """One page of the requests the actor may see, as ``GET /requests`` lists them."""
    if show not in SHOW:
        raise InvalidInput(f"Unknown show {show!r}; choose awaiting, mine or nothing.")
    return account_requests.list_requests(
        session,
        actor=actor,
        state=state or None,
        department=department or None,
        awaiting_me=show == "awaiting",
        mine=show == "mine",
        limit=CONSOLE_PAGE,
        after=cursor_of(account_requests.ORDER, cursor),
    )


@router.get("/requests", response_class=HTMLResponse)
def requests_list(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    state: FilterParam = "",
    department: FilterParam = "",
    show: FilterParam = "",
    cursor: CursorParam = "",
) -> HTMLResponse:
    web, actor = signed_in(request, session, settings)
    listed, error = attempt(
        request,
        session,
        lambda: _list(session, actor, state=state, department=department, show=show, cursor=cursor),
    )
    rows: Page[RequestPublic] = listed if listed is not None else Page()
    see_all = permissions.can_see_all(actor)
    return render.page(
        request,
        "requests/requests.html",
        title=LIST_TITLE,
        actor=actor,
        csrf=web.csrf,
        status_code=200 if error is None else error.status_code,
        requests=rows,
        pager=pager(request, account_requests.ORDER, rows),
        state=state,
        department=department,
        show=show,
        states=[s.value for s in RequestState],
        shows=SHOW,
        # Those who see every department choose one; anyone else sees their own.
        departments=departments.all_public(session) if see_all else None,
        **render.error_context(error),
    )


def _decision_refused(
    request: Request,
    session: Session,
    settings: Settings,
    web: WebSession,
    actor: Actor,
    error: RegistryError,
) -> HTMLResponse:
    """The home page, where the decision was taken, saying why it was refused."""
    return home.home_page(request, session, settings, web, actor, error=error)


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
        return _decision_refused(request, session, settings, web, actor, error)
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
        lambda: account_requests.reject(
            session, settings=settings, actor=actor, request_id=request_id, reason=reason
        ),
    )
    if error is not None:
        return _decision_refused(request, session, settings, web, actor, error)
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
        lambda: account_requests.withdraw(
            session, settings=settings, actor=actor, request_id=request_id
        ),
    )
    if error is not None:
        shown = _request_page(
            request, session, web, actor, request_id, **render.error_context(error)
        )
        shown.status_code = error.status_code
        return shown
    return render.back(f"/console/requests/{request_id}", "request_withdrawn")
