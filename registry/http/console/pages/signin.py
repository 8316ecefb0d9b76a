"""Signing in to the console with an API token, and signing out."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from registry.http.console import render
from registry.http.console.deps import COOKIE, LOGIN_COOKIE, attempt, posted, set_cookie
from registry.http.deps import SessionDep, SettingsDep
from registry.services import websessions

router = APIRouter()

TITLE = "CED console sign-in"


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, notice: str = "") -> HTMLResponse:
    login_csrf = secrets.token_urlsafe(32)
    response = render.page(
        request,
        "signin/login.html",
        title=TITLE,
        login_csrf=login_csrf,
        notice=render.notice(notice),
    )
    set_cookie(request, response, LOGIN_COOKIE, login_csrf, max_age=1800)
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
        return render.page(
            request,
            "signin/login.html",
            title=TITLE,
            status_code=403,
            login_csrf=expected or secrets.token_urlsafe(32),
            error="This sign-in form has expired; reload the page and try again.",
        )
    signed, error = attempt(
        request, session, lambda: websessions.sign_in(session, settings=settings, token=token)
    )
    if signed is None:
        return render.page(
            request,
            "signin/login.html",
            title=TITLE,
            status_code=401,
            login_csrf=expected,
            **render.error_context(error),
        )
    cookie, _, _ = signed
    response = RedirectResponse("/console", status_code=303)
    set_cookie(
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
    web, actor = posted(request, session, settings, csrf)
    websessions.sign_out(session, web=web, actor=actor)
    response = render.back("/login", "signed_out")
    response.delete_cookie(COOKIE, path="/")
    return response
