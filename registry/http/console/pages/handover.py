"""A handover: previewed, then confirmed, by CED or an administrator."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session

from registry import permissions
from registry.config import Settings
from registry.http.console import render
from registry.http.console.deps import attempt, posted, signed_in
from registry.http.deps import SessionDep, SettingsDep
from registry.services import handover

router = APIRouter(prefix="/console/handover")

TITLE = "Handover"


@router.get("", response_class=HTMLResponse)
def handover_form(request: Request, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    web, actor = signed_in(request, session, settings)
    if not permissions.can_run_handover(actor):  # the form only for those the service lets run it
        raise permissions.refusal(actor, permissions.RUNNERS, to="run a handover")
    return render.page(
        request,
        "handover/handover.html",
        title=TITLE,
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
    web, actor = posted(request, session, settings, csrf)
    report, error = attempt(
        request,
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
    return render.page(
        request,
        "handover/handover.html",
        title=TITLE,
        actor=actor,
        csrf=web.csrf,
        status_code=200 if error is None else error.status_code,
        report=report,
        departing=departing,
        successor=successor,
        **render.error_context(error),
    )


@router.post("/preview", response_class=HTMLResponse)
def handover_preview(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    departing: Annotated[str, Form(max_length=254)],
    successor: Annotated[str, Form(max_length=254)],
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> HTMLResponse:
    return _handover(request, session, settings, departing, successor, csrf, dry_run=True)


@router.post("/confirm", response_class=HTMLResponse)
def handover_confirm(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    departing: Annotated[str, Form(max_length=254)],
    successor: Annotated[str, Form(max_length=254)],
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> HTMLResponse:
    return _handover(request, session, settings, departing, successor, csrf, dry_run=False)
