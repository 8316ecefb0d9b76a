"""Notifications: who hears of what (DESIGN.md, "Notifications"), queued in the outbox.

A service that changes something calls :func:`queue` right where it records the audit event,
in the caller's transaction: a rolled-back change queues nothing, a committed one is never
lost. ``registry.jobs.delivery`` sends the outbox later, in transactions of its own.

Recipients are resolved when the message is queued: people who have left are skipped, CED
notices go to ``REGISTRY_CED_MAILBOX`` or else to every active ``ced`` person, and a person
named twice (a requester who is also a new holder) gets one message. Each message is rendered
then, per recipient (plain text and HTML from ``templates/mail``), with a link to the console
page where they act and why they received it. Messages name things (a request, an account,
a person) and never carry a secret.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import jinja2
from sqlalchemy import insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from registry.config import Settings
from registry.enums import OutboxStatus
from registry.errors import InvalidInput
from registry.models import OutboxMessage, Person, PersonRole, PersonStatus, Role, utcnow
from registry.platforms import get_platform, handle_label

OUTBOX = OutboxMessage.metadata.tables["outbox_message"]
TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "mail"
SUBJECT_MAX = 300
CHUNK = 500  # rows per INSERT of reminders (16 parameters each)


@dataclass(frozen=True)
class Recipient:
    """One address and why it hears of this (the last line of the message)."""

    email: str
    why: str
    person_id: int | None = None


@dataclass(frozen=True)
class Mail:
    """What a message says, before it is rendered for each recipient.

    ``paragraphs`` are sentences; ``items`` a list shown under them; ``facts`` label/value
    pairs (a request's platform, department...); ``action`` the link text and the console
    path where the recipient acts. Values are data: the HTML template escapes them.
    """

    subject: str
    paragraphs: Sequence[str]
    action: tuple[str, str]
    facts: Sequence[tuple[str, str]] = ()
    items: Sequence[str] = ()
    greeting: str = "Hello,"
    extra: dict[str, str] = field(default_factory=dict)


# ------------------------------------------------------------------------------ recipients


def person(row: Person | None, why: str) -> list[Recipient]:
    """``row`` as a recipient, or nobody when they have left (or are unknown)."""
    if row is None or row.status != PersonStatus.active:
        return []
    return [Recipient(email=row.email, why=why, person_id=row.id)]


def people_with_role(
    session: Session, role: Role, *, department_id: int | None = None
) -> list[Person]:
    """Active people with ``role`` (in ``department_id``, when given), by e-mail."""
    query = (
        select(Person)
        .join(PersonRole, col(PersonRole.person_id) == Person.id)
        .where(PersonRole.role == role.value, Person.status == PersonStatus.active.value)
        .order_by(col(Person.email))
    )
    if department_id is not None:
        query = query.where(Person.department_id == department_id)
    return list(session.exec(query).unique())


def executives(
    session: Session, department_id: int, *, code: str, leave_out: Iterable[int | None] = ()
) -> list[Recipient]:
    """The department's executives (``dept_approver``), without ``leave_out`` (a requester
    may not decide their own request, so it does not await them)."""
    skip = set(leave_out)
    why = f"You receive this as a department executive (dept_approver) of {code}."
    return [
        Recipient(email=p.email, why=why, person_id=p.id)
        for p in people_with_role(session, Role.dept_approver, department_id=department_id)
        if p.id not in skip
    ]


def ced(
    session: Session, settings: Settings, *, leave_out: Iterable[int | None] = ()
) -> list[Recipient]:
    """CED: its shared mailbox when one is set, else every active ``ced`` person (without
    ``leave_out``: people a decision may not come from, or who did the thing)."""
    if settings.ced_mailbox:
        why = "You receive this at CED's shared mailbox (REGISTRY_CED_MAILBOX)."
        return [Recipient(email=settings.ced_mailbox, why=why)]
    skip = set(leave_out)
    why = "You receive this as a member of CED (the ced role)."
    return [
        Recipient(email=p.email, why=why, person_id=p.id)
        for p in people_with_role(session, Role.ced)
        if p.id not in skip
    ]


# ------------------------------------------------------------------------------ queueing


def queue(
    session: Session,
    *,
    settings: Settings,
    event: str,
    mail: Mail,
    to: Iterable[Recipient],
    once_key: str | None = None,
) -> int:
    """Queue ``mail`` for each recipient (once per address) in the caller's transaction;
    returns how many were queued.

    With ``once_key`` (a reminder's kind and day), a recipient who already has a message with
    that key gets nothing: ``registry remind`` run hourly queues each reminder once a day.
    """
    now = utcnow()
    rows = []
    seen: set[str] = set()
    for recipient in to:
        address = recipient.email.lower()
        if address in seen:
            continue
        seen.add(address)
        text, html = render(mail, recipient=recipient, base_url=settings.public_url)
        rows.append(
            {
                "event": event,
                "recipient": recipient.email,
                "person_id": recipient.person_id,
                "subject": one_line(mail.subject),
                "body_text": text,
                "body_html": html,
                "message_id": f"registry.{secrets.token_hex(16)}",
                "dedupe_key": f"{once_key}:{address}" if once_key else None,
                "status": OutboxStatus.queued.value,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
        )
    if not rows:
        return 0
    if once_key is None:
        session.execute(insert(OUTBOX), rows)
        return len(rows)
    dialect = session.get_bind().dialect.name
    builder = postgresql.insert if dialect == "postgresql" else sqlite.insert
    inserted = 0
    for start in range(0, len(rows), CHUNK):  # within SQLite's limit of bound parameters
        statement = (
            builder(OUTBOX)
            .values(rows[start : start + CHUNK])
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
            .returning(OUTBOX.c.id)
        )
        inserted += len(session.execute(statement).all())  # new rows, not those already there
    return inserted


def one_line(text: str) -> str:
    """A header value: one line (no CR/LF to inject headers with), at most SUBJECT_MAX long."""
    flat = " ".join(text.split())
    return flat if len(flat) <= SUBJECT_MAX else flat[: SUBJECT_MAX - 1] + "…"


def named(platform: str | None, handle: str | None) -> str:
    """How a message names an account: ``Facebook @MBAgNews``."""
    if not platform or not handle:
        return "an account"
    try:
        return handle_label(get_platform(platform), handle)
    except InvalidInput:  # a platform no longer known: name it as stored
        return f"{platform} @{handle}"


# ------------------------------------------------------------------------------ rendering


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(mail: Mail, *, recipient: Recipient, base_url: str) -> tuple[str, str]:
    """The plain-text and HTML bodies of ``mail`` for ``recipient``."""
    env = _environment()
    label, path = mail.action
    context = {
        "mail": mail,
        "why": recipient.why,
        "link_text": label,
        "link": base_url.rstrip("/") + path,
        "home": base_url.rstrip("/") + "/console",
    }
    return (
        env.get_template("message.txt").render(context),
        env.get_template("message.html").render(context),
    )
