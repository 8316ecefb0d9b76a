"""Who is acting, what they may see, and the role checks every service uses."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from registry.config import Settings
from registry.errors import Forbidden, InvalidInput, NotFound, Unauthenticated
from registry.models import Department, Person, PersonRole, PersonStatus, Role
from registry.rules import parse_email

# Roles whose holders may see every department's accounts and people.
SEE_ALL_ROLES = frozenset({Role.ced, Role.admin, Role.auditor})


@dataclass(frozen=True)
class Actor:
    """A person acting now, with the facts every permission check needs (plain values, so
    an actor stays usable after its transaction is rolled back)."""

    id: int
    email: str
    roles: frozenset[Role]
    department_id: int
    department_code: str
    is_ced_staff: bool

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


def may_see_person(actor: Actor, person: Person) -> bool:
    """Whether ``actor`` may know that ``person`` is registered (and whether they left): CED,
    administrators and auditors see everyone, anyone else their own department. ``GET
    /people/{email}`` and every lookup of people by e-mail on an actor's behalf answer by it."""
    return actor.sees_all or person.department_id == actor.department_id


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


# Built once: the person with department and roles, in one statement. Statements made per
# call cost more to construct and key for the cache than to run; this one runs per request.
_ACTOR = (
    sa_select(
        col(Person.id),
        col(Person.email),
        col(Person.status),
        col(Person.department_id),
        col(Department.code),
        col(PersonRole.role),
    )
    .join(Department, col(Department.id) == Person.department_id)
    .outerjoin(PersonRole, col(PersonRole.person_id) == Person.id)
)
_ACTOR_BY_ID = _ACTOR.where(col(Person.id) == bindparam("person_id"))
_ACTOR_BY_EMAIL = _ACTOR.where(col(Person.email) == bindparam("email"))


def _load_actor(
    session: Session, settings: Settings, statement: Any, params: dict[str, Any]
) -> Actor | None:
    """The person the prepared ``statement`` finds with ``params``, as an Actor."""
    rows = session.execute(statement, params).all()
    if not rows:
        return None
    person_id, email, status, department_id, code, _ = rows[0]
    if status != PersonStatus.active:
        raise Unauthenticated(f"{email} has left government and can no longer act.")
    return Actor(
        id=person_id,
        email=email,
        roles=frozenset(Role(row[5]) for row in rows if row[5] is not None),
        department_id=department_id,
        department_code=code,
        is_ced_staff=code == settings.ced_department,
    )


def actor_by_id(session: Session, settings: Settings, person_id: int) -> Actor:
    """The Actor for a person id (a token's or a web session's owner), refusing leavers."""
    actor = _load_actor(session, settings, _ACTOR_BY_ID, {"person_id": person_id})
    if actor is None:
        raise Unauthenticated("The API token is missing, unknown, expired or revoked.")
    return actor


def actor_for(session: Session, settings: Settings, person: Person) -> Actor:
    """The Actor for an already loaded person, refusing anyone who has left."""
    actor = _load_actor(session, settings, _ACTOR_BY_ID, {"person_id": person.id})
    if actor is None:
        raise Unauthenticated(f"{person.email} is not a registered person.")
    return actor


def resolve_actor(session: Session, settings: Settings, email: str | None) -> Actor:
    """The person an e-mail names, refused when missing, unknown or gone."""
    if not email or not email.strip():
        raise Unauthenticated(
            "Say who is acting: pass --as EMAIL or set REGISTRY_ACTOR to a registered person."
        )
    try:
        address = normalize_email(email)
    except InvalidInput:
        raise Unauthenticated(f"No person with e-mail {email.strip()!r} is registered.") from None
    actor = _load_actor(session, settings, _ACTOR_BY_EMAIL, {"email": address})
    if actor is None:
        raise Unauthenticated(f"No person with e-mail {address} is registered.")
    return actor
