"""Handovers: everything a leaver holds passed to a successor in one step."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from registry.defaults import PAGE_LIMIT
from registry.http.api.errors import error_responses
from registry.http.api.paging import CursorQuery, LimitQuery, link_page
from registry.http.deps import ActorDep, RowId, SessionDep, SettingsDep
from registry.models import HandoverCreate, HandoverReport
from registry.services import handover

router = APIRouter(prefix="/handovers", tags=["handovers"])


@router.post(
    "",
    response_model=HandoverReport,
    responses={
        201: {"model": HandoverReport, "description": "Done; a `dry_run` preview answers 200."},
        **error_responses(401, 403, 404, 409, 422),
    },
)
def run_handover(
    body: HandoverCreate,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    actor: ActorDep,
) -> HandoverReport:
    """Hand everything a leaver holds to a successor in one step; ``dry_run`` previews it."""
    report = handover.handover(
        session,
        settings=settings,
        actor=actor,
        departing=body.departing,
        successor=body.successor,
        mapping=body.map,
        dry_run=body.dry_run,
    )
    response.status_code = status.HTTP_200_OK if body.dry_run else status.HTTP_201_CREATED
    return report


@router.get("", response_model=list[HandoverReport], responses=error_responses(401, 403, 422))
def list_handovers(
    request: Request,
    response: Response,
    session: SessionDep,
    actor: ActorDep,
    limit: LimitQuery = PAGE_LIMIT,
    cursor: CursorQuery = None,
) -> list[HandoverReport]:
    """Handover records, newest first, a page at a time (the next in the ``Link`` header)."""
    page = handover.list_handovers(
        session, actor=actor, limit=limit, after=handover.ORDER.decode(cursor)
    )
    link_page(request, response, handover.ORDER, page)
    return page


@router.get(
    "/{handover_id}", response_model=HandoverReport, responses=error_responses(401, 403, 404, 422)
)
def show_handover(handover_id: RowId, session: SessionDep, actor: ActorDep) -> HandoverReport:
    return handover.show_handover(session, actor=actor, handover_id=handover_id)
