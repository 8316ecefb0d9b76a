"""Administration: the people of the registry (add them, change their roles and department)
and its departments. Administrators only; anyone else is shown the refusal.

The forms call the services the API and the command line call (``people.add_person``,
``people.update_person``, ``departments.add_department``); a refused form keeps what was typed
and shows the refusal next to the field it names, with a summary at the top.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import StringConstraints
from sqlmodel import Session

from registry import permissions
from registry.errors import RegistryError
from registry.http.console import render
from registry.http.console.deps import attempt, posted, signed_in
from registry.http.console.paging import CONSOLE_PAGE, CursorParam, cursor_of, pager
from registry.http.deps import RowId, SessionDep, SettingsDep
from registry.models import PersonPublic, PersonStatus, Role, WebSession
from registry.paging import Page
from registry.permissions import Actor
from registry.services import departments, people, websessions

router = APIRouter(prefix="/console")

# The roles ticked on a form: each a short word, at most one of each.
RolesForm = Annotated[
    list[Annotated[str, StringConstraints(max_length=32)]] | None, Form(max_length=len(Role))
]

PEOPLE_TITLE = "People"
DEPARTMENTS_TITLE = "Departments"

# What each role lets a person do, shown beside its checkbox.
ROLE_HINTS: dict[Role, str] = {
    Role.requester: "asks for accounts and their decommissioning",
    Role.dept_approver: "the department's executive: gives the department's approval",
    Role.ced: "CED staff: gives the final approval and keeps the credentials",
    Role.admin: "manages people, departments and API tokens",
    Role.auditor: "reads every department, the audit log and the compliance report",
}

# How a refusal names the field it is about, by the words it begins with or contains (the
# services' sentences name their field first: rules.parse_email, clean_text, get_by_code).
_STARTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("email", ("E-mail", "An e-mail address")),
    ("name", ("Name ",)),
    ("department", ("No department with code",)),
    ("roles", ("The ced role", "Unknown role")),
    ("code", ("Department code",)),
)
_CONTAINS: tuple[tuple[str, str], ...] = (
    ("email", "is already registered"),
    ("roles", "needs at least one role"),
    ("roles", "last active administrator"),
    ("department", "cannot leave CED"),
    ("code", "already exists"),
)


def field_of(error: RegistryError, fields: Sequence[str]) -> str | None:
    """Which of the form's ``fields`` a refusal is about (None: the summary alone shows it)."""
    message = error.message
    for name, starts in _STARTS:
        if name in fields and message.startswith(starts):
            return name
    for name, phrase in _CONTAINS:
        if name in fields and phrase in message:
            return name
    if "code" in fields and message.startswith("Department name"):
        return "name"
    return None


def refusal_of(error: RegistryError | None, fields: Sequence[str]) -> dict[str, Any] | None:
    """What a form shows of a refusal: the field it names, its sentence and its problems."""
    if error is None:
        return None
    return {"field": field_of(error, fields), **render.error_context(error)}


def person_path(email: str) -> str:
    """A person's page: their address, escaped as a path segment (an address may hold '?',
    '#' or '%'; one holding '/' has no page, as it has no ``GET /people/{email}``)."""
    return "/console/people/" + quote(email, safe="@")


@dataclass
class PersonForm:
    """The "Add a person" form as typed (or the change form, filled from the person)."""

    email: str = ""
    name: str = ""
    department: str = ""
    roles: list[str] = field(default_factory=lambda: [Role.requester.value])


def _refuse_non_admin(
    request: Request, web: WebSession, actor: Actor, *, to: str
) -> HTMLResponse | None:
    """The refusal page for anyone but an administrator (None for an administrator)."""
    if permissions.can_manage_people(actor):
        return None
    return render.error_page(
        request,
        permissions.refusal(actor, permissions.ADMINISTRATORS, to=to),
        title="Not available",
        actor=actor,
        csrf=web.csrf,
    )


def _common(session: Session) -> dict[str, Any]:
    return {
        "departments": list(departments.list_departments(session)),
        "roles": [(r.value, ROLE_HINTS[r]) for r in Role],
    }


# ------------------------------------------------------------------------------ people


def _people_page(
    request: Request,
    session: Session,
    web: WebSession,
    actor: Actor,
    *,
    department: str,
    cursor: str,
    form: PersonForm,
    error: RegistryError | None = None,
    notice: str = "",
) -> HTMLResponse:
    listed, list_error = attempt(
        request,
        session,
        lambda: people.list_people(
            session,
            actor=actor,
            department=department or None,
            limit=CONSOLE_PAGE,
            after=cursor_of(people.ORDER, cursor),
        ),
    )
    rows: Page[PersonPublic] = listed if listed is not None else Page()
    shown = error or list_error
    return render.page(
        request,
        "admin/people.html",
        title=PEOPLE_TITLE,
        actor=actor,
        csrf=web.csrf,
        status_code=200 if shown is None else shown.status_code,
        people=[(p, person_path(p.email)) for p in rows],
        pager=pager(request, people.ORDER, rows),
        department=department,
        form=form,
        refusal=refusal_of(error, ("email", "name", "department", "roles")),
        notice=notice,
        **render.error_context(list_error),
        **_common(session),
    )


@router.get("/people", response_class=HTMLResponse)
def people_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    department: Annotated[str, Query(max_length=32)] = "",
    cursor: CursorParam = "",
    notice: str = "",
) -> HTMLResponse:
    web, actor = signed_in(request, session, settings)
    refused = _refuse_non_admin(request, web, actor, to="manage people")
    if refused is not None:
        return refused
    return _people_page(
        request,
        session,
        web,
        actor,
        department=department,
        cursor=cursor,
        form=PersonForm(),
        notice=render.notice(notice),
    )


@router.post("/people", response_class=HTMLResponse)
def add_person(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    csrf: Annotated[str, Form(max_length=100)] = "",
    email: Annotated[str, Form(max_length=320)] = "",
    name: Annotated[str, Form(max_length=400)] = "",
    department: Annotated[str, Form(max_length=64)] = "",
    roles: RolesForm = None,
) -> Response:
    web, actor = posted(request, session, settings, csrf)
    form = PersonForm(email=email, name=name, department=department, roles=roles or [])
    added, error = attempt(
        request,
        session,
        lambda: people.add_person(
            session,
            settings=settings,
            actor=actor,
            email=form.email,
            name=form.name,
            department=form.department,
            roles=form.roles,
        ),
    )
    if error is not None:
        if not permissions.can_manage_people(actor):
            return render.error_page(request, error, actor=actor, csrf=web.csrf)
        return _people_page(
            request, session, web, actor, department="", cursor="", form=form, error=error
        )
    assert added is not None  # attempt returns a result or a refusal
    return render.back(person_path(added.email), "person_added")


def _person_page(
    request: Request,
    session: Session,
    web: WebSession,
    actor: Actor,
    email: str,
    *,
    form: PersonForm | None = None,
    error: RegistryError | None = None,
    notice: str = "",
) -> HTMLResponse:
    shown, missing = attempt(
        request, session, lambda: people.show_person(session, actor=actor, email=email)
    )
    if missing is not None:
        return render.error_page(
            request, missing, title="Not available", actor=actor, csrf=web.csrf
        )
    assert shown is not None  # attempt returns a result or a refusal
    return render.page(
        request,
        "admin/person.html",
        title=f"{shown.name} ({shown.email})",
        actor=actor,
        csrf=web.csrf,
        status_code=200 if error is None else error.status_code,
        person=shown,
        identities=websessions.identities_of(session, person_id=shown.id),
        path=person_path(shown.email),
        active=shown.status == PersonStatus.active,
        form=form
        or PersonForm(
            email=shown.email, name=shown.name, department=shown.department, roles=shown.roles
        ),
        refusal=refusal_of(error, ("department", "roles")),
        notice=notice,
        **_common(session),
    )


@router.get("/people/{email}", response_class=HTMLResponse)
def person_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    email: str,
    notice: str = "",
) -> HTMLResponse:
    web, actor = signed_in(request, session, settings)
    refused = _refuse_non_admin(request, web, actor, to="manage people")
    if refused is not None:
        return refused
    return _person_page(request, session, web, actor, email, notice=render.notice(notice))


@router.post("/people/{email}", response_class=HTMLResponse)
def update_person(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    email: str,
    csrf: Annotated[str, Form(max_length=100)] = "",
    department: Annotated[str, Form(max_length=64)] = "",
    roles: RolesForm = None,
) -> Response:
    web, actor = posted(request, session, settings, csrf)
    updated, error = attempt(
        request,
        session,
        lambda: people.update_person(
            session,
            settings=settings,
            actor=actor,
            email=email,
            roles=roles or [],
            department=department or None,
        ),
    )
    if error is not None:
        if not permissions.can_manage_people(actor):
            return render.error_page(request, error, actor=actor, csrf=web.csrf)
        form = PersonForm(email=email, department=department, roles=roles or [])
        return _person_page(request, session, web, actor, email, form=form, error=error)
    assert updated is not None  # attempt returns a result or a refusal
    return render.back(person_path(updated.email), "person_updated")


@router.post("/people/{email}/identities/{identity_id}/unbind", response_class=HTMLResponse)
def unbind_identity(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    email: str,
    identity_id: RowId,
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Forget the person's subject at a provider: their next single sign-on binds again by
    their registered e-mail (an administrator's decision when the provider's address changed)."""
    web, actor = posted(request, session, settings, csrf)
    _, error = attempt(
        request,
        session,
        lambda: websessions.unbind_identity(
            session,
            actor=actor,
            email=email,
            identity_id=identity_id,
        ),
    )
    if error is not None:
        if not permissions.can_manage_people(actor):
            return render.error_page(request, error, actor=actor, csrf=web.csrf)
        return _person_page(request, session, web, actor, email, error=error)
    return render.back(person_path(email), "identity_unbound")


# ------------------------------------------------------------------------------ departments


def _departments_page(
    request: Request,
    session: Session,
    web: WebSession,
    actor: Actor,
    *,
    cursor: str,
    code: str = "",
    name: str = "",
    error: RegistryError | None = None,
    notice: str = "",
) -> HTMLResponse:
    listed, list_error = attempt(
        request,
        session,
        lambda: departments.list_departments(
            session, limit=CONSOLE_PAGE, after=cursor_of(departments.ORDER, cursor)
        ),
    )
    rows = listed if listed is not None else Page()
    shown = error or list_error
    return render.page(
        request,
        "admin/departments.html",
        title=DEPARTMENTS_TITLE,
        actor=actor,
        csrf=web.csrf,
        status_code=200 if shown is None else shown.status_code,
        rows=rows,
        pager=pager(request, departments.ORDER, rows),
        code=code,
        name=name,
        refusal=refusal_of(error, ("code", "name")),
        notice=notice,
        **render.error_context(list_error),
    )


@router.get("/departments", response_class=HTMLResponse)
def departments_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    cursor: CursorParam = "",
    notice: str = "",
) -> HTMLResponse:
    web, actor = signed_in(request, session, settings)
    refused = _refuse_non_admin(request, web, actor, to="manage departments")
    if refused is not None:
        return refused
    return _departments_page(
        request, session, web, actor, cursor=cursor, notice=render.notice(notice)
    )


@router.post("/departments", response_class=HTMLResponse)
def add_department(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    csrf: Annotated[str, Form(max_length=100)] = "",
    code: Annotated[str, Form(max_length=64)] = "",
    name: Annotated[str, Form(max_length=400)] = "",
) -> Response:
    web, actor = posted(request, session, settings, csrf)
    _, error = attempt(
        request,
        session,
        lambda: departments.add_department(session, actor=actor, code=code, name=name),
    )
    if error is not None:
        if not permissions.can_manage_departments(actor):
            return render.error_page(request, error, actor=actor, csrf=web.csrf)
        return _departments_page(
            request, session, web, actor, cursor="", code=code, name=name, error=error
        )
    return render.back("/console/departments", "department_added")
