from __future__ import annotations

import re

from sqlmodel import Session, col, select

from registry import permissions
from registry.errors import Conflict, InvalidInput, NotFound
from registry.models import Department
from registry.paging import Key, Order, Page
from registry.services import audit
from registry.services.actors import Actor
from registry.validation import clean_text

_CODE = re.compile(r"[A-Z][A-Z0-9_-]{0,31}")


def normalize_code(code: str) -> str:
    value = code.strip().upper()
    if not _CODE.fullmatch(value):
        raise InvalidInput(
            f"Department code {code.strip()!r} must be 1-32 letters, digits, '-' or '_', "
            "starting with a letter."
        )
    return value


def get_by_code(session: Session, code: str) -> Department:
    value = code.strip().upper()
    department = session.exec(select(Department).where(Department.code == value)).first()
    if department is None:
        raise NotFound(f"No department with code {value!r}.")
    return department


def add_department(session: Session, *, actor: Actor | None, code: str, name: str) -> Department:
    """Create a department (administrators only; ``actor`` None only during ``init``)."""
    if actor is not None and not permissions.can_manage_departments(actor):
        raise permissions.refusal(actor, permissions.ADMINISTRATORS, to="add departments")
    value = normalize_code(code)
    clean_name = clean_text(name, field="Department name", max_length=200)
    if session.exec(select(Department).where(Department.code == value)).first():
        raise Conflict(f"Department {value} already exists.")
    department = Department(code=value, name=clean_name)
    session.add(department)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="department.created",
        entity_type="department",
        entity_id=department.id,
        details={"code": value, "name": clean_name},
    )
    return department


ORDER: Order[Department] = Order(
    "departments", [col(Department.code), col(Department.id)], key=lambda d: (d.code, d.id)
)


def list_departments(
    session: Session, *, limit: int | None = None, after: Key | None = None
) -> Page[Department]:
    """Every department, by code: anyone signed in may list them. ``limit`` of them after
    ``after`` (all if None)."""
    return ORDER.fetch(session, select(Department), limit=limit, after=after)


def all_public(session: Session) -> list[Department]:
    """Every department, by name: public information (the directory's filter)."""
    return list(session.exec(select(Department).order_by(Department.name)))
