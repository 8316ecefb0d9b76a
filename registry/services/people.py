from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import delete
from sqlmodel import Session, col, select

from registry import permissions
from registry.config import Settings
from registry.errors import Conflict, InvalidInput, InvalidTransition, NotFound, RuleViolation
from registry.models import (
    AccessGrant,
    Account,
    AccountStatus,
    Department,
    Person,
    PersonPublic,
    PersonRole,
    PersonStatus,
    Role,
)
from registry.paging import Key, Order, Page
from registry.rules import MIN_CED_HOLDERS, check_government_email
from registry.services import accounts, audit, departments
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
    domain (rule 2). A person holds at least one role; the ``ced`` role belongs to CED staff
    only.
    """
    if actor is not None and not permissions.can_manage_people(actor):
        raise permissions.refusal(actor, permissions.ADMINISTRATORS, to="add people")
    address = check_government_email(email, settings.approved_domains, what="E-mail")
    clean_name = clean_text(name, field="Name", max_length=NAME_LENGTH)
    dept = departments.get_by_code(session, department)
    chosen = _parse_roles(roles, address)
    _check_ced_role(settings, address, chosen, dept)
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


def _parse_roles(roles: Sequence[Role | str], address: str) -> set[Role]:
    chosen = {parse_choice(Role, str(role), what="role") for role in roles}
    if not chosen:
        raise InvalidInput(f"{address} needs at least one role; give them requester if no other.")
    return chosen


def _check_ced_role(settings: Settings, address: str, roles: set[Role], dept: Department) -> None:
    """The ``ced`` role belongs to CED staff only."""
    if Role.ced in roles and dept.code != settings.ced_department:
        raise InvalidInput(
            f"The ced role is for CED staff; {address} is in {dept.code}, "
            f"not {settings.ced_department}."
        )


def update_person(
    session: Session,
    *,
    settings: Settings,
    actor: Actor,
    email: str,
    roles: Sequence[Role | str] | None = None,
    department: str | None = None,
) -> PersonPublic:
    """Change a person's roles (the whole set, replaced) and/or department (administrators
    only), and return them as callers see them.

    Refused, changing nothing: a person who has left; no role at all; the ``ced`` role outside
    CED; taking the admin role from the last active administrator (nobody could then manage
    people or tokens); moving out of CED someone who is the only CED holder of an active account
    (rule 3: another CED holder comes first, or a handover); and a change that changes nothing.
    """
    if not permissions.can_manage_people(actor):
        raise permissions.refusal(actor, permissions.ADMINISTRATORS, to="change people")
    person = find_person(session, email)
    if person.status != PersonStatus.active:
        raise InvalidTransition(
            f"{person.email} has left government; their roles and department no longer change."
        )
    if roles is None and department is None:  # a well-formed request for no change
        raise Conflict("Nothing to change: name the roles or the department to change.")
    assert person.id is not None
    before_roles = {Role(r) for r in roles_of(session, [person.id])[person.id]}
    before_dept = session.get(Department, person.department_id)
    assert before_dept is not None
    after_roles = before_roles if roles is None else _parse_roles(roles, person.email)
    after_dept = before_dept if department is None else departments.get_by_code(session, department)
    if after_roles == before_roles and after_dept.id == before_dept.id:
        raise Conflict(f"{person.email} already has these roles and department; nothing to change.")
    _check_ced_role(settings, person.email, after_roles, after_dept)
    if Role.admin in before_roles - after_roles and is_last_administrator(session, person):
        raise InvalidTransition(
            f"{person.email} is the last active administrator; make someone else an "
            "administrator first."
        )
    if before_dept.code == settings.ced_department != after_dept.code:
        _keep_a_ced_holder(session, settings, person)
    session.execute(
        delete(PersonRole).where(
            col(PersonRole.person_id) == person.id,
            col(PersonRole.role).in_([r.value for r in before_roles - after_roles]),
        )
    )
    session.add_all(
        PersonRole(person_id=person.id, role=r.value) for r in after_roles - before_roles
    )
    person.department_id = after_dept.id or 0
    session.add(person)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="person.updated",
        entity_type="person",
        entity_id=person.id,
        details={
            "email": person.email,
            "roles": {
                "before": sorted(r.value for r in before_roles),
                "after": sorted(r.value for r in after_roles),
            },
            "department": {"before": before_dept.code, "after": after_dept.code},
        },
    )
    return _public(person, department=after_dept.code, roles=(r.value for r in after_roles))


def is_last_administrator(session: Session, person: Person) -> bool:
    """Whether ``person`` is the only active administrator. The administrators' rows stay
    locked until the transaction ends (PostgreSQL), so two people cannot each take away the
    other's admin role, or leave, at the same moment and leave the registry without one."""
    admins = session.exec(
        select(Person.id)
        .join(PersonRole, col(PersonRole.person_id) == col(Person.id))
        .where(PersonRole.role == Role.admin.value, Person.status == PersonStatus.active.value)
        .order_by(col(Person.id))
        .with_for_update()
    ).all()
    return list(admins) == [person.id]


def _keep_a_ced_holder(session: Session, settings: Settings, person: Person) -> None:
    """Refuse to move ``person`` out of CED while an active account they hold would then have
    no holder from CED (rule 3). The accounts' rows stay locked until the transaction ends, as
    every change to holders locks them (``access.lock_account``)."""
    held = session.exec(
        select(Account)
        .where(
            col(Account.id).in_(
                select(AccessGrant.account_id).where(
                    AccessGrant.person_id == person.id, col(AccessGrant.revoked_at).is_(None)
                )
            ),
            Account.status == AccountStatus.active.value,
        )
        .order_by(col(Account.id))
        .with_for_update()
    ).all()
    if not held:
        return
    holders: dict[int, list[Person]] = {a.id or 0: [] for a in held}
    for account_id, holder in session.exec(
        select(AccessGrant.account_id, Person)
        .join(Person, col(Person.id) == AccessGrant.person_id)
        .where(
            col(AccessGrant.account_id).in_(list(holders)), col(AccessGrant.revoked_at).is_(None)
        )
    ):
        holders[account_id].append(holder)
    ced_id = accounts.ced_department_id(session, settings)
    stranded = [
        accounts.label(account)
        for account in held
        if sum(
            fact.active and fact.is_ced
            for fact in accounts.holder_facts(
                [h for h in holders[account.id or 0] if h.id != person.id], ced_id=ced_id
            )
        )
        < MIN_CED_HOLDERS
    ]
    if stranded:
        count = len(stranded)
        accounts_, it = ("accounts", "them") if count != 1 else ("account", "it")
        raise RuleViolation(
            f"{person.email} cannot leave CED: they are the only CED holder of {count} active "
            f"{accounts_}; add another CED holder to {it} or hand {it} over first.",
            stranded,
        )


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
