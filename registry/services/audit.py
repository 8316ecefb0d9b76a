"""Recording what happened, in the same transaction as the change itself."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session

from registry.models import AuditEvent, utcnow
from registry.services.actors import Actor

# Core inserts into the table: much cheaper than ORM units of work on hot paths.
AUDIT = AuditEvent.metadata.tables["audit_event"]


def record(
    session: Session,
    *,
    actor: Actor | None,
    action: str,
    entity_type: str,
    entity_id: object,
    details: dict[str, Any] | None = None,
) -> None:
    """Append one event. ``actor`` is None only for the system itself (``registry init``)."""
    record_by(
        session,
        actor_id=actor.id if actor else None,
        actor_email=actor.email if actor else None,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        details=details,
    )


def record_by(
    session: Session,
    *,
    actor_id: int | None,
    actor_email: str | None,
    action: str,
    entity_type: str,
    entity_id: object,
    details: dict[str, Any] | None = None,
) -> None:
    """Append one event for an actor known only by id and e-mail (for example after a
    rollback). A plain INSERT, executed at once: it is in the database (in this transaction)
    before the caller goes on."""
    session.execute(
        insert(AUDIT),
        {
            "at": utcnow(),
            "actor_id": actor_id,
            "actor_email": actor_email,
            "action": action,
            "entity_type": entity_type,
            "entity_id": str(entity_id),
            "details": details or {},
        },
    )


def record_many(
    session: Session,
    *,
    actor: Actor | None,
    action: str,
    entity_type: str,
    items: Iterable[tuple[object, dict[str, Any]]],
) -> None:
    """Append one event per ``(entity_id, details)`` in a single round trip (bulk imports)."""
    now = utcnow()
    rows = [
        {
            "at": now,
            "actor_id": actor.id if actor else None,
            "actor_email": actor.email if actor else None,
            "action": action,
            "entity_type": entity_type,
            "entity_id": str(entity_id),
            "details": details,
        }
        for entity_id, details in items
    ]
    if rows:
        session.execute(insert(AUDIT), rows)
