"""Signing in to the console (single sign-on, or an API token unless switched off) and out.

Single sign-on: ``/auth/login`` starts the Authorization Code flow (PKCE) and sends the
browser to the identity provider; the provider sends it back to ``/auth/callback``, which
ends in a console session. The sign-in under way is kept server-side, tied to the browser by
a short-lived HttpOnly cookie that is SameSite=Lax (the provider's redirect back is a
cross-site navigation, on which a Strict cookie would not be sent). The session cookie itself
stays SameSite=Strict, so the callback hands over with a page that moves on at once (a
redirect would still be part of the cross-site navigation, without the new cookie).
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from registry.config import Settings
from registry.db import session_scope
from registry.errors import NotFound, RegistryError
from registry.http.console import render
from registry.http.console.deps import COOKIE, LOGIN_COOKIE, attempt, posted, set_cookie
from registry.http.deps import SessionDep, SettingsDep, writes_on_read
from registry.services import demo, oidc, websessions

router = APIRouter()
log = logging.getLogger(__name__)

TITLE = "CED console sign-in"
SSO_COOKIE = "registry_sso"
HOME = "/console"
NO_SSO = "Single sign-on is not set up on this registry; sign in with an API token."


def safe_next(value: str | None) -> str:
    """``value`` when it is a path on this site to go on to after signing in, else the
    console's home: never another site (``//host``, ``https:``, ``/\\host``), never the
    sign-in pages themselves."""
    if not value or len(value) > 500 or not value.startswith("/") or value.startswith("//"):
        return HOME
    if "\\" in value or any(not (" " < ch < "\x7f") for ch in value):
        return HOME
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return HOME
    if parts.path in ("/login", "/logout") or parts.path.startswith("/auth/"):
        return HOME
    return value


def _login_page(
    request: Request,
    session: Session,
    settings: Settings,
    *,
    next_path: str,
    status_code: int = 200,
    login_csrf: str | None = None,
    **context: object,
) -> HTMLResponse:
    login_csrf = login_csrf or secrets.token_urlsafe(32)
    query = "" if next_path == HOME else "?" + urlencode({"next": next_path})
    # A demo registry (the marker in its database, never a setting) offers its people.
    demo_people = demo.demo_people(session) if demo.is_demo(session) else []
    response = render.page(
        request,
        "signin/login.html",
        title=TITLE,
        status_code=status_code,
        login_csrf=login_csrf,
        next=next_path,
        sso=settings.sso_enabled,
        sso_url="/auth/login" + query,
        token_signin=settings.console_token_signin,
        demo_people=demo_people,
        **context,
    )
    if settings.console_token_signin or demo_people:
        set_cookie(request, response, LOGIN_COOKIE, login_csrf, max_age=1800)
    return response


def _refused(request: Request, error: RegistryError, *, title: str) -> HTMLResponse:
    return render.page(
        request,
        "signin/refused.html",
        title=title,
        status_code=error.status_code,
        **render.error_context(error),
    )


def _onward(request: Request, *, title: str, url: str, link: str) -> HTMLResponse:
    """A page that moves on to ``url`` at once (a navigation of this site's own)."""
    return render.page(request, "signin/onward.html", title=title, onward=url, link=link)


@router.get("/login", response_class=HTMLResponse)
def login_form(
    request: Request, session: SessionDep, settings: SettingsDep, notice: str = "", next: str = ""
) -> HTMLResponse:
    return _login_page(
        request, session, settings, next_path=safe_next(next), notice=render.notice(notice)
    )


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    token: Annotated[str, Form(max_length=200)],
    csrf: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    next_path = safe_next(next)
    if not settings.console_token_signin:
        return _login_page(
            request,
            session,
            settings,
            next_path=next_path,
            status_code=403,
            error=websessions.TOKEN_SIGNIN_OFF,
        )
    return _sign_in(
        request,
        session,
        settings,
        next_path=next_path,
        csrf=csrf,
        signing=lambda: websessions.sign_in(session, settings=settings, token=token),
    )


@router.post("/login/demo", response_class=HTMLResponse)
def demo_login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    email: Annotated[str, Form(max_length=254)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Sign in as a person of a demo registry, without a credential: refused (404) on any
    registry not marked as a demo in its database, whatever the settings and the form say."""
    if not demo.is_demo(session):
        return _refused(request, NotFound(demo.NOT_A_DEMO), title="Demo sign-in")
    return _sign_in(
        request,
        session,
        settings,
        next_path=safe_next(next),
        csrf=csrf,
        signing=lambda: demo.sign_in(session, settings=settings, email=email),
    )


def _sign_in(
    request: Request,
    session: Session,
    settings: Settings,
    *,
    next_path: str,
    csrf: str,
    signing: Callable[[], tuple[str, Any, Any]],
) -> Response:
    """The end of every sign-in form: its CSRF cookie checked (as bytes: a form may post any
    text), then ``signing`` attempted, then the session cookie and a redirect to ``next_path``,
    or the sign-in page again with why."""
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not secrets.compare_digest(expected.encode(), csrf.encode()):
        return _login_page(
            request,
            session,
            settings,
            next_path=next_path,
            status_code=403,
            login_csrf=expected or None,
            error="This sign-in form has expired; reload the page and try again.",
        )
    signed, error = attempt(request, session, signing)
    if signed is None:
        return _login_page(
            request,
            session,
            settings,
            next_path=next_path,
            status_code=error.status_code if error else 401,
            login_csrf=expected,
            **render.error_context(error),
        )
    cookie, _, _ = signed
    response = RedirectResponse(next_path, status_code=303)
    _session_cookie(request, response, settings, cookie)
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


def _session_cookie(request: Request, response: Response, settings: Settings, value: str) -> None:
    max_age = int(websessions.lifetime(settings).total_seconds())
    set_cookie(request, response, COOKIE, value, max_age=max_age)


@router.get("/auth/login", response_class=HTMLResponse, dependencies=[Depends(writes_on_read)])
def sso_start(
    request: Request, session: SessionDep, settings: SettingsDep, next: str = ""
) -> Response:
    """Send the browser to the identity provider (nothing is written before it answers)."""
    title = "Single sign-on"
    if not settings.sso_enabled:
        return _refused(request, NotFound(NO_SSO), title=title)
    try:
        started = oidc.provider(settings).start()
    except oidc.ProviderUnavailable as exc:
        log.warning("single sign-on cannot start: %s", exc.reason)
        return _refused(request, exc, title=title)
    browser = websessions.start_sso_login(
        session,
        browser=request.cookies.get(SSO_COOKIE),
        state=started.state,
        nonce=started.nonce,
        code_verifier=started.code_verifier,
        next_path=safe_next(next),
    )
    response = RedirectResponse(started.url, status_code=303)
    response.set_cookie(
        SSO_COOKIE,
        browser,
        max_age=int(websessions.LOGIN_LIFETIME.total_seconds()),
        path="/auth/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


@router.get(oidc.CALLBACK_PATH, response_class=HTMLResponse, dependencies=[Depends(writes_on_read)])
def sso_callback(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    code: str = "",
    state: str = "",
    error: str = "",
) -> Response:
    """Finish a single sign-on: the sign-in this browser started, the provider's tokens
    checked, the person found, a console session. Every refusal is a page and (once this
    browser is known to have a sign-in under way) an audit event."""
    title = "Single sign-on did not work"
    if not settings.sso_enabled:
        return _refused(request, NotFound(NO_SSO), title=title)
    issuer = settings.oidc_issuer
    if error and not state:  # the provider refused without saying which sign-in it was
        return _refused(request, websessions.SsoRefused(oidc.CANCELLED, reason=""), title=title)
    try:
        # In a transaction of its own, committed before the provider is asked anything: the
        # sign-in is used up even if what follows fails, and no lock waits on the network.
        with session_scope(request.app.state.engine, request.app.state.session_info) as own:
            pending = websessions.take_sso_login(
                own, browser=request.cookies.get(SSO_COOKIE), state=state, issuer=issuer
            )
    except websessions.SsoRefused as exc:
        return _refused(request, exc, title=title)
    try:
        if error or not code:
            # The provider's error code (RFC 6749 names them in lower case), nothing else.
            named = error if re.fullmatch(r"[a-z_]{1,40}", error) else "other"
            reason = f"provider_refused:{named}" if error else "no_code"
            raise websessions.SsoRefused(oidc.CANCELLED, reason=reason)
        identity = oidc.provider(settings).finish(
            code=code[:2000], nonce=pending.nonce, code_verifier=pending.code_verifier
        )
    except (websessions.SsoRefused, oidc.ProviderUnavailable) as exc:
        log.warning("single sign-on refused: %s", exc.reason)
        websessions.record_sso_refusal(session, reason=exc.reason, issuer=issuer)
        return _refused(request, exc, title=title)
    signed, refusal = attempt(
        request,
        session,
        lambda: websessions.sign_in_sso(session, settings=settings, identity=identity),
    )
    if signed is None:
        assert refusal is not None
        return _refused(request, refusal, title=title)
    cookie, _, _ = signed
    response = _onward(
        request, title="Signed in", url=pending.next_path, link="Continue to the console"
    )
    _session_cookie(request, response, settings, cookie)
    return response


@router.get(oidc.SIGNED_OUT_PATH)
def sso_signed_out() -> Response:
    """Where the identity provider sends the browser back after signing out there."""
    return render.back("/login", "signed_out")


@router.post("/logout")
def logout(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """End the console session and, for one begun by single sign-on, the provider's too
    (when it offers that)."""
    web, actor = posted(request, session, settings, csrf)
    websessions.sign_out(session, web=web, actor=actor)
    response: Response = render.back("/login", "signed_out")
    if web.token_id is None and settings.sso_enabled:
        there = oidc.provider(settings).logout_url(
            id_token=web.id_token,
            post_logout_redirect_uri=settings.public_url + oidc.SIGNED_OUT_PATH,
        )
        if there:
            # A page, not a redirect: a form's redirect to another site is blocked by the
            # console's form-action policy.
            response = _onward(
                request,
                title="Signing you out",
                url=there,
                link="Sign out at the government sign-in service too",
            )
    response.delete_cookie(COOKIE, path="/")
    return response
