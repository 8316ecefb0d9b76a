"""Departments: listed for anyone signed in, added by administrators."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from registry.defaults import PAGE_LIMIT
from registry.http.api.errors import error_responses
from registry.http.api.paging import CursorQuery, LimitQuery, link_page
from registry.http.deps import ActorDep, SessionDep
from registry.models import DepartmentBase, DepartmentPublic
from registry.services import departments

router = APIRouter(prefix="/departments", tags=["departments"])


@router.get("", response_model=list[DepartmentPublic], responses=error_responses(401, 403, 422))
def list_departments(
    request: Request,
    response: Response,
    session: SessionDep,
    _signed_in: ActorDep,
    limit: LimitQuery = PAGE_LIMIT,
    cursor: CursorQuery = None,
) -> list[DepartmentPublic]:
    """Departments, by code, a page at a time (the next in the ``Link`` header)."""
    page = departments.list_departments(
        session, limit=limit, after=departments.ORDER.decode(cursor)
    )
    link_page(request, response, departments.ORDER, page)
    return [DepartmentPublic.model_validate(d, from_attributes=True) for d in page]


@router.post(
    "",
    response_model=DepartmentPublic,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(401, 403, 409, 422),
)
def add_department(body: DepartmentBase, session: SessionDep, actor: ActorDep) -> DepartmentPublic:
    dept = departments.add_department(session, actor=actor, code=body.code, name=body.name)
    return DepartmentPublic.model_validate(dept, from_attributes=True)
