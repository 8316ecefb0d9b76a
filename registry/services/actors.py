"""Who is acting: loading a person, and the Actor every permission question is asked about.

Loading a person, by what the caller has:

- :func:`find_person` (an e-mail) -> the ``Person`` row, or NotFound;
- :func:`actor_for` (a loaded ``Person``), :func:`actor_by_id` (a person id: a token's or a
  console session's owner), :func:`actor_by_email` (an e-mail: ``--as``) -> an :class:`Actor`,
  refusing anyone who has left (Unauthenticated).

``Actor`` itself is defined in ``registry.permissions``, below the services, which asks what
an actor may do; the services and the edges name it from here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from registry.config import Settings
from registry.errors import InvalidInput, NotFound, Unauthenticated
from registry.models import Department, Person, PersonRole, PersonStatus, Role
from registry.permissions import Actor as Actor  # defined below the services; named from here
from registry.rules import parse_email


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
    """The Actor for a person id (a token's or a console session's owner), refusing leavers.
    The refusals speak of a token: the callers say the same whatever went wrong."""
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


def actor_by_email(session: Session, settings: Settings, email: str | None) -> Actor:
    """The Actor an e-mail names (any case), refused when missing, unknown or gone."""
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
