"""The public directory of active official accounts, with its "check a link" form."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from registry.http.console import render
from registry.http.console.deps import attempt
from registry.http.deps import SessionDep
from registry.platforms import PLATFORMS
from registry.services import departments, verify

router = APIRouter()


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
        answer, error = attempt(
            request,
            session,
            lambda: verify.answer(session.connection(), platform=None, handle=None, url=check),
        )
    # A refused check rolled the session back; ask it for a connection again.
    entries, list_error = attempt(
        request,
        session,
        lambda: verify.directory(
            session.connection(), query=q, platform=platform, department=department
        ),
    )
    return render.page(
        request,
        "public/directory.html",
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
        **render.error_context(error or list_error),
    )
