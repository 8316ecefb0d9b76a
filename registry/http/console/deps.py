"""What console pages depend on: the signed-in browser, its CSRF token, and ``attempt``.

The console signs in with an API token, which becomes an HttpOnly, SameSite=Strict session
cookie (Secure over HTTPS); every form carries the session's CSRF token.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from fastapi import Request
from fastapi.responses import Response
from sqlmodel import Session

from registry.config import Settings
from registry.db import undo
from registry.errors import RegistryError, Unauthenticated
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
        return websessions.resume(session, settings=settings, cookie=request.cookies.get(COOKIE))
    except Unauthenticated:
        raise SignInRequired from None


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
