"""People and their roles."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response, status

from registry.defaults import PAGE_LIMIT
from registry.http.api.errors import error_responses
from registry.http.api.paging import CursorQuery, LimitQuery, link_page
from registry.http.deps import ActorDep, SessionDep, SettingsDep
from registry.models import PersonCreate, PersonPublic, PersonUpdate
from registry.services import people

router = APIRouter(prefix="/people", tags=["people"])


@router.get(
    "",
    response_model=list[PersonPublic],
    responses=error_responses(401, 403, 404, 422),  # 404: no such ``department``
)
def list_people(
    request: Request,
    response: Response,
    session: SessionDep,
    actor: ActorDep,
    department: str | None = Query(None, max_length=32),
    limit: LimitQuery = PAGE_LIMIT,
    cursor: CursorQuery = None,
) -> list[PersonPublic]:
    """The people you may see, by e-mail, a page at a time (the next in the ``Link`` header)."""
    page = people.list_people(
        session,
        actor=actor,
        department=department,
        limit=limit,
        after=people.ORDER.decode(cursor),
    )
    link_page(request, response, people.ORDER, page)
    return page


@router.post(
    "",
    response_model=PersonPublic,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(401, 403, 404, 409, 422),
)
def add_person(
    body: PersonCreate, session: SessionDep, settings: SettingsDep, actor: ActorDep
) -> PersonPublic:
    return people.add_person(
        session,
        settings=settings,
        actor=actor,
        email=body.email,
        name=body.name,
        department=body.department,
        roles=body.roles,
    )


@router.get("/{email}", response_model=PersonPublic, responses=error_responses(401, 404, 422))
def show_person(email: str, session: SessionDep, actor: ActorDep) -> PersonPublic:
    return people.show_person(session, actor=actor, email=email)


@router.patch(
    "/{email}",
    response_model=PersonPublic,
    responses=error_responses(401, 403, 404, 409, 422),
)
def update_person(
    email: str, body: PersonUpdate, session: SessionDep, settings: SettingsDep, actor: ActorDep
) -> PersonPublic:
    """Change a person's roles (the whole set) and/or department (administrators)."""
    return people.update_person(
        session,
        settings=settings,
        actor=actor,
        email=email,
        roles=body.roles,
        department=body.department,
    )
