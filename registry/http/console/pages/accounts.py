"""The accounts the signed-in person may see, one account, and what may be done with it:
revealing a credential, recording a review, asking for it to be decommissioned."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from registry import permissions
from registry.config import Settings
from registry.errors import RegistryError
from registry.http.console import render
from registry.http.console.deps import attempt, posted, signed_in
from registry.http.deps import RowId, SessionDep, SettingsDep, VaultOpenerDep
from registry.models import Account, AccountPublic, AccountStatus, WebSession
from registry.permissions import Actor
from registry.platforms import PLATFORMS
from registry.services import accounts, audit, compliance, credentials
from registry.services import requests as account_requests

router = APIRouter(prefix="/console/accounts")


@router.get("", response_class=HTMLResponse)
def accounts_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    department: str = "",
    status: str = "",
    platform: str = "",
) -> HTMLResponse:
    web, actor = signed_in(request, session, settings)
    rows, error = attempt(
        request,
        session,
        lambda: accounts.list_accounts(
            session,
            actor=actor,
            department=department or None,
            status=status or None,
            platform=platform or None,
        ),
    )
    return render.page(
        request,
        "accounts/accounts.html",
        title="Accounts",
        actor=actor,
        csrf=web.csrf,
        status_code=200 if error is None else error.status_code,
        accounts=rows or [],
        badges=_badges(session, settings, actor, rows or [], department),
        department=department,
        status=status,
        platform=platform,
        platforms=PLATFORMS,
        **render.error_context(error),
    )


def _badges(
    session: Session, settings: Settings, actor: Actor, rows: list[AccountPublic], department: str
) -> dict[int, list[compliance.Finding]]:
    """The findings of each listed active account.

    One report for the departments in view (only a department filter narrows it: the list
    already holds only the accounts it matches), and one per account the actor holds in a
    department their own report does not cover.
    """
    if not rows:
        return {}
    in_view = (department or None) if permissions.can_see_all(actor) else None
    findings = list(
        compliance.report(session, settings=settings, actor=actor, department=in_view).findings
    )
    if not permissions.can_see_all(actor):
        for row in rows:
            if row.department != actor.department_code and row.status == AccountStatus.active:
                findings += compliance.report(
                    session, settings=settings, actor=actor, account_id=row.id
                ).findings
    badges: dict[int, list[compliance.Finding]] = {}
    for finding in findings:
        if finding.account_id is not None:
            badges.setdefault(finding.account_id, []).append(finding)
    return badges


def _account_page(
    request: Request,
    session: Session,
    settings: Settings,
    web: WebSession,
    actor: Actor,
    account_id: int,
    refusal: RegistryError | None = None,
    **extra: Any,
) -> HTMLResponse:
    """The account with what the actor may do on it; with ``refusal``, the page shows why an
    action on it was refused, with the refusal's status (alone, when the account itself is not
    shown to the actor: a refusal by role says nothing about the account)."""
    shown, error = attempt(
        request, session, lambda: accounts.show_account(session, actor=actor, account_id=account_id)
    )
    if error is not None:
        return render.error_page(
            request, refusal or error, title="Not available", actor=actor, csrf=web.csrf
        )
    assert shown is not None  # attempt returns a result or a refusal
    # The row show_account has just loaded (from the session, no second query): the
    # permissions answer on it what the services would allow.
    row = session.get(Account, account_id)
    assert row is not None
    report = compliance.report(session, settings=settings, actor=actor, account_id=account_id)
    events = (
        audit.list_events(session, actor=actor, account_id=account_id, limit=None)
        if permissions.can_read_audit(actor)
        else None
    )
    return render.page(
        request,
        "accounts/account.html",
        title=f"{shown.platform} @{shown.handle}",
        status_code=200 if refusal is None else refusal.status_code,
        actor=actor,
        csrf=web.csrf,
        a=shown,
        findings=report.findings,
        events=events,
        creds=credentials.status(session, actor=actor, account_id=account_id),
        may_review=shown.status != AccountStatus.decommissioned and permissions.can_review(actor),
        may_decommission=shown.status == AccountStatus.active
        and permissions.can_submit_for(actor, row.department_id),
        **render.error_context(refusal),
        **extra,
    )


@router.get("/{account_id}", response_class=HTMLResponse)
def account_page(
    request: Request,
    account_id: RowId,
    session: SessionDep,
    settings: SettingsDep,
    notice: str = "",
) -> HTMLResponse:
    web, actor = signed_in(request, session, settings)
    return _account_page(
        request, session, settings, web, actor, account_id, notice=render.notice(notice)
    )


@router.post("/{account_id}/review", response_class=HTMLResponse)
def review(
    request: Request,
    account_id: RowId,
    session: SessionDep,
    settings: SettingsDep,
    csrf: Annotated[str, Form(max_length=100)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """CED records the periodic review of the account (rule 7)."""
    web, actor = posted(request, session, settings, csrf)
    _, error = attempt(
        request,
        session,
        lambda: accounts.review(
            session, settings=settings, actor=actor, account_id=account_id, note=note
        ),
    )
    if error is not None:
        return _account_page(request, session, settings, web, actor, account_id, refusal=error)
    return render.back(f"/console/accounts/{account_id}", "review_recorded")


@router.post("/{account_id}/decommission", response_class=HTMLResponse)
def request_decommission(
    request: Request,
    account_id: RowId,
    session: SessionDep,
    settings: SettingsDep,
    csrf: Annotated[str, Form(max_length=100)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Ask for the account to be decommissioned; the request then goes through both approvals."""
    web, actor = posted(request, session, settings, csrf)
    submitted, error = attempt(
        request,
        session,
        lambda: account_requests.submit_decommission(
            session, actor=actor, account_id=account_id, reason=reason
        ),
    )
    if error is not None:
        return _account_page(request, session, settings, web, actor, account_id, refusal=error)
    assert submitted is not None  # attempt returns a result or a refusal
    return render.back(f"/console/requests/{submitted.id}", "request_submitted")


@router.post("/{account_id}/reveal", response_class=HTMLResponse)
def reveal(
    request: Request,
    account_id: RowId,
    session: SessionDep,
    settings: SettingsDep,
    open_keyring: VaultOpenerDep,
    csrf: Annotated[str, Form(max_length=100)] = "",
    kind: Annotated[str, Form(max_length=32)] = "password",
    reason: Annotated[str, Form(max_length=500)] = "",
) -> HTMLResponse:
    """The value is shown once, in this response only, which no cache may keep."""
    web, actor = posted(request, session, settings, csrf)
    revealed, error = attempt(
        request,
        session,
        lambda: credentials.reveal(
            session,
            keyring=open_keyring(),
            actor=actor,
            account_id=account_id,
            kind=kind,
            reason=reason,
        ),
    )
    shown = _account_page(
        request,
        session,
        settings,
        web,
        actor,
        account_id,
        refusal=error,
        revealed=revealed.public() if revealed else None,
    )
    shown.headers["Pragma"] = "no-cache"  # render.page already says Cache-Control: no-store
    return shown
