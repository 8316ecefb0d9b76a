"""Who is acting, what they may see, and the role checks every service uses."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlmodel import Session, select

from registry.config import Settings
from registry.errors import Forbidden, InvalidInput, NotFound, Unauthenticated
from registry.models import Department, Person, PersonRole, PersonStatus, Role
from registry.rules import parse_email

# Roles whose holders may see every department's accounts and people.
SEE_ALL_ROLES = frozenset({Role.ced, Role.admin, Role.auditor})


@dataclass(frozen=True)
class Actor:
    """A person acting now, with the facts every permission check needs."""

    person: Person
    roles: frozenset[Role]
    department_id: int
    department_code: str
    is_ced_staff: bool

    @property
    def id(self) -> int:
        assert self.person.id is not None
        return self.person.id

    @property
    def email(self) -> str:
        return self.person.email

    def has(self, *roles: Role) -> bool:
        return any(role in self.roles for role in roles)

    @property
    def sees_all(self) -> bool:
        return self.is_ced_staff or self.has(*SEE_ALL_ROLES)

    def require(self, *roles: Role, to: str) -> None:
        """Refuse unless the actor holds one of ``roles``; ``to`` completes 'may not ...'."""
        if not self.has(*roles):
            needed = " or ".join(role.value for role in roles)
            raise Forbidden(f"{self.email} may not {to}; that needs the {needed} role.")


def normalize_email(raw: str) -> str:
    local, domain = parse_email(raw)
    return f"{local}@{domain}"


def roles_of(session: Session, person_ids: Iterable[int]) -> dict[int, set[str]]:
    """Every role of each person in ``person_ids``, in one query."""
    ids = list(set(person_ids))
    found: dict[int, set[str]] = {pid: set() for pid in ids}
    if ids:
        rows = session.exec(select(PersonRole).where(PersonRole.person_id.in_(ids)))  # type: ignore[attr-defined]
        for row in rows:
            found[row.person_id].add(row.role)
    return found


def find_person(session: Session, email: str) -> Person:
    """The person with ``email`` (any case), or NotFound naming the address."""
    try:
        address = normalize_email(email)
    except InvalidInput:
        raise NotFound(f"No person with e-mail {email.strip()!r} is registered.") from None
    person = session.exec(select(Person).where(Person.email == address)).first()
    if person is None:
        raise NotFound(f"No person with e-mail {address} is registered.")
    return person


def actor_for(session: Session, settings: Settings, person: Person) -> Actor:
    """The Actor for an already loaded person, refusing anyone who has left."""
    if person.status != PersonStatus.active:
        raise Unauthenticated(f"{person.email} has left government and can no longer act.")
    assert person.id is not None
    department = session.get(Department, person.department_id)
    assert department is not None
    roles = frozenset(Role(r) for r in roles_of(session, [person.id])[person.id])
    return Actor(
        person=person,
        roles=roles,
        department_id=department.id or 0,
        department_code=department.code,
        is_ced_staff=department.code == settings.ced_department,
    )


def resolve_actor(session: Session, settings: Settings, email: str | None) -> Actor:
    """The person an e-mail names, refused when missing, unknown or gone."""
    if not email or not email.strip():
        raise Unauthenticated(
            "Say who is acting: pass --as EMAIL or set REGISTRY_ACTOR to a registered person."
        )
    try:
        person = find_person(session, email)
    except NotFound as exc:
        raise Unauthenticated(exc.message) from None
    return actor_for(session, settings, person)
