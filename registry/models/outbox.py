from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Index, Text
from sqlmodel import Field, SQLModel

from registry.enums import OutboxStatus
from registry.models.base import UTCDateTime, sql_in, utcnow


class OutboxMessage(SQLModel, table=True):
    """One e-mail to one person, written in the same transaction as the change that causes it
    (next to its audit event) and delivered later by ``registry notify run``.

    The message is rendered when it is queued, so what is listed is exactly what is sent, and
    it never holds a secret. ``message_id`` is the ``Message-ID`` header, fixed at queue time,
    so a message sent again after a crash is folded by mail clients. ``dedupe_key`` is set on
    reminders (kind, recipient and day), so a reminder is queued at most once a day.
    ``claimed_until`` is a worker's lease: while it lasts, no other worker takes the message.
    """

    __tablename__ = "outbox_message"
    __table_args__ = (
        CheckConstraint(f"status IN ({sql_in(OutboxStatus)})", name="status"),
        # The worker's claim: queued messages whose next attempt is due, oldest first.
        Index("ix_outbox_message_due", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    event: str = Field(max_length=64)
    recipient: str = Field(max_length=254, index=True)
    person_id: int | None = Field(default=None, foreign_key="person.id")
    subject: str = Field(max_length=300)
    body_text: str = Field(sa_type=Text)
    body_html: str = Field(sa_type=Text)
    message_id: str = Field(max_length=255, unique=True)
    dedupe_key: str | None = Field(default=None, max_length=300, unique=True)
    status: str = Field(default=OutboxStatus.queued, max_length=16)
    attempts: int = Field(default=0)
    next_attempt_at: dt.datetime = Field(
        default_factory=utcnow, sa_type=UTCDateTime, nullable=False
    )
    claimed_until: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, max_length=500)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    sent_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)


class OutboxMessagePublic(SQLModel):
    """A message as `registry notify list` and the console show it (no body)."""

    id: int
    event: str
    recipient: str
    subject: str
    status: str
    attempts: int
    last_error: str | None
    created_at: dt.datetime
    next_attempt_at: dt.datetime
    sent_at: dt.datetime | None
