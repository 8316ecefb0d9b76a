"""Delivering the outbox over SMTP: ``registry notify run`` (the only code that talks to the
mail relay).

A run claims queued messages that are due, oldest first, a batch at a time, in a short
transaction that sets a lease (``claimed_until``) on them: ``SELECT ... FOR UPDATE SKIP
LOCKED`` on PostgreSQL, so several workers each take different messages; on SQLite the claim
runs under the database's one write lock (``BEGIN IMMEDIATE``), which serialises claims too,
but SQLite is meant for one worker. The batch is then sent over one SMTP connection (made
again if it drops), each message marked sent in a transaction of its own right after the relay
accepted it (:class:`Marks` commits the marks in a thread of its own, so that the next message
goes out while the last one's mark is written). A message the relay refuses (a 4xx or a
5xx) is tried again later, after an exponential back-off with full jitter, until
:data:`MAX_ATTEMPTS`; then it is marked failed with the last error. When the relay cannot be
reached at all (refused, timed out, TLS or login refused) every message of the batch counts
one failed attempt and the run stops there.

Each message keeps the ``Message-ID`` fixed when it was queued, so if the process dies between
the relay accepting a message and its mark, the message is sent again once its lease expires:
at most one duplicate, which mail clients fold. For the same reason a mark does not wait for
the disk (:func:`_lazy_commits`): a power cut can lose only marks, with the same outcome. Marks
only touch a row still ``queued``, so a message another worker re-claimed and marked is never
marked twice.

Timing, with the defaults: a message refused again and again is retried after about 1, 2, 4,
... minutes (each wait drawn at random up to that ceiling, at most an hour) and given up on at
the tenth attempt, on average some two hours after the first.

The relay password is only handed to ``smtplib``'s login: it is never logged, stored, or put
in an error (``last_error`` holds a short reason such as ``451 try again later``).
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import random
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from sqlalchemy import Connection, Engine, Executable, bindparam, case, func, or_, select, update
from sqlalchemy.exc import DBAPIError

from registry.config import Settings
from registry.db import read_only
from registry.enums import OutboxStatus
from registry.models import OutboxMessage, utcnow
from registry.models.base import UTCDateTime

log = logging.getLogger(__name__)

OUTBOX = OutboxMessage.metadata.tables["outbox_message"]
QUEUED = OutboxStatus.queued.value
SENT = OutboxStatus.sent.value
FAILED = OutboxStatus.failed.value

MAX_ATTEMPTS = 10
"""Attempts before a message is given up on (marked failed)."""
BACKOFF_BASE = dt.timedelta(seconds=60)
BACKOFF_CAP = dt.timedelta(hours=1)
BACKOFF_FLOOR = dt.timedelta(seconds=1)
LEASE = dt.timedelta(minutes=10)
"""How long a claim keeps other workers off a message; a worker still sending when its lease
nears its end hands back the rest of the batch and claims again."""
BATCH = 50
POLL_SECONDS = 10.0
ERROR_MAX = 200

_jitter = random.SystemRandom()


@dataclass
class Delivery:
    """What a run did: messages sent, to be retried, given up on; and, when the relay could not
    be reached at all, why (the run stopped there)."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    unreachable: str | None = None

    @property
    def tried(self) -> int:
        return self.sent + self.retrying + self.failed


@dataclass(frozen=True)
class Claimed:
    """A message this worker holds the lease on."""

    id: int
    recipient: str
    subject: str
    body_text: str
    body_html: str
    message_id: str
    attempts: int
    created_at: dt.datetime


class Unreachable(Exception):
    """The relay could not be reached, or refused the connection (TLS, login): ``reason``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# ------------------------------------------------------------------------------ the run


def deliver(
    *,
    engine: Engine,
    settings: Settings,
    everything: bool = False,
    batch: int = BATCH,
    now: dt.datetime | None = None,
    stop: threading.Event | None = None,
) -> Delivery:
    """Send the queued messages that are due (with ``everything``, every queued message, due
    or not: ``notify run --once``), batch by batch, and say what became of them.

    Each message queued when the run began is tried at most once, so a run always ends.
    ``now`` fixes the clock (tests); ``stop``, once set, ends the run after the message being
    sent, handing back the rest of its batch. Without ``settings.smtp_host`` nothing is tried.
    What became of every message is committed when this returns.
    """
    done = Delivery()
    if not settings.smtp_host:
        done.unreachable = "no mail relay is set (REGISTRY_SMTP_HOST)"
        return done
    clock: Callable[[], dt.datetime] = (lambda: now) if now is not None else utcnow
    relay = Relay(settings)
    # Hand back what is left of a batch while the lease still covers a slow send or two.
    margin = min(3 * settings.smtp_timeout_seconds, LEASE.total_seconds() / 2)
    with engine.connect() as conn, Marks(engine) as marks:
        with conn.begin():
            last = conn.execute(select(func.max(OUTBOX.c.id))).scalar() or 0
        cursor = 0
        try:
            while not (stop is not None and stop.is_set()):
                claimed = _claim(
                    conn, after=cursor, upto=last, everything=everything, batch=batch, now=clock()
                )
                if not claimed:
                    break
                ends = time.monotonic() + LEASE.total_seconds() - margin
                for index, message in enumerate(claimed):
                    if index and ((stop is not None and stop.is_set()) or time.monotonic() > ends):
                        _release(conn, claimed[index:])
                        break
                    cursor = message.id
                    try:
                        _send(relay, settings, message, marks=marks, at=clock, done=done)
                    except Unreachable as exc:
                        _count_failures(claimed[index:], exc.reason, done=done)
                        marks.failed(claimed[index:], exc.reason, at=clock())
                        done.unreachable = exc.reason
                        return done
        finally:
            relay.close()
    return done


def _send(
    relay: Relay,
    settings: Settings,
    message: Claimed,
    *,
    marks: Marks,
    at: Callable[[], dt.datetime],
    done: Delivery,
) -> None:
    """Send one claimed message and record what became of it (Unreachable passes through)."""
    try:
        mail = compose(settings, message)
    except (ValueError, TypeError) as exc:  # a header no relay would take: never sendable
        reason = _one_line(f"the message cannot be built: {exc}", settings)
        log.warning("gave up on message %s: %s", message.id, reason)
        marks.give_up(message, reason, at=at())
        done.failed += 1
        return
    try:
        relay.send(mail, message.recipient)
    except Unreachable:
        raise
    except Exception as exc:  # the relay refused it, or the connection broke twice
        reason = describe(exc, settings)
        _count_failures([message], reason, done=done)
        marks.failed([message], reason, at=at())
        return
    marks.sent(message, at=at())
    done.sent += 1


def _count_failures(messages: Sequence[Claimed], reason: str, *, done: Delivery) -> None:
    for message in messages:
        attempts = message.attempts + 1
        if attempts >= MAX_ATTEMPTS:
            done.failed += 1
            log.warning("gave up on message %s after %d attempts: %s", message.id, attempts, reason)
        else:
            done.retrying += 1
            log.info("message %s not sent (attempt %d): %s", message.id, attempts, reason)


def run_forever(
    *,
    engine: Engine,
    settings: Settings,
    stop: threading.Event | None = None,
    poll_seconds: float = POLL_SECONDS,
    report: Callable[[Delivery], None] | None = None,
) -> None:
    """Deliver what is due, then wait until the next message is due (at most
    ``poll_seconds``), until ``stop`` is set (the command line sets it on SIGTERM and SIGINT).

    ``report`` is told of every round that tried something. A database that cannot be reached
    is logged and tried again after ``poll_seconds``.
    """
    stop = stop or threading.Event()
    while not stop.is_set():
        try:
            done = deliver(engine=engine, settings=settings, stop=stop)
            wait = _until_next(engine, poll_seconds)
        except DBAPIError as exc:
            log.warning("the outbox cannot be read: %s", str(exc.orig).splitlines()[0][:200])
            wait = poll_seconds
        else:
            if report is not None and done.tried:
                report(done)
        stop.wait(wait)


def _until_next(engine: Engine, poll_seconds: float) -> float:
    """Seconds until the next queued message nobody holds is due, within [0.05, poll]."""
    now = utcnow()
    with read_only(engine) as conn:
        due: dt.datetime | None = conn.execute(
            select(func.min(OUTBOX.c.next_attempt_at)).where(
                OUTBOX.c.status == QUEUED,
                or_(OUTBOX.c.claimed_until.is_(None), OUTBOX.c.claimed_until < now),
            )
        ).scalar()
    if due is None:
        return poll_seconds
    return min(poll_seconds, max(0.05, (due - now).total_seconds()))


# ------------------------------------------------------------------------------ the outbox

_CLAIMED = (
    OUTBOX.c.id,
    OUTBOX.c.recipient,
    OUTBOX.c.subject,
    OUTBOX.c.body_text,
    OUTBOX.c.body_html,
    OUTBOX.c.message_id,
    OUTBOX.c.attempts,
    OUTBOX.c.created_at,
)


def _claim(
    conn: Connection, *, after: int, upto: int, everything: bool, batch: int, now: dt.datetime
) -> list[Claimed]:
    """Take the lease on up to ``batch`` queued messages with ids in (``after``, ``upto``]
    that nobody holds (and, unless ``everything``, that are due), oldest first."""
    conditions = [
        OUTBOX.c.status == QUEUED,
        OUTBOX.c.id > after,
        OUTBOX.c.id <= upto,
        or_(OUTBOX.c.claimed_until.is_(None), OUTBOX.c.claimed_until < now),
    ]
    if not everything:
        conditions.append(OUTBOX.c.next_attempt_at <= now)
    query = (
        select(*_CLAIMED)
        .where(*conditions)
        .order_by(OUTBOX.c.id)
        .limit(batch)
        .with_for_update(skip_locked=True)  # SQLite: nothing; its write lock is held already
    )
    with conn.begin():
        rows = conn.execute(query).all()
        if rows:
            conn.execute(
                update(OUTBOX)
                .where(OUTBOX.c.id.in_([row.id for row in rows]))
                .values(claimed_until=now + LEASE)
            )
    return [Claimed(*row) for row in rows]


def _release(conn: Connection, messages: Sequence[Claimed]) -> None:
    """Hand back the lease on messages this run will not try after all."""
    with conn.begin():
        conn.execute(
            update(OUTBOX)
            .where(OUTBOX.c.id.in_([m.id for m in messages]), OUTBOX.c.status == QUEUED)
            .values(claimed_until=None)
        )


# What became of a message, each written in a transaction of its own; a mark only touches a
# message still queued, so one that another worker re-claimed and marked is never marked twice.
_WHICH = (OUTBOX.c.id == bindparam("message"), OUTBOX.c.status == QUEUED)
_SENT = (
    update(OUTBOX)
    .where(*_WHICH)
    .values(
        status=SENT,
        sent_at=bindparam("at", type_=UTCDateTime),
        attempts=OUTBOX.c.attempts + 1,
        claimed_until=None,
        last_error=None,
    )
)
_FAILED = (  # one more failed attempt: tried again after its back-off, or given up on
    update(OUTBOX)
    .where(*_WHICH)
    .values(
        status=case((OUTBOX.c.attempts + 1 >= MAX_ATTEMPTS, FAILED), else_=QUEUED),
        attempts=OUTBOX.c.attempts + 1,
        next_attempt_at=bindparam("next", type_=UTCDateTime),
        claimed_until=None,
        last_error=bindparam("reason"),
    )
)
_GIVEN_UP = (
    update(OUTBOX)
    .where(*_WHICH)
    .values(
        status=FAILED,
        attempts=OUTBOX.c.attempts + 1,
        claimed_until=None,
        last_error=bindparam("reason"),
    )
)

_Mark = tuple[Executable, list[dict[str, Any]]]


class Marks:
    """Writes what became of each message, each mark in a transaction of its own, on a
    connection of its own in a thread of its own: the next message is sent while the last
    one's mark commits (on SQLite, while its commit waits for the disk). Leaving the block
    waits for every mark (and raises the error of one that failed).

    An in-memory SQLite database (one connection shared by everyone) is marked in line.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        url = engine.url
        self._threaded = not (
            url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")
        )
        self._queue: queue.Queue[_Mark | None] = queue.Queue(maxsize=2 * BATCH)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._write, name="outbox-marks", daemon=True)

    def __enter__(self) -> Marks:
        if self._threaded:
            self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if self._threaded:
            self._queue.put(None)
            self._thread.join()
        if self._error is not None and kind is None:
            raise self._error

    def sent(self, message: Claimed, *, at: dt.datetime) -> None:
        self._put((_SENT, [{"message": message.id, "at": at}]))

    def failed(self, messages: Sequence[Claimed], reason: str, *, at: dt.datetime) -> None:
        """One more failed attempt for each of ``messages`` (one transaction)."""
        params = [
            {"message": m.id, "reason": reason, "next": at + backoff(m.attempts + 1)}
            for m in messages
        ]
        self._put((_FAILED, params))

    def give_up(self, message: Claimed, reason: str, *, at: dt.datetime) -> None:
        self._put((_GIVEN_UP, [{"message": message.id, "reason": reason}]))

    def _put(self, mark: _Mark) -> None:
        if self._error is not None:
            raise self._error
        if self._threaded:
            self._queue.put(mark)
            return
        with self._engine.connect() as conn:
            self._apply(conn, mark)

    @staticmethod
    def _apply(conn: Connection, mark: _Mark) -> None:
        statement, params = mark
        with conn.begin():
            conn.execute(statement, params)

    def _write(self) -> None:
        try:
            with self._engine.connect() as conn, _lazy_commits(conn):
                while (mark := self._queue.get()) is not None:
                    self._apply(conn, mark)
        except BaseException as exc:
            self._error = exc
            while self._queue.get() is not None:  # let the sender finish; it raises on its next
                pass


@contextmanager
def _lazy_commits(conn: Connection) -> Iterator[None]:
    """Commits on ``conn`` that do not wait for the disk, for as long as the block lasts.

    A mark that a power cut (SQLite) or a database crash (PostgreSQL) loses leaves its
    message queued and leased: it is sent again once the lease ends, with the same Message-ID,
    just as after a crash between sending and marking. Every other commit stays as durable
    as before, and so does each mark once a later commit (or checkpoint) has reached the disk.
    """
    if conn.dialect.name == "sqlite":  # in WAL mode, NORMAL syncs at checkpoints only
        raw = conn.connection.dbapi_connection  # autocommit: a pragma needs no transaction
        assert raw is not None
        was = raw.execute("PRAGMA synchronous").fetchone()[0]
        raw.execute("PRAGMA synchronous = NORMAL")
        try:
            yield
        finally:
            raw.execute(f"PRAGMA synchronous = {int(was)}")
        return
    with conn.begin():
        conn.exec_driver_sql("SET synchronous_commit = off")
    try:
        yield
    finally:
        with conn.begin():
            conn.exec_driver_sql("RESET synchronous_commit")


def backoff(attempts: int) -> dt.timedelta:
    """How long to wait after the ``attempts``-th failed attempt: a uniformly random time
    (full jitter) between a second and ``BACKOFF_BASE * 2 ** (attempts - 1)``, at most
    ``BACKOFF_CAP``."""
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** min(max(attempts - 1, 0), 20))
    seconds = _jitter.uniform(BACKOFF_FLOOR.total_seconds(), ceiling.total_seconds())
    return dt.timedelta(seconds=seconds)


# ------------------------------------------------------------------------------ the message


def compose(settings: Settings, message: Claimed) -> EmailMessage:
    """The e-mail of a queued message: plain text with an HTML alternative, its fixed
    ``Message-ID``, dated when it was queued (so a message sent twice is the same message)."""
    domain = settings.mail_from.rpartition("@")[2]
    mail = EmailMessage()
    mail["From"] = settings.mail_from
    mail["To"] = message.recipient
    mail["Subject"] = " ".join(message.subject.split())
    mail["Date"] = format_datetime(message.created_at.astimezone(dt.UTC))
    mail["Message-ID"] = f"<{message.message_id}@{domain}>"
    mail["Auto-Submitted"] = "auto-generated"
    mail.set_content(message.body_text)
    mail.add_alternative(message.body_html, subtype="html")
    return mail


# ------------------------------------------------------------------------------ the relay


class Relay:
    """One SMTP connection to the relay, opened when first needed and opened again if it
    drops. :meth:`send` raises :class:`Unreachable` when no connection can be made, or the
    relay's refusal of a message (``smtplib``'s exceptions) otherwise."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.smtp: smtplib.SMTP | None = None

    def send(self, mail: EmailMessage, recipient: str) -> None:
        for last_try in (False, True):
            smtp = self._connect() if self.smtp is None else self.smtp
            try:
                smtp.send_message(mail, from_addr=self.settings.mail_from, to_addrs=[recipient])
                return
            except (
                smtplib.SMTPRecipientsRefused,
                smtplib.SMTPResponseException,
                smtplib.SMTPNotSupportedError,
            ):
                raise  # the relay answered: it refused this message (smtplib reset the session)
            except (smtplib.SMTPServerDisconnected, OSError):
                self._drop()  # the connection broke: make a new one and try once more
                if last_try:
                    raise

    def _connect(self) -> smtplib.SMTP:
        settings = self.settings
        host, port, timeout = settings.smtp_host, settings.smtp_port, settings.smtp_timeout_seconds
        smtp: smtplib.SMTP | None = None
        try:
            if settings.smtp_security == "ssl":
                context = ssl.create_default_context()
                smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
            else:
                smtp = smtplib.SMTP(host, port, timeout=timeout)
                if settings.smtp_security == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
        except Exception as exc:
            if smtp is not None:
                smtp.close()
            reason = f"{host}:{port}: {describe(exc, settings)}"
            log.warning("the mail relay cannot be reached: %s", reason)
            raise Unreachable(reason) from None  # not chained: nothing of the login travels
        self.smtp = smtp
        return smtp

    def _drop(self) -> None:
        if self.smtp is not None:
            self.smtp.close()
            self.smtp = None

    def close(self) -> None:
        """Say goodbye to the relay (QUIT), or just close the connection if it is gone."""
        if self.smtp is None:
            return
        try:
            self.smtp.quit()
        except (smtplib.SMTPException, OSError):
            self.smtp.close()
        self.smtp = None


def describe(exc: BaseException, settings: Settings) -> str:
    """A short, one-line reason for ``last_error`` and the log: the relay's reply (``451 try
    again later``) or what went wrong with the connection; never the password."""
    reason: str
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        reason = f"login refused ({exc.smtp_code})"  # the relay's text may quote what was sent
    elif isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(exc.recipients.values()), (0, b""))
        reason = _reply(code, text)
    elif isinstance(exc, smtplib.SMTPResponseException):
        reason = _reply(exc.smtp_code, exc.smtp_error)
    elif isinstance(exc, smtplib.SMTPNotSupportedError):
        said = str(exc).lower()
        offered = "STARTTLS" if "starttls" in said else "login (AUTH)" if "auth" in said else ""
        reason = f"the relay does not offer {offered}" if offered else str(exc)
    elif isinstance(exc, smtplib.SMTPServerDisconnected):
        reason = "the relay closed the connection"
    elif isinstance(exc, ssl.SSLCertVerificationError):
        reason = f"TLS certificate not accepted: {exc.verify_message}"
    elif isinstance(exc, ssl.SSLError):
        reason = f"TLS failed: {exc.reason or exc}"
    elif isinstance(exc, ConnectionRefusedError):
        reason = "connection refused"
    elif isinstance(exc, TimeoutError):
        reason = f"no answer within {settings.smtp_timeout_seconds:g} s"
    elif isinstance(exc, socket.gaierror):
        reason = f"the host name cannot be resolved ({exc.strerror})"
    elif isinstance(exc, OSError) and exc.strerror:
        reason = exc.strerror[:1].lower() + exc.strerror[1:]
    else:
        reason = str(exc) or type(exc).__name__
    return _one_line(reason, settings)


def _reply(code: int, text: Any) -> str:
    said = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"{code} {said}".strip()


def _one_line(text: str, settings: Settings) -> str:
    """``text`` on one line of printable characters, at most ERROR_MAX of them, the relay
    password blotted out wherever a relay might have echoed it."""
    password = settings.smtp_password.get_secret_value()
    if password:
        text = text.replace(password, "***")
    flat = "".join(c if c.isprintable() else "?" for c in " ".join(text.split()))
    return flat if len(flat) <= ERROR_MAX else flat[: ERROR_MAX - 1] + "…"
