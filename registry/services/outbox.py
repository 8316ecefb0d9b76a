"""Reading the outbox: what was queued, sent or given up on (``registry notify list`` and the
console's Notifications page). Queueing is ``registry.services.notify``; delivery is
``registry.jobs.delivery``."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import Session, col, select

from registry import permissions
from registry.enums import OutboxStatus
from registry.errors import NotFound
from registry.models import OutboxMessage, OutboxMessagePublic
from registry.paging import Key, Order, Page
from registry.services.actors import Actor
from registry.validation import parse_choice

ORDER: Order[OutboxMessage] = Order(
    "outbox", [col(OutboxMessage.id)], key=lambda m: (m.id,), descending=True
)


def require_operator(actor: Actor, *, to: str) -> None:
    """Refuse anyone but administrators and CED (Forbidden, naming the roles)."""
    if not permissions.can_operate_mail(actor):
        raise permissions.refusal(actor, permissions.MAIL_OPERATORS, to=to)


def list_messages(
    session: Session,
    *,
    actor: Actor,
    status: str | None = None,
    limit: int | None = None,
    after: Key | None = None,
) -> Page[OutboxMessagePublic]:
    """The outbox, newest first, optionally only the ``status`` ones (queued, sent, failed)."""
    require_operator(actor, to="list the e-mail outbox")
    query = select(OutboxMessage)
    if status:
        chosen = parse_choice(OutboxStatus, status, what="status")
        query = query.where(OutboxMessage.status == chosen.value)
    page = ORDER.fetch(session, query, limit=limit, after=after)
    return page.map(lambda rows: [to_public(row) for row in rows])


def to_public(row: OutboxMessage) -> OutboxMessagePublic:
    return OutboxMessagePublic.model_validate(row, from_attributes=True)


def counts(session: Session) -> dict[str, int]:
    """How many messages are in each status (every status named, zero when none)."""
    found = dict(
        session.exec(
            select(OutboxMessage.status, func.count()).group_by(col(OutboxMessage.status))
        ).all()
    )
    return {s.value: int(found.get(s.value, 0)) for s in OutboxStatus}


def get_message(session: Session, *, actor: Actor, message_id: int) -> OutboxMessage:
    """One message of the outbox with its bodies (they hold no secret by construction), for
    an operator to read what was sent; NotFound when there is no such message."""
    require_operator(actor, to="read the e-mail outbox")
    row = session.get(OutboxMessage, message_id)
    if row is None:
        raise NotFound(f"There is no message {message_id} in the outbox.")
    return row
