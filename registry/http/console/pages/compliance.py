"""The compliance report: findings per account and rule, waiting requests, totals."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from registry.http.console import render
from registry.http.console.deps import signed_in
from registry.http.deps import SessionDep, SettingsDep
from registry.services import compliance

router = APIRouter(prefix="/console/compliance")


@router.get("", response_class=HTMLResponse)
def compliance_page(request: Request, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    web, actor = signed_in(request, session, settings)
    return render.page(
        request,
        "compliance/compliance.html",
        title="Compliance report",
        actor=actor,
        csrf=web.csrf,
        report=compliance.report(session, settings=settings, actor=actor),
    )
