"""The audit log: what happened, in the same transaction as the change, in a tamper-evident chain.

Every event gets the next sequence number (no gaps) and
``hash = HMAC-SHA256(audit key, prev_hash + "\\n" + canonical JSON of the event)``, where
``prev_hash`` is the previous event's hash. The audit key lives in the keyring, apart from the
database, so someone who can write the database alone cannot recompute the chain after
changing, deleting or reordering events. Appends lock the single ``audit_head`` row
(``SELECT ... FOR UPDATE``; SQLite's write transactions are exclusive), so concurrent
writers queue and the chain never forks.

When the keyring cannot be opened the registry keeps working: events are written unsealed
(no hash) and the next append that has the key seals them, in order, first.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from sqlalchemy import Row, bindparam, insert, select, text, update
from sqlmodel import Session

from registry import permissions
from registry.errors import InvalidInput
from registry.keys import AUDIT_KEY
from registry.models import AuditEvent, AuditEventPublic, AuditHead, utcnow
from registry.paging import Before, Key, Order, Page
from registry.services.actors import Actor
from vault import Keyring

# Core statements on the tables: much cheaper than ORM units of work on hot paths.
EVENTS = AuditEvent.metadata.tables["audit_event"]
HEAD = AuditHead.metadata.tables["audit_head"]


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
    rollback). Executed at once: it is in the database (in this transaction) before the
    caller goes on."""
    _append(
        session,
        [
            {
                "actor_id": actor_id,
                "actor_email": actor_email,
                "action": action,
                "entity_type": entity_type,
                "entity_id": str(entity_id),
                "details": details or {},
            }
        ],
    )


def record_many(
    session: Session,
    *,
    actor: Actor | None,
    action: str,
    entity_type: str,
    items: Iterable[tuple[object, dict[str, Any]]],
) -> None:
    """Append one event per ``(entity_id, details)`` in a single round trip (bulk work)."""
    _append(
        session,
        [
            {
                "actor_id": actor.id if actor else None,
                "actor_email": actor.email if actor else None,
                "action": action,
                "entity_type": entity_type,
                "entity_id": str(entity_id),
                "details": details,
            }
            for entity_id, details in items
        ],
    )


# ------------------------------------------------------------------------------ the chain


def canonical(event: Mapping[Any, Any]) -> bytes:
    """The bytes an event's hash covers: every field but the hashes, in a fixed form."""
    at = event["at"]
    fields = {
        "seq": event["seq"],
        "at": at.astimezone(dt.UTC).isoformat() if isinstance(at, dt.datetime) else at,
        "actor_id": event["actor_id"],
        "actor_email": event["actor_email"],
        "action": event["action"],
        "entity_type": event["entity_type"],
        "entity_id": event["entity_id"],
        "details": event["details"],
    }
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain_hash(key: bytes, prev_hash: str, event: Mapping[Any, Any]) -> str:
    return hmac.new(key, prev_hash.encode() + b"\n" + canonical(event), hashlib.sha256).hexdigest()


def _audit_key(session: Session) -> bytes | None:
    source: Callable[[], bytes | None] | None = session.info.get(AUDIT_KEY)
    return source() if source is not None else None


# Built once (every write appends): constructing a statement costs more than running it.
_LOCK_HEAD = select(HEAD).where(HEAD.c.id == 1).with_for_update()
_INSERT_EVENTS = insert(EVENTS)
_ADVANCE_HEAD = (
    update(HEAD)
    .where(HEAD.c.id == 1)
    .values(
        last_seq=bindparam("last_seq"),
        last_hash=bindparam("last_hash"),
        sealed_through=bindparam("sealed_through"),
    )
)
_ADVANCE_UNSEALED = update(HEAD).where(HEAD.c.id == 1).values(last_seq=bindparam("last_seq"))


def _lock_head(session: Session) -> Row[Any]:
    """The head row (created by migration 0005), locked until the transaction ends."""
    return session.connection().execute(_LOCK_HEAD).one()


def _append(session: Session, events: list[dict[str, Any]]) -> None:
    if not events:
        return
    head = _lock_head(session)
    key = _audit_key(session)
    now = utcnow()
    seq, prev, sealed_through = head.last_seq, head.last_hash, head.sealed_through
    if key is not None and sealed_through < seq:
        prev = _seal(session, key, after=sealed_through, prev=prev, now=now)
    for event in events:
        seq += 1
        event["seq"] = seq
        event["at"] = now
        if key is not None:
            event["prev_hash"] = prev
            event["hash"] = prev = chain_hash(key, prev, event)
            event["sealed_at"] = now
        else:
            event.update(prev_hash=None, hash=None, sealed_at=None)
    # Core statements on the session's connection (the same transaction), without the ORM's
    # execution layer: they touch no mapped objects.
    connection = session.connection()
    connection.execute(_INSERT_EVENTS, events)
    if key is not None:
        connection.execute(
            _ADVANCE_HEAD, {"last_seq": seq, "last_hash": prev, "sealed_through": seq}
        )
    else:
        connection.execute(_ADVANCE_UNSEALED, {"last_seq": seq})


def _seal(session: Session, key: bytes, *, after: int, prev: str, now: dt.datetime) -> str:
    """Chain the events written without the key (seq > ``after``), in order; the new head."""
    rows = session.execute(select(EVENTS).where(EVENTS.c.seq > after).order_by(EVENTS.c.seq))
    sealed = []
    for row in rows.mappings():
        digest = chain_hash(key, prev, row)
        sealed.append({"s": row["seq"], "p": prev, "h": digest})
        prev = digest
    if sealed:
        session.execute(
            update(EVENTS)
            .where(EVENTS.c.seq == bindparam("s"))
            .values(prev_hash=bindparam("p"), hash=bindparam("h"), sealed_at=now),
            sealed,
        )
    return prev


def seal(session: Session, *, keyring: Keyring, actor: Actor) -> int:
    """Seal events written while the keyring was unavailable; how many were sealed."""
    if not permissions.can_seal_audit(actor):
        raise permissions.refusal(actor, permissions.SEALERS, to="seal the audit log")
    return _seal_pending(session, keyring.audit_key)


def _seal_pending(session: Session, key: bytes) -> int:
    """Seal whatever is unsealed, with ``key``; no permission check (callers make it)."""
    head = _lock_head(session)
    if head.sealed_through >= head.last_seq:
        return 0
    prev = _seal(session, key, after=head.sealed_through, prev=head.last_hash, now=utcnow())
    session.execute(
        update(HEAD).where(HEAD.c.id == 1).values(last_hash=prev, sealed_through=head.last_seq)
    )
    return int(head.last_seq - head.sealed_through)


# ------------------------------------------------------------------------------ verifying


@dataclass(frozen=True)
class Verdict:
    whole: bool
    events: int
    last_seq: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: str | None = None
    unsealed: int = 0

    @property
    def message(self) -> str:
        if self.whole:
            return f"The audit log is whole: {self.events} events, head {self.last_seq}."
        where = f" at sequence {self.first_bad_seq}" if self.first_bad_seq is not None else ""
        return f"The audit log is NOT whole{where}: {self.problem}"


def iter_events(session: Session, *, batch: int = 2000) -> Iterator[Mapping[Any, Any]]:
    result = session.execute(
        select(EVENTS).order_by(EVENTS.c.seq).execution_options(yield_per=batch)
    )
    yield from result.mappings()


def verify(session: Session, *, key: bytes, checkpoint: tuple[int, str] | None = None) -> Verdict:
    """Recompute the chain and report the first place it breaks, and how."""
    head = session.execute(select(HEAD).where(HEAD.c.id == 1)).first()
    expected_seq = 1
    prev = ""
    seen: dict[str, int] = {}
    count = 0
    hash_at_checkpoint: str | None = None
    unsealed = 0

    def bad(seq: int | None, problem: str) -> Verdict:
        return Verdict(False, count, expected_seq - 1, prev, seq, problem, unsealed)

    for event in iter_events(session):
        seq = event["seq"]
        if seq != expected_seq:
            if seq > expected_seq:
                missing = (
                    f"{expected_seq}" if seq == expected_seq + 1 else f"{expected_seq}-{seq - 1}"
                )
                return bad(expected_seq, f"event {missing} is missing (deleted).")
            return bad(seq, "sequence numbers repeat or go backwards.")
        if event["hash"] is None:
            unsealed += 1
            expected_seq += 1
            count += 1
            continue
        if unsealed:
            return bad(seq, "a sealed event follows unsealed ones; the chain was rewritten.")
        if event["prev_hash"] != prev:
            if event["prev_hash"] in seen:
                return bad(
                    seq,
                    f"events were reordered (this event follows {seen[event['prev_hash']]} "
                    f"in the chain, not {seq - 1}).",
                )
            return bad(seq, "the link to the previous event is broken (changed or reordered).")
        if not hmac.compare_digest(chain_hash(key, prev, event), event["hash"] or ""):
            return bad(seq, "the event was changed after it was written.")
        prev = event["hash"]
        seen[prev] = seq
        if checkpoint is not None and seq == checkpoint[0]:
            hash_at_checkpoint = prev
        expected_seq += 1
        count += 1
    last = expected_seq - 1
    if head is not None and head.last_seq > last:
        return bad(
            last + 1,
            f"the log ends at {last} but was written up to {head.last_seq} (its tail was deleted).",
        )
    if checkpoint is not None:
        cp_seq, cp_hash = checkpoint
        if last < cp_seq:
            return bad(
                last + 1,
                f"the log ends at {last} but the checkpoint vouches for events up "
                f"to {cp_seq} (its tail was truncated).",
            )
        if hash_at_checkpoint != cp_hash:
            return bad(cp_seq, "history up to the checkpoint was rewritten (its hash differs).")
    if unsealed:
        return bad(
            last - unsealed + 1,
            f"{unsealed} event(s) are not sealed yet (written while the keyring was "
            "unavailable); run `registry audit seal`.",
        )
    return Verdict(True, count, last, prev)


def verify_log(
    session: Session, *, keyring: Keyring, actor: Actor, checkpoint: bytes | None = None
) -> Verdict:
    """``verify`` for a person: the chain, and the signed checkpoint file's contents if given."""
    if not permissions.can_read_audit(actor):
        raise permissions.refusal(actor, permissions.READERS, to="verify the audit log")
    mark = read_checkpoint(checkpoint, keyring=keyring) if checkpoint is not None else None
    return verify(session, key=keyring.audit_key, checkpoint=mark)


# ------------------------------------------------------------------------------ checkpoints


def make_checkpoint(session: Session, *, keyring: Keyring, actor: Actor) -> dict[str, Any]:
    """The head of the chain (sequence, hash, time), signed with the keyring's Ed25519 key."""
    if not permissions.can_read_audit(actor):
        raise permissions.refusal(actor, permissions.READERS, to="write audit checkpoints")
    _seal_pending(session, keyring.audit_key)
    head = session.execute(select(HEAD).where(HEAD.c.id == 1)).one()
    body = {"seq": head.last_seq, "hash": head.last_hash, "at": utcnow().isoformat()}
    signature = keyring.signing_key.sign(_checkpoint_bytes(body))
    return {**body, "signature": base64.b64encode(signature).decode()}


NOT_A_CHECKPOINT = "The checkpoint file is not a checkpoint written by the registry."


def read_checkpoint(data: bytes, *, keyring: Keyring) -> tuple[int, str]:
    """``(seq, hash)`` from a checkpoint file whose signature is the keyring's."""
    try:
        doc = json.loads(data)
        body: dict[str, Any] = {"seq": doc["seq"], "hash": doc["hash"], "at": doc["at"]}
        signature = base64.b64decode(doc["signature"], validate=True)
    except (ValueError, KeyError, TypeError, RecursionError):  # RecursionError: deep nesting
        raise InvalidInput(NOT_A_CHECKPOINT) from None
    seq, head_hash = body["seq"], body["hash"]
    if type(seq) is not int or not isinstance(head_hash, str) or not isinstance(body["at"], str):
        raise InvalidInput(NOT_A_CHECKPOINT)
    try:
        keyring.verify_key.verify(signature, _checkpoint_bytes(body))
    except InvalidSignature:
        raise InvalidInput(
            "The checkpoint's signature does not match this keyring: it was altered or "
            "written by another registry."
        ) from None
    return seq, head_hash


def _checkpoint_bytes(body: Mapping[str, Any]) -> bytes:
    return (
        b"registry-audit-checkpoint-v1\n"
        + json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    )


# ------------------------------------------------------------------------------ reading


def list_events(
    session: Session,
    *,
    actor: Actor,
    account_id: int | None = None,
    entity: tuple[str, object] | None = None,
    by: str | None = None,
    action: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    after_seq: int = 0,
    before_seq: int | None = None,
    newest_first: bool = False,
    limit: int | None = 100,
) -> list[AuditEventPublic]:
    """Events in order, filtered; ``after_seq`` and ``limit`` page through them.

    ``before_seq`` keeps only the events before it, and ``newest_first`` reads them from the
    newest down: an auditor's page of the most recent events, then the ones before them (each
    page a keyset read on ``seq``, the same cost however deep)."""
    if not permissions.can_read_audit(actor):
        raise permissions.refusal(actor, permissions.READERS, to="read the audit log")
    query = select(EVENTS).where(EVENTS.c.seq > after_seq)
    if before_seq is not None:
        query = query.where(EVENTS.c.seq < before_seq)
    query = query.order_by(EVENTS.c.seq.desc() if newest_first else EVENTS.c.seq)
    if account_id is not None:
        query = query.where(
            EVENTS.c.entity_type == "account", EVENTS.c.entity_id == str(account_id)
        )
    if entity is not None:
        query = query.where(EVENTS.c.entity_type == entity[0], EVENTS.c.entity_id == str(entity[1]))
    if by:
        query = query.where(EVENTS.c.actor_email == by.strip().lower())
    if action:
        query = query.where(EVENTS.c.action == action.strip())
    if since is not None:
        query = query.where(EVENTS.c.at >= since)
    if until is not None:
        query = query.where(EVENTS.c.at < until)
    if limit is not None:
        query = query.limit(limit)
    return [
        AuditEventPublic(
            seq=row["seq"],
            at=row["at"],
            actor=row["actor_email"],
            action=row["action"],
            entity_type=row["entity_type"],
            entity_id=row["entity_id"],
            details=row["details"],
            hash=row["hash"],
        )
        for row in session.execute(query).mappings()
    ]


# ------------------------------------------------------------------------------ browsing


# The console's order: the newest event first, a page at a time (keyset on ``seq``).
NEWEST_FIRST: Order[AuditEventPublic] = Order(
    "audit", (EVENTS.c.seq,), key=lambda event: (event.seq,), descending=True
)


def event_page(
    session: Session, *, actor: Actor, limit: int, after: Key | None = None, **filters: Any
) -> Page[AuditEventPublic]:
    """A page of :func:`list_events` (same ``filters``), the newest event first: after the
    key ``after`` (older events), or before a :class:`registry.paging.Before` key (newer
    events, still listed newest first). One indexed read of ``limit + 1`` events a page."""
    if isinstance(after, Before):
        newer = list_events(
            session, actor=actor, after_seq=after[0], limit=limit + 1, **filters
        )  # the oldest of the newer events first
        more = len(newer) > limit
        rows = newer[:limit][::-1]
        return Page(
            rows,
            next=(rows[-1].seq,) if rows else None,
            prev=Before((rows[0].seq,)) if more else None,
        )
    rows = list_events(
        session,
        actor=actor,
        before_seq=after[0] if after is not None else None,
        newest_first=True,
        limit=limit + 1,
        **filters,
    )
    prev = None if after is None else Before((rows[0].seq,) if rows else after)
    if len(rows) <= limit:
        return Page(rows, prev=prev)
    return Page(rows[:limit], next=(rows[limit - 1].seq,), prev=prev)


# Each distinct action in one index seek (a "loose index scan" on ix_audit_event_action):
# a handful of seeks, not a read of a million rows.
_ACTIONS = text(
    "WITH RECURSIVE seen(action) AS ("
    " SELECT MIN(action) FROM audit_event"
    " UNION ALL"
    " SELECT (SELECT MIN(e.action) FROM audit_event e WHERE e.action > seen.action)"
    " FROM seen WHERE seen.action IS NOT NULL"
    ") SELECT action FROM seen WHERE action IS NOT NULL"
)


def actions(session: Session, *, actor: Actor) -> list[str]:
    """Every action the log holds, in alphabetical order (for a filter's choices)."""
    if not permissions.can_read_audit(actor):
        raise permissions.refusal(actor, permissions.READERS, to="read the audit log")
    return [str(action) for action in session.execute(_ACTIONS).scalars()]


@dataclass(frozen=True)
class Head:
    """How far the log goes, without recomputing the chain: the last event, the last one
    sealed, and when it was sealed."""

    last_seq: int
    sealed_through: int
    sealed_at: dt.datetime | None

    @property
    def unsealed(self) -> int:
        return self.last_seq - self.sealed_through


def head(session: Session, *, actor: Actor) -> Head:
    """The head of the chain (two indexed reads)."""
    if not permissions.can_read_audit(actor):
        raise permissions.refusal(actor, permissions.READERS, to="read the audit log")
    row = session.execute(select(HEAD).where(HEAD.c.id == 1)).first()
    if row is None:
        return Head(0, 0, None)
    sealed_at = session.execute(
        select(EVENTS.c.sealed_at).where(EVENTS.c.seq == row.sealed_through)
    ).scalar()
    return Head(int(row.last_seq), int(row.sealed_through), sealed_at)
