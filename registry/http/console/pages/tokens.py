"""API tokens: "My tokens" for everyone signed in (list and revoke their own), and for
administrators everyone's tokens (``/console/tokens/all``) and a form that creates one.

A new token's secret is in the body of the one response that creates it, never in a URL, a
redirect or a log; the page is not cached (``Cache-Control: no-store``, ``Pragma: no-cache``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from registry import permissions
from registry.errors import InvalidInput, RegistryError
from registry.http.console import render
from registry.http.console.deps import attempt, posted, signed_in
from registry.http.console.paging import CONSOLE_PAGE, CursorParam, cursor_of, pager
from registry.http.deps import RowId, SessionDep, SettingsDep
from registry.models import TokenPublic, WebSession, utcnow
from registry.paging import Page
from registry.permissions import Actor
from registry.services import tokens

router = APIRouter(prefix="/console/tokens")

MINE_TITLE = "My tokens"
ALL_TITLE = "Everyone's tokens"
MINE, ALL = "/console/tokens", "/console/tokens/all"


def _state(token: TokenPublic) -> str:
    if token.revoked_at is not None:
        return "revoked"
    return "active" if token.expires_at > utcnow() else "expired"


def _days(typed: str) -> int:
    """The number of days typed in the form (the API reads it as a JSON number)."""
    try:
        return int(typed.strip())
    except ValueError:
        raise InvalidInput(
            f"Days must be a whole number from 1 to {tokens.MAX_DAYS}, not {typed.strip()[:20]!r}."
        ) from None


def _field_of(error: RegistryError) -> str | None:
    """Which field of the "Create a token" form a refusal is about."""
    message = error.message
    if message.startswith(("A token lasts", "Days ")):
        return "days"
    if message.startswith("No person with e-mail") or "cannot be given a token" in message:
        return "email"
    return None


def _tokens_page(
    request: Request,
    session: Session,
    web: WebSession,
    actor: Actor,
    *,
    everyone: bool,
    cursor: str = "",
    email: str = "",
    days: str = "",
    error: RegistryError | None = None,
    notice: str = "",
) -> HTMLResponse:
    listed, list_error = attempt(
        request,
        session,
        lambda: tokens.list_tokens(
            session,
            actor=actor,
            email=None if everyone else actor.email,
            limit=CONSOLE_PAGE,
            after=cursor_of(tokens.ORDER, cursor),
        ),
    )
    rows: Page[TokenPublic] = listed if listed is not None else Page()
    shown = error or list_error
    context: dict[str, Any] = {}
    if error is not None:
        context["refusal"] = {"field": _field_of(error), **render.error_context(error)}
    return render.page(
        request,
        "tokens/tokens.html",
        title=ALL_TITLE if everyone else MINE_TITLE,
        actor=actor,
        csrf=web.csrf,
        status_code=200 if shown is None else shown.status_code,
        everyone=everyone,
        rows=[(t, _state(t)) for t in rows],
        pager=pager(request, tokens.ORDER, rows),
        may_create=permissions.can_manage_tokens(actor),
        signed_in_with=web.token_id,
        email=email or actor.email,
        days=days or str(tokens.DEFAULT_DAYS),
        max_days=tokens.MAX_DAYS,
        notice=notice,
        **context,
        **render.error_context(list_error),
    )


@router.get("", response_class=HTMLResponse)
def my_tokens(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    cursor: CursorParam = "",
    notice: str = "",
) -> HTMLResponse:
    web, actor = signed_in(request, session, settings)
    return _tokens_page(
        request, session, web, actor, everyone=False, cursor=cursor, notice=render.notice(notice)
    )


@router.get("/all", response_class=HTMLResponse)
def everyones_tokens(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    cursor: CursorParam = "",
    notice: str = "",
) -> HTMLResponse:
    web, actor = signed_in(request, session, settings)
    if not permissions.can_manage_tokens(actor):
        return render.error_page(
            request,
            permissions.refusal(actor, permissions.ADMINISTRATORS, to="list other people's tokens"),
            title="Not available",
            actor=actor,
            csrf=web.csrf,
        )
    return _tokens_page(
        request, session, web, actor, everyone=True, cursor=cursor, notice=render.notice(notice)
    )


@router.post("", response_class=HTMLResponse)
def create_token(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    csrf: Annotated[str, Form(max_length=100)] = "",
    email: Annotated[str, Form(max_length=320)] = "",
    days: Annotated[str, Form(max_length=20)] = "",
) -> HTMLResponse:
    web, actor = posted(request, session, settings, csrf)
    issued, error = attempt(
        request,
        session,
        lambda: tokens.create_token(session, actor=actor, email=email, days=_days(days)),
    )
    if error is not None:
        if not permissions.can_manage_tokens(actor):
            return render.error_page(request, error, actor=actor, csrf=web.csrf)
        return _tokens_page(
            request, session, web, actor, everyone=False, email=email, days=days, error=error
        )
    assert issued is not None  # attempt returns a result or a refusal
    response = render.page(
        request,
        "tokens/created.html",
        title="New API token",
        actor=actor,
        csrf=web.csrf,
        token=issued.public,
        secret=issued.token,
        may_list_all=permissions.can_manage_tokens(actor),
    )
    response.headers["Pragma"] = "no-cache"  # HTTP/1.0 caches: no-store is set by render.page
    return response


@router.post("/{token_id}/revoke", response_class=HTMLResponse)
def revoke_token(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    token_id: RowId,
    csrf: Annotated[str, Form(max_length=100)] = "",
    back: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    web, actor = posted(request, session, settings, csrf)
    _, error = attempt(
        request, session, lambda: tokens.revoke_token(session, actor=actor, token_id=token_id)
    )
    if error is not None:
        return render.error_page(request, error, actor=actor, csrf=web.csrf)
    everyone = back == "all" and permissions.can_manage_tokens(actor)
    return render.back(ALL if everyone else MINE, "token_revoked")
