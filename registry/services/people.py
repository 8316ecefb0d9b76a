from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, select

from registry.config import Settings
from registry.errors import Conflict, InvalidInput, NotFound
from registry.models import Department, Person, PersonPublic, PersonRole, Role
from registry.rules import check_government_email
from registry.services import audit, departments
from registry.services.actors import Actor, find_person, may_see_person, roles_of
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
) -> Person:
    """Register a person (administrators only; ``actor`` None only during ``init``).

    Everyone in the registry works for government, so the address must be on an approved
    domain (rule 2). The ``ced`` role belongs to CED staff only.
    """
    if actor is not None:
        actor.require(Role.admin, to="add people")
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
    return person


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
        PersonPublic(
            id=p.id or 0,
            email=p.email,
            name=p.name,
            department=codes[p.department_id],
            roles=sorted(roles.get(p.id or 0, set())),
            status=p.status,
            created_at=p.created_at,
            left_at=p.left_at,
        )
        for p in people
    ]


def list_people(
    session: Session, *, actor: Actor, department: str | None = None
) -> list[PersonPublic]:
    """People the actor may see: everyone for CED, admins and auditors; else their department."""
    query = select(Person).order_by(Person.email)
    if department:
        query = query.where(Person.department_id == departments.get_by_code(session, department).id)
    if not actor.sees_all:
        query = query.where(Person.department_id == actor.department_id)
    return to_public(session, list(session.exec(query)))


def show_person(session: Session, *, actor: Actor, email: str) -> PersonPublic:
    person = find_person(session, email)
    if not may_see_person(actor, person):
        raise NotFound(f"No person with e-mail {person.email} is registered.")
    return to_public(session, [person])[0]
