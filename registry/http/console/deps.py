"""What console pages depend on: the signed-in browser, its CSRF token, and ``attempt``.

The console signs in by single sign-on or with an API token; either becomes an HttpOnly,
SameSite=Strict session cookie (Secure over HTTPS); every form carries the session's CSRF token.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from fastapi import Request
from fastapi.responses import Response
from sqlmodel import Session

from registry.config import Settings
from registry.db import session_scope, undo
from registry.errors import RegistryError, Unauthenticated
from registry.http.deps import READING_METHODS
from registry.models import WebSession
from registry.permissions import Actor
from registry.services import websessions

COOKIE = "registry_session"
LOGIN_COOKIE = "registry_login_csrf"

T = TypeVar("T")


class SignInRequired(Exception):
    """Raised by console pages when the browser is not signed in (answered with a redirect
    to the sign-in page)."""


def signed_in(request: Request, session: Session, settings: Settings) -> tuple[WebSession, Actor]:
    """The browser's console session and who it is, or ``SignInRequired``."""
    try:
        web, actor = websessions.resume(
            session, settings=settings, cookie=request.cookies.get(COOKIE)
        )
    except Unauthenticated:
        raise SignInRequired from None
    if websessions.needs_touch(web):
        _touch(request, session, web)
    return web, actor


def _touch(request: Request, session: Session, web: WebSession) -> None:
    """Note the session's use (its idle time counts from it), at most once a minute: in the
    request's transaction when it writes anyway, else in a short one of its own (a reading
    request's transaction takes no write lock and may not write)."""
    if request.method not in READING_METHODS or getattr(request.state, "writes", False):
        websessions.touch(session, web_id=web.id or 0)
        return
    with session_scope(request.app.state.engine, request.app.state.session_info) as own:
        websessions.touch(own, web_id=web.id or 0)


def posted(
    request: Request, session: Session, settings: Settings, csrf: str
) -> tuple[WebSession, Actor]:
    """A signed-in browser posting a form that carries its session's CSRF token."""
    web, actor = signed_in(request, session, settings)
    websessions.check_csrf(web, csrf)
    return web, actor


def attempt(
    request: Request, session: Session, work: Callable[[], T]
) -> tuple[T | None, RegistryError | None]:
    """Run a service call; a refusal is undone as ``session_scope`` undoes one (keeping what
    it says must be kept) and returned for the page to show, in the same request."""
    try:
        return work(), None
    except RegistryError as exc:
        undo(session, exc, engine=request.app.state.engine)
        return None, exc


def set_cookie(
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
