from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Index
from sqlmodel import Field, SQLModel

from registry.models.base import UTCDateTime, utcnow


class AuditEvent(SQLModel, table=True):
    """One thing that happened, written in the same transaction as the change it records.

    Rows are only ever inserted. ``details`` never holds a secret. ``seq`` numbers events
    without gaps; ``hash = HMAC-SHA256(audit key, prev_hash || canonical event)`` chains them
    (see ``registry.services.audit``). An event written while the keyring could not be opened
    has no hash yet; it is sealed, in order, by the next append that has the key.
    """

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_entity", "entity_type", "entity_id"),
        # The audit log browser's filters: by who (newest first) and by a range of dates.
        Index("ix_audit_event_actor_email", "actor_email", "seq"),
        Index("ix_audit_event_at", "at"),
    )

    seq: int | None = Field(default=None, primary_key=True)
    at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    actor_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    actor_email: str | None = Field(default=None, max_length=254)
    action: str = Field(max_length=64, index=True)
    entity_type: str = Field(max_length=32)
    entity_id: str = Field(max_length=64)
    details: dict[str, Any] = Field(default_factory=dict, sa_type=JSON, nullable=False)
    prev_hash: str | None = Field(default=None, max_length=64)
    hash: str | None = Field(default=None, max_length=64)
    sealed_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)


class AuditHead(SQLModel, table=True):
    """The one row every append locks: the last sequence number and the last sealed hash."""

    __tablename__ = "audit_head"

    id: int = Field(default=1, primary_key=True)
    last_seq: int = 0
    last_hash: str = Field(default="", max_length=64)
    sealed_through: int = 0


class AuditEventPublic(SQLModel):
    seq: int
    at: dt.datetime
    actor: str | None
    action: str
    entity_type: str
    entity_id: str
    details: dict[str, Any]
    hash: str | None
