"""Server-rendered pages: the public directory and the CED console.

The console signs in with an API token, which becomes an HttpOnly, SameSite=Strict session
cookie (Secure over HTTPS); every form carries the session's CSRF token. Pages call the same
service functions as the API and the CLI, so the same permission rules apply. One request is
one transaction: a refusal is rolled back and shown in one sentence.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlmodel import Session

from registry.api.deps import RowId, SessionDep, SettingsDep
from registry.config import Settings
from registry.errors import RegistryError, Unauthenticated
from registry.keys import open_keyring
from registry.models import (
    AccountPublic,
    AccountRequest,
    AccountStatus,
    RequestKind,
    RequestState,
    WebSession,
)
from registry.platforms import PLATFORMS
from registry.services import (
    accounts,
    audit,
    compliance,
    credentials,
    departments,
    handover,
    requests,
    verify,
    websessions,
)
from registry.services.actors import Actor

COOKIE = "registry_session"
LOGIN_COOKIE = "registry_login_csrf"

TEMPLATES = Path(__file__).parent / "templates"
templates = Jinja2Templates(directory=str(TEMPLATES))


def _style_hash() -> str:
    """The CSP hash of base.html's one inline stylesheet (static text, no template tags)."""
    text = (TEMPLATES / "base.html").read_text(encoding="utf-8")
    start = text.index("<style>") + len("<style>")
    style = text[start : text.index("</style>", start)]
    digest = hashlib.sha256(style.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


# Pages may load nothing but their own stylesheet, post forms only here, never be framed.
PAGE_CSP = (
    f"default-src 'none'; style-src {_style_hash()}; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
router = APIRouter(include_in_schema=False)
T = TypeVar("T")


class SignInRequired(Exception):
    """Raised by console pages when the browser is not signed in."""


def _page(
    request: Request,
    template: str,
    *,
    title: str,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    actor = context.get("actor")
    may_hand_over = actor is not None and actor.has(*handover.RUNNERS)
    response = templates.TemplateResponse(
        request,
        template,
        {"title": title, "may_hand_over": may_hand_over, **context},
        status_code=status_code,
    )
    # Pages name people and accounts: never kept in a browser's or a proxy's cache.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = PAGE_CSP
    return response


def _console(request: Request, session: Session, settings: Settings) -> tuple[WebSession, Actor]:
    try:
        return websessions.resume(session, settings=settings, cookie=request.cookies.get(COOKIE))
    except Unauthenticated:
        raise SignInRequired from None


def _form(
    request: Request, session: Session, settings: Settings, csrf: str
) -> tuple[WebSession, Actor]:
    """A signed-in browser posting a form that carries its session's CSRF token."""
    web, actor = _console(request, session, settings)
    websessions.check_csrf(web, csrf)
    return web, actor


def _attempt(session: Session, work: Callable[[], T]) -> tuple[T | None, RegistryError | None]:
    """Run a service call; on refusal roll it back (keeping its audit of the refusal)."""
    try:
        return work(), None
    except RegistryError as exc:
        session.rollback()
        if exc.afterwards is not None:
            exc.afterwards(session)
        return None, exc


def _error_context(error: RegistryError | None) -> dict[str, Any]:
    if error is None:
        return {}
    return {"error": error.message, "problems": error.problems}


def error_page(request: Request, exc: RegistryError) -> HTMLResponse:
    """A refusal on a page outside ``_attempt`` (a stale form, a bad CSRF token)."""
    return _page(
        request,
        "base.html",
        title="That did not work",
        status_code=exc.status_code,
        **_error_context(exc),
    )


# What a page may announce after a redirect: ``?notice=KEY`` shows the sentence of a key in
# this list and nothing else, so a link cannot make the console say anything in its name.
NOTICES: dict[str, str] = {
    "signed_out": "You are signed out.",
    "department_approved": "The request is approved by the department; it now awaits CED.",
    "account_opened": "The request is approved; the account is active.",
    "account_decommissioned": "The request is approved; the account is decommissioned.",
    "rejected": "The request is rejected.",
}


def _notice(key: str) -> str:
    """The fixed sentence of a notice key; an unknown key (or free text) shows nothing."""
    return NOTICES.get(key, "")


def _back(path: str, notice: str) -> RedirectResponse:
    assert notice in NOTICES, notice  # a redirect names a key, never a sentence
    return RedirectResponse(f"{path}?notice={notice}", status_code=303)


def _approval_notice(request: AccountRequest) -> str:
    """The notice key of what an approval did (the outcome ``requests.approval_outcome`` says)."""
    if request.state != RequestState.approved:
        return "department_approved"
    return "account_opened" if request.kind == RequestKind.new_account else "account_decommissioned"


# ------------------------------------------------------------------------------ public


@router.get("/", response_class=RedirectResponse)
def home() -> RedirectResponse:
    return RedirectResponse("/directory", status_code=303)


@router.get("/directory", response_class=HTMLResponse)
def directory_page(
    request: Request,
    session: SessionDep,
    q: str = "",
    platform: str = "",
    department: str = "",
    check: str = "",
) -> HTMLResponse:
    """The public list of active official accounts, and a "check a link" form."""
    answer, error = None, None
    if check.strip():
        answer, error = _attempt(
            session,
            lambda: verify.answer(session.connection(), platform=None, handle=None, url=check),
        )
    # A refused check rolled the session back; ask it for a connection again.
    entries, list_error = _attempt(
        session,
        lambda: verify.directory(
            session.connection(), query=q, platform=platform, department=department
        ),
    )
    return _page(
        request,
        "directory.html",
        title="Official government social media accounts",
        status_code=200 if error is None and list_error is None else 422,
        entries=entries or [],
        answer=answer,
        check=check,
        q=q,
        platform=platform,
        department=department.upper(),
        platforms=PLATFORMS,
        departments=departments.all_public(session),
        **_error_context(error or list_error),
    )


# ------------------------------------------------------------------------------ sign-in


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, notice: str = "") -> HTMLResponse:
    login_csrf = secrets.token_urlsafe(32)
    response = _page(
        request,
        "login.html",
        title="CED console sign-in",
        login_csrf=login_csrf,
        notice=_notice(notice),
    )
    _set_cookie(request, response, LOGIN_COOKIE, login_csrf, max_age=1800)
    return response


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    token: Annotated[str, Form(max_length=200)],
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not secrets.compare_digest(expected, csrf):
        return _page(
            request,
            "login.html",
            title="CED console sign-in",
            status_code=403,
            login_csrf=expected or secrets.token_urlsafe(32),
            error="This sign-in form has expired; reload the page and try again.",
        )
    signed, error = _attempt(
        session, lambda: websessions.sign_in(session, settings=settings, token=token)
    )
    if signed is None:
        return _page(
            request,
            "login.html",
            title="CED console sign-in",
            status_code=401,
            login_csrf=expected,
            **_error_context(error),
        )
    cookie, _, _ = signed
    response = RedirectResponse("/console", status_code=303)
    _set_cookie(
        request, response, COOKIE, cookie, max_age=int(websessions.SESSION_LIFETIME.total_seconds())
    )
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


@router.post("/logout")
def logout(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    web, actor = _form(request, session, settings, csrf)
    websessions.sign_out(session, web=web, actor=actor)
    response = _back("/login", "signed_out")
    response.delete_cookie(COOKIE, path="/")
    return response


def _set_cookie(
    request: Request, response: Response, name: str, value: str, *, max_age: int
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


# ------------------------------------------------------------------------------ requests


@router.get("/console", response_class=HTMLResponse)
def awaiting_me(
    request: Request, session: SessionDep, settings: SettingsDep, notice: str = ""
) -> HTMLResponse:
    web, actor = _console(request, session, settings)
    return _page(
        request,
        "requests.html",
        title="Requests awaiting me",
        actor=actor,
        csrf=web.csrf,
        notice=_notice(notice),
        requests=requests.list_requests(session, actor=actor, awaiting_me=True),
    )


@router.post("/console/requests/{request_id}/approve", response_class=HTMLResponse)
def approve(
    request: Request,
    request_id: RowId,
    session: SessionDep,
    settings: SettingsDep,
    csrf: Annotated[str, Form(max_length=100)] = "",
    comment: Annotated[str, Form(max_length=2000)] = "",
    holders: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    web, actor = _form(request, session, settings, csrf)
    extra = [h.strip() for h in holders.replace(";", ",").split(",") if h.strip()]
    done, error = _attempt(
        session,
        lambda: requests.approve(
            session,
            settings=settings,
            actor=actor,
            request_id=request_id,
            comment=comment or None,
            holders=extra,
        ),
    )
    if error is not None:
        return _requests_page_with_error(request, session, web, actor, error)
    assert done is not None  # _attempt returns a result or a refusal
    return _back("/console", _approval_notice(done))


@router.post("/console/requests/{request_id}/reject", response_class=HTMLResponse)
def reject(
    request: Request,
    request_id: RowId,
    session: SessionDep,
    settings: SettingsDep,
    csrf: Annotated[str, Form(max_length=100)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    web, actor = _form(request, session, settings, csrf)
    _, error = _attempt(
        session,
        lambda: requests.reject(session, actor=actor, request_id=request_id, reason=reason),
    )
    if error is not None:
        return _requests_page_with_error(request, session, web, actor, error)
    return _back("/console", "rejected")


def _requests_page_with_error(
    request: Request, session: Session, web: WebSession, actor: Actor, error: RegistryError
) -> HTMLResponse:
    return _page(
        request,
        "requests.html",
        title="Requests awaiting me",
        actor=actor,
        csrf=web.csrf,
        status_code=error.status_code,
        requests=requests.list_requests(session, actor=actor, awaiting_me=True),
        **_error_context(error),
    )


@router.get("/console/requests/{request_id}", response_class=HTMLResponse)
def request_page(
    request: Request, request_id: RowId, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    web, actor = _console(request, session, settings)
    shown, error = _attempt(
        session, lambda: requests.show_request(session, actor=actor, request_id=request_id)
    )
    if error is not None:
        return _not_found(request, web, actor, error)
    events = (
        audit.list_events(session, actor=actor, entity=("request", request_id), limit=None)
        if actor.has(*audit.READERS)
        else None
    )
    return _page(
        request,
        "request.html",
        title=f"Request {request_id}",
        actor=actor,
        csrf=web.csrf,
        r=shown,
        events=events,
    )


def _not_found(
    request: Request, web: WebSession, actor: Actor, error: RegistryError
) -> HTMLResponse:
    return _page(
        request,
        "base.html",
        title="Not available",
        actor=actor,
        csrf=web.csrf,
        status_code=error.status_code,
        **_error_context(error),
    )


# ------------------------------------------------------------------------------ accounts


@router.get("/console/accounts", response_class=HTMLResponse)
def accounts_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    department: str = "",
    status: str = "",
    platform: str = "",
) -> HTMLResponse:
    web, actor = _console(request, session, settings)
    rows, error = _attempt(
        session,
        lambda: accounts.list_accounts(
            session,
            actor=actor,
            department=department or None,
            status=status or None,
            platform=platform or None,
        ),
    )
    return _page(
        request,
        "accounts.html",
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
        **_error_context(error),
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
    in_view = (department or None) if actor.sees_all else None
    findings = list(
        compliance.report(session, settings=settings, actor=actor, department=in_view).findings
    )
    if not actor.sees_all:
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
    **extra: Any,
) -> HTMLResponse:
    shown, error = _attempt(
        session, lambda: accounts.show_account(session, actor=actor, account_id=account_id)
    )
    if error is not None:
        return _not_found(request, web, actor, error)
    assert shown is not None  # _attempt returns a result or a refusal
    report = compliance.report(session, settings=settings, actor=actor, account_id=account_id)
    events = (
        audit.list_events(session, actor=actor, account_id=account_id, limit=None)
        if actor.has(*audit.READERS)
        else None
    )
    return _page(
        request,
        "account.html",
        title=f"{shown.platform} @{shown.handle}",
        actor=actor,
        csrf=web.csrf,
        a=shown,
        findings=report.findings,
        events=events,
        creds=credentials.status(session, actor=actor, account_id=account_id),
        **extra,
    )


@router.get("/console/accounts/{account_id}", response_class=HTMLResponse)
def account_page(
    request: Request, account_id: RowId, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    web, actor = _console(request, session, settings)
    return _account_page(request, session, settings, web, actor, account_id)


@router.post("/console/accounts/{account_id}/reveal", response_class=HTMLResponse)
def reveal(
    request: Request,
    account_id: RowId,
    session: SessionDep,
    settings: SettingsDep,
    csrf: Annotated[str, Form(max_length=100)] = "",
    kind: Annotated[str, Form(max_length=32)] = "password",
    reason: Annotated[str, Form(max_length=500)] = "",
) -> HTMLResponse:
    """The value is shown once, in this response only, which no cache may keep."""
    web, actor = _form(request, session, settings, csrf)
    revealed, error = _attempt(
        session,
        lambda: credentials.reveal(
            session,
            keyring=open_keyring(settings),
            actor=actor,
            account_id=account_id,
            kind=kind,
            reason=reason,
        ),
    )
    page = _account_page(
        request,
        session,
        settings,
        web,
        actor,
        account_id,
        revealed=revealed.public() if revealed else None,
        **_error_context(error),
    )
    page.headers["Pragma"] = "no-cache"  # _page already says Cache-Control: no-store
    if error is not None:
        page.status_code = error.status_code
    return page


# ------------------------------------------------------------------------------ compliance


@router.get("/console/compliance", response_class=HTMLResponse)
def compliance_page(request: Request, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    web, actor = _console(request, session, settings)
    return _page(
        request,
        "compliance.html",
        title="Compliance report",
        actor=actor,
        csrf=web.csrf,
        report=compliance.report(session, settings=settings, actor=actor),
    )


# ------------------------------------------------------------------------------ handover


@router.get("/console/handover", response_class=HTMLResponse)
def handover_form(request: Request, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    web, actor = _console(request, session, settings)
    actor.require(*handover.RUNNERS, to="run a handover")  # as the service will
    return _page(
        request,
        "handover.html",
        title="Handover",
        actor=actor,
        csrf=web.csrf,
        departing="",
        successor="",
    )


def _handover(
    request: Request,
    session: Session,
    settings: Settings,
    departing: str,
    successor: str,
    csrf: str,
    *,
    dry_run: bool,
) -> HTMLResponse:
    web, actor = _form(request, session, settings, csrf)
    report, error = _attempt(
        session,
        lambda: handover.handover(
            session,
            settings=settings,
            actor=actor,
            departing=departing,
            successor=successor,
            dry_run=dry_run,
        ),
    )
    return _page(
        request,
        "handover.html",
        title="Handover",
        actor=actor,
        csrf=web.csrf,
        status_code=200 if error is None else error.status_code,
        report=report,
        departing=departing,
        successor=successor,
        **_error_context(error),
    )


@router.post("/console/handover/preview", response_class=HTMLResponse)
def handover_preview(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    departing: Annotated[str, Form(max_length=254)],
    successor: Annotated[str, Form(max_length=254)],
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> HTMLResponse:
    return _handover(request, session, settings, departing, successor, csrf, dry_run=True)


@router.post("/console/handover/confirm", response_class=HTMLResponse)
def handover_confirm(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    departing: Annotated[str, Form(max_length=254)],
    successor: Annotated[str, Form(max_length=254)],
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> HTMLResponse:
    return _handover(request, session, settings, departing, successor, csrf, dry_run=False)
