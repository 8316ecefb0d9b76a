"""The home page: what awaits the signed-in person (decisions, reviews due, credentials to
rotate), their own requests and the accounts they hold.

Each section is there only when it can have something for the person's roles, and each is a
short list read with a LIMIT on an index, with a link on to the whole list where there is one:
the page costs the same at 100 accounts and at 100,000.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session

from registry import permissions
from registry.config import Settings
from registry.errors import RegistryError
from registry.http.console import render
from registry.http.console.deps import signed_in
from registry.http.console.paging import CONSOLE_PAGE
from registry.http.deps import SessionDep, SettingsDep
from registry.models import RequestPublic, WebSession, utcnow
from registry.paging import LAST
from registry.permissions import Actor
from registry.rules import Stage
from registry.services import awaiting
from registry.services import requests as account_requests

router = APIRouter(prefix="/console")

TITLE = "Home"
SHORT = 20  # rows of each short list on the home page (reviews, credentials, requests, accounts)


def may_decide(actor: Actor) -> bool:
    """Whether any request can ever await this person's decision (either stage's role)."""
    return any(permissions.can_decide_stage(actor, stage) for stage in Stage)


def my_requests(session: Session, actor: Actor) -> tuple[list[RequestPublic], bool]:
    """The actor's newest requests, newest first, and whether they made older ones too."""
    page = account_requests.list_requests(session, actor=actor, mine=True, limit=SHORT, after=LAST)
    return list(reversed(page)), page.prev is not None


def home_page(
    request: Request,
    session: Session,
    settings: Settings,
    web: WebSession,
    actor: Actor,
    *,
    notice: str = "",
    error: RegistryError | None = None,
) -> HTMLResponse:
    """The home page, with the notice of a redirect or the refusal of a decision taken on it
    (then with the refusal's status)."""
    context: dict[str, Any] = {}
    if may_decide(actor):
        context["decisions"] = account_requests.list_requests(
            session, actor=actor, awaiting_me=True, limit=CONSOLE_PAGE
        )
    if awaiting.may_follow_reviews(actor):
        context["reviews"] = awaiting.reviews_due(session, actor=actor, limit=SHORT)
        context["may_review"] = permissions.can_review(actor)
    held = awaiting.held_accounts(session, actor=actor, limit=SHORT)
    if permissions.can_hold_credentials(actor) or held.count:
        context["rotations"] = awaiting.rotation_due(
            session, settings=settings, actor=actor, limit=SHORT
        )
        context["all_credentials"] = permissions.can_hold_credentials(actor)
    mine, older = my_requests(session, actor)
    return render.page(
        request,
        "home/home.html",
        title=TITLE,
        actor=actor,
        csrf=web.csrf,
        status_code=200 if error is None else error.status_code,
        notice=notice,
        mine=mine,
        more_mine=older,
        today=utcnow().date(),
        held=held,
        notice_days=awaiting.REVIEW_NOTICE_DAYS,
        rotation_age_days=settings.rotation_age_days,
        **context,
        **render.error_context(error),
    )


@router.get("", response_class=HTMLResponse)
def home(
    request: Request, session: SessionDep, settings: SettingsDep, notice: str = ""
) -> HTMLResponse:
    web, actor = signed_in(request, session, settings)
    return home_page(request, session, settings, web, actor, notice=render.notice(notice))
