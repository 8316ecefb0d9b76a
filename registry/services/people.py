from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlmodel import Session, col, select

from registry import permissions
from registry.config import Settings
from registry.errors import Conflict, InvalidInput, NotFound
from registry.models import Department, Person, PersonPublic, PersonRole, Role
from registry.paging import Key, Order, Page
from registry.rules import check_government_email
from registry.services import audit, departments
from registry.services.actors import Actor, find_person, roles_of
from registry.validation import clean_text, parse_choice

NAME_LENGTH = 200  # the longest name accepted


def add_person(
    session: Session,
    *,
    settings: Settings,
    actor: Actor | None,
    email: str,
    name: str,
    department: str,
    roles: Sequence[Role | str] = (Role.requester,),
) -> PersonPublic:
    """Register a person (administrators only; ``actor`` None only during ``init``) and
    return them as callers see them.

    Everyone in the registry works for government, so the address must be on an approved
    domain (rule 2). The ``ced`` role belongs to CED staff only.
    """
    if actor is not None and not permissions.can_manage_people(actor):
        raise permissions.refusal(actor, permissions.ADMINISTRATORS, to="add people")
    address = check_government_email(email, settings.approved_domains, what="E-mail")
    clean_name = clean_text(name, field="Name", max_length=NAME_LENGTH)
    dept = departments.get_by_code(session, department)
    chosen = _parse_roles(roles)
    if Role.ced in chosen and dept.code != settings.ced_department:
        raise InvalidInput(
            f"The ced role is for CED staff; {address} is in {dept.code}, "
            f"not {settings.ced_department}."
        )
    if session.exec(select(Person).where(Person.email == address)).first():
        raise Conflict(f"{address} is already registered.")
    person = Person(email=address, name=clean_name, department_id=dept.id or 0)
    session.add(person)
    session.flush()
    assert person.id is not None
    session.add_all(PersonRole(person_id=person.id, role=role.value) for role in chosen)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="person.created",
        entity_type="person",
        entity_id=person.id,
        details={
            "email": address,
            "department": dept.code,
            "roles": sorted(r.value for r in chosen),
        },
    )
    # Everything the public view shows is at hand: no query to read it back.
    return _public(person, department=dept.code, roles=(r.value for r in chosen))


def _parse_roles(roles: Sequence[Role | str]) -> set[Role]:
    return {parse_choice(Role, str(role), what="role") for role in roles}


def to_public(session: Session, people: Sequence[Person]) -> list[PersonPublic]:
    """Public views of ``people`` with their departments and roles, in two queries."""
    roles = roles_of(session, [p.id for p in people if p.id is not None])
    dept_ids = {p.department_id for p in people}
    codes = {
        d.id: d.code
        for d in session.exec(select(Department).where(Department.id.in_(dept_ids)))  # type: ignore[union-attr]
    }
    return [
        _public(p, department=codes[p.department_id], roles=roles.get(p.id or 0, set()))
        for p in people
    ]


def _public(person: Person, *, department: str, roles: Iterable[str]) -> PersonPublic:
    return PersonPublic(
        id=person.id or 0,
        email=person.email,
        name=person.name,
        department=department,
        roles=sorted(roles),
        status=person.status,
        created_at=person.created_at,
        left_at=person.left_at,
    )


ORDER: Order[Person] = Order(
    "people", [col(Person.email), col(Person.id)], key=lambda p: (p.email, p.id)
)


def list_people(
    session: Session,
    *,
    actor: Actor,
    department: str | None = None,
    limit: int | None = None,
    after: Key | None = None,
) -> Page[PersonPublic]:
    """People the actor may see: everyone for CED, admins and auditors; else their department.
    By e-mail: ``limit`` of them after ``after`` (all if None)."""
    query = select(Person)
    if department:
        query = query.where(Person.department_id == departments.get_by_code(session, department).id)
    if not permissions.can_see_all(actor):
        query = query.where(Person.department_id == actor.department_id)
    page = ORDER.fetch(session, query, limit=limit, after=after)
    return page.map(lambda rows: to_public(session, rows))


def show_person(session: Session, *, actor: Actor, email: str) -> PersonPublic:
    person = find_person(session, email)
    if not permissions.can_see_person(actor, person):
        raise NotFound(f"No person with e-mail {person.email} is registered.")
    return to_public(session, [person])[0]
