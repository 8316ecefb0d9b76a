"""Reminders and escalation: what has waited on someone, queued in the outbox by ``registry
remind`` (DESIGN.md, "Notifications"), each at most once a day per kind and recipient.

- a review due within 30 days, or overdue: the department's executives, and CED (all);
- a credential due for rotation: the account's active holders, and CED (all);
- a request waiting more than 5 working days: who it waits for, the department's executives
  while ``submitted``, CED once ``department_approved`` (never the requester, nor who gave the
  department's approval);
- a request at the department stage for more than 10 working days, or that nobody in its
  department can approve: CED (an escalation);
- with ``--digest`` (weekly), the compliance report's totals: CED.

A recipient gets one message per kind listing their things, the most pressing first, at most
:data:`SHOWN` of them and how many more. Each message is queued with a ``once_key`` of its kind
and day (the digest: its ISO week), so running ``remind`` every hour queues it once. People who
have left are skipped (``registry.services.notify`` resolves recipients); a CED person who gets
CED's list of a kind gets no shorter list of the same kind as an executive or a holder.

Every kind is a few queries over the whole registry (aggregates, and window functions that rank
each recipient's rows), never a query per account: the same handful at 100,000 accounts.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlmodel import Session, col

from registry.config import Settings
from registry.models import (
    AccessGrant,
    Account,
    AccountRequest,
    AccountStatus,
    Credential,
    Department,
    Person,
    PersonStatus,
    RequestKind,
    RequestState,
    utcnow,
)
from registry.services import audit, awaiting, compliance, compliance_pages, notify, outbox
from registry.services.actors import Actor
from registry.services.notify import Mail, Recipient, named

SHOWN = 50
"""A message lists this many things at most, then says how many more there are."""

REMIND_AFTER = 5
"""Working days a request waits before the people it waits for are reminded."""

ESCALATE_AFTER = 10
"""Working days a request waits at the department stage before CED hears of it."""

DAY = dt.timedelta(days=1)
WEEK = dt.timedelta(days=7)


@dataclass(frozen=True)
class Reminded:
    """How many messages ``remind`` queued, per kind (a reminder already queued today is not
    counted again)."""

    reviews: int = 0
    rotations: int = 0
    requests: int = 0
    escalations: int = 0
    digests: int = 0

    @property
    def total(self) -> int:
        return sum(dataclasses.astuple(self))

    def as_dict(self) -> dict[str, int]:
        return {**dataclasses.asdict(self), "total": self.total}


def remind(
    session: Session,
    *,
    settings: Settings,
    actor: Actor,
    now: dt.datetime | None = None,
    digest: bool = False,
) -> Reminded:
    """Queue the reminders due ``now`` (and, with ``digest``, the compliance digest to CED),
    in the caller's transaction; administrators and CED only. Records one audit event with
    the counts when it queued anything (an hourly run that finds everything already sent
    writes nothing)."""
    outbox.require_operator(actor, to="queue reminders")
    now = (now or utcnow()).astimezone(dt.UTC)
    day = now.date().isoformat()
    week = "{}-W{:02d}".format(*now.isocalendar()[:2])
    done = Reminded(
        reviews=_reviews(session, settings, now, once=f"remind.review:{day}"),
        rotations=_rotations(session, settings, now, once=f"remind.rotation:{day}"),
        requests=_waiting(session, settings, now, once=f"remind.requests:{day}"),
        escalations=_escalations(session, settings, now, once=f"remind.escalation:{day}"),
        digests=(
            _digest(session, settings, actor, now, once=f"remind.digest:{week}") if digest else 0
        ),
    )
    if done.total:
        audit.record(
            session,
            actor=actor,
            action="reminders.queued",
            entity_type="outbox",
            entity_id=day,
            details=done.as_dict(),
        )
    return done


# ------------------------------------------------------------------------------ working days


def working_time(start: dt.datetime, end: dt.datetime) -> dt.timedelta:
    """How much of the time from ``start`` to ``end`` falls on a working day: Monday to
    Friday, as UTC days. Public holidays are not known to the registry and count as working
    days (a reminder comes a day early after one)."""
    start, end = start.astimezone(dt.UTC), end.astimezone(dt.UTC)
    if end <= start:
        return dt.timedelta(0)
    weeks = (end - start) // WEEK  # any seven days hold five working days
    total = weeks * 5 * DAY
    cursor = start + weeks * WEEK
    while cursor < end:
        stop = min(end, dt.datetime.combine(cursor.date() + DAY, dt.time(), tzinfo=dt.UTC))
        if cursor.weekday() < 5:
            total += stop - cursor
        cursor = stop
    return total


def working_days_before(now: dt.datetime, days: int) -> dt.datetime:
    """The instant such that whatever has waited since before it has waited more than
    ``days`` working days by ``now`` (as :func:`working_time` counts them), and whatever
    since it or later has not: a bound for a WHERE clause, so the database picks the
    requests, not a loop. Public holidays are not counted out (see :func:`working_time`)."""
    left = dt.timedelta(days=days)
    end = now.astimezone(dt.UTC)
    day = end.date()
    while True:
        start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
        if day.weekday() < 5:
            if end - start > left:
                return end - left
            left -= end - start
        end, day = start, day - DAY


def _whole_days(since: dt.datetime, now: dt.datetime) -> int:
    return working_time(since, now) // DAY


# ------------------------------------------------------------------------------ messages


def _capped(lines: Sequence[str], count: int, what: str) -> list[str]:
    """``lines`` (at most :data:`SHOWN`) and, when ``count`` is more, how many are left out."""
    shown = list(lines[:SHOWN])
    if count > len(shown):
        shown.append(f"... and {count - len(shown)} more {what}: see them in the console.")
    return shown


def _addresses(recipients: Iterable[Recipient]) -> set[str]:
    return {r.email.lower() for r in recipients}


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


# ------------------------------------------------------------------------------ ranking


def _top(
    session: Session, query: Any, *, order: Sequence[Any], per: Any = None, **sums: Any
) -> list[Any]:
    """The first :data:`SHOWN` rows of ``query`` in ``order`` (of each group of ``per``, when
    given), in that order, each with ``total``: how many rows the whole (or its group) has, and
    for each of ``sums`` (a name and a condition) how many of them meet it. One query: the
    ranks and counts are window functions, computed by the database."""
    ranked = query.add_columns(
        func.row_number().over(partition_by=per, order_by=order).label("rank"),
        func.count().over(partition_by=per).label("total"),
        *(
            func.sum(case((condition, 1), else_=0)).over(partition_by=per).label(name)
            for name, condition in sums.items()
        ),
    ).subquery()
    return list(
        session.execute(select(ranked).where(ranked.c.rank <= SHOWN).order_by(ranked.c.rank))
    )


def _grouped(rows: Iterable[Any], key: str) -> dict[Any, list[Any]]:
    found: dict[Any, list[Any]] = {}
    for row in rows:
        found.setdefault(getattr(row, key), []).append(row)
    return found


# ------------------------------------------------------------------------------ reviews (rule 7)


def _review_line(row: Any, today: dt.date) -> str:
    due_on: dt.date | None = row.next_review_on
    if due_on is None:
        when = "no review date set (overdue)"
    else:
        when = f"{'overdue since' if due_on < today else 'due on'} {due_on:%Y-%m-%d}"
    return f"{named(row.platform, row.handle)} (account {row.id}, {row.code}): {when}"


def _reviews(session: Session, settings: Settings, now: dt.datetime, *, once: str) -> int:
    """The active accounts whose review is overdue or due within
    ``awaiting.REVIEW_NOTICE_DAYS``, ordered as the home page lists them (no date first, then
    by date, so the overdue ones lead): CED hears of every one, each department's executives
    of their department's."""
    today = now.date()
    due_on = col(Account.next_review_on)
    horizon = today + dt.timedelta(days=awaiting.REVIEW_NOTICE_DAYS)
    query = (
        select(
            col(Account.id),
            col(Account.platform),
            col(Account.handle),
            col(Account.department_id),
            col(Department.code),
            due_on,
        )
        .join(Department, col(Department.id) == Account.department_id)
        .where(
            col(Account.status) == AccountStatus.active.value,
            or_(due_on.is_(None), due_on <= horizon),
        )
    )
    order = (due_on.is_not(None), due_on, col(Account.id))
    late = or_(due_on.is_(None), due_on < today)
    everyone = _top(session, query, order=order, overdue=late)
    if not everyone:
        return 0
    ced = notify.ced(session, settings)
    queued = _queue_reviews(session, settings, today, once, ced, everyone, department=None)
    told = _addresses(ced)
    per_department = _top(session, query, order=order, per=col(Account.department_id), overdue=late)
    for dept_id, rows in sorted(_grouped(per_department, "department_id").items()):
        code = rows[0].code
        executives = notify.executives(session, dept_id, code=code)
        to = [r for r in executives if r.email.lower() not in told]
        queued += _queue_reviews(session, settings, today, once, to, rows, department=code)
    return queued


def _queue_reviews(
    session: Session,
    settings: Settings,
    today: dt.date,
    once: str,
    to: Sequence[Recipient],
    rows: Sequence[Any],
    *,
    department: str | None,
) -> int:
    if not to:
        return 0
    count = rows[0].total
    overdue = int(rows[0].overdue)
    if count == 1:
        name = named(rows[0].platform, rows[0].handle)
        subject = f"Review {'overdue' if overdue else 'due'}: {name} (account {rows[0].id})"
        form = "" if department else "#record-review"  # CED records it; executives read
        action = (f"Review {name}", f"/console/accounts/{rows[0].id}{form}")
    else:
        late = f", {overdue} overdue" if overdue else ""
        subject = f"{f'{department}: ' if department else ''}{count} account reviews due{late}"
        action = ("See the reviews due", "/console")
    whose = f" of {department}" if department else ""
    return notify.queue(
        session,
        settings=settings,
        event="remind.review",
        mail=Mail(
            subject=subject,
            paragraphs=[
                f"{_plural(count, 'active account', 'active accounts')}{whose} "
                f"{'has its' if count == 1 else 'have their'} periodic review overdue or due "
                f"within {awaiting.REVIEW_NOTICE_DAYS} days ({overdue} overdue). "
                f"Each account is reviewed every {settings.review_interval_days} days: check that "
                "it is still needed, used for its purpose and held by the right people; CED "
                "records the review on the account's page.",
            ],
            items=_capped([_review_line(r, today) for r in rows], count, "accounts"),
            action=action,
        ),
        to=to,
        once_key=once,
    )


# ------------------------------------------------------------------------ rotation (rules 5, 6)


def _rotation_line(row: Any, settings: Settings) -> str:
    what = f"{named(row.platform, row.handle)} (account {row.id}, {row.code})"
    kind = row.kind.replace("_", " ")
    if row.rotation_due_at is not None:
        why = f": {row.rotation_reason}" if row.rotation_reason else ""
        return f"{what}: the {kind} must be changed since {row.rotation_due_at:%Y-%m-%d}{why}"
    return (
        f"{what}: the {kind} was set on {row.set_at:%Y-%m-%d}, more than "
        f"{settings.rotation_age_days} days ago"
    )


def _rotations(session: Session, settings: Settings, now: dt.datetime, *, once: str) -> int:
    """The newest live credentials of active accounts due for rotation, as the compliance
    report finds them (marked for it, or older than the rotation age), the marked ones first:
    CED hears of every one, each active holder of those of the accounts they hold."""
    latest = compliance.latest_credentials()
    too_old = now - dt.timedelta(days=settings.rotation_age_days)
    query = (
        select(
            col(Account.id),
            col(Account.platform),
            col(Account.handle),
            col(Department.code),
            col(Credential.kind),
            col(Credential.set_at),
            col(Credential.rotation_due_at),
            col(Credential.rotation_reason),
        )
        .select_from(latest)
        .join(
            Credential,
            and_(
                col(Credential.account_id) == latest.c.account_id,
                col(Credential.kind) == latest.c.kind,
                col(Credential.version) == latest.c.version,
            ),
        )
        .join(Account, col(Account.id) == latest.c.account_id)
        .join(Department, col(Department.id) == Account.department_id)
        .where(
            col(Account.status) == AccountStatus.active.value,
            or_(col(Credential.rotation_due_at).is_not(None), col(Credential.set_at) < too_old),
        )
    )
    order = (
        col(Credential.rotation_due_at).is_(None),
        col(Credential.rotation_due_at),
        col(Credential.set_at),
        col(Account.id),
        col(Credential.kind),
    )
    everyone = _top(session, query, order=order)
    if not everyone:
        return 0
    ced = notify.ced(session, settings)
    queued = _queue_rotations(session, settings, once, ced, everyone, holder=False)
    told = _addresses(ced)
    held = (
        query.add_columns(col(Person.id).label("person_id"), col(Person.email).label("email"))
        .join(
            AccessGrant,
            and_(col(AccessGrant.account_id) == Account.id, col(AccessGrant.revoked_at).is_(None)),
        )
        .join(Person, col(Person.id) == AccessGrant.person_id)
        .where(col(Person.status) == PersonStatus.active.value)
    )
    why = "You receive this because you hold the accounts listed (account access)."
    for person_id, rows in _grouped(
        _top(session, held, order=order, per=col(Person.id)), "person_id"
    ).items():
        if rows[0].email.lower() in told:
            continue  # CED's list has them all
        holder = Recipient(email=rows[0].email, why=why, person_id=person_id)
        queued += _queue_rotations(session, settings, once, [holder], rows, holder=True)
    return queued


def _queue_rotations(
    session: Session,
    settings: Settings,
    once: str,
    to: Sequence[Recipient],
    rows: Sequence[Any],
    *,
    holder: bool,
) -> int:
    if not to:
        return 0
    count = rows[0].total
    if count == 1:
        name = named(rows[0].platform, rows[0].handle)
        subject = f"Credential to rotate: the {rows[0].kind.replace('_', ' ')} of {name}"
        action = (
            f"Store the new one for {name}",
            f"/console/accounts/{rows[0].id}#store-credential",
        )
    else:
        subject = f"{count} credentials to rotate{' on accounts you hold' if holder else ''}"
        action = ("See the credentials to rotate", "/console")
    return notify.queue(
        session,
        settings=settings,
        event="remind.rotation",
        mail=Mail(
            subject=subject,
            paragraphs=[
                f"{_plural(count, 'credential', 'credentials')}"
                f"{' of accounts you hold' if holder else ''} {'is' if count == 1 else 'are'} due "
                "for rotation: change each on the platform, then store the new value in the "
                "registry, which keeps it encrypted for CED.",
            ],
            items=_capped([_rotation_line(r, settings) for r in rows], count, "credentials"),
            action=action,
        ),
        to=to,
        once_key=once,
    )


# ------------------------------------------------------------------------------ requests (rule 4)


@dataclass(frozen=True)
class _Waiting:
    id: int
    kind: str
    state: str
    department_id: int
    department: str
    platform: str | None
    handle: str | None
    requester_id: int
    department_decider_id: int | None
    since: dt.datetime

    def line(self, now: dt.datetime, *, stage: bool = True) -> str:
        what = "decommission" if self.kind == RequestKind.decommission else "new account"
        days = _whole_days(self.since, now)
        text = (
            f"Request {self.id} ({what}, {named(self.platform, self.handle)}, "
            f"{self.department}): waiting {_plural(days, 'working day', 'working days')}"
        )
        if not stage:
            return text
        if self.state == RequestState.submitted:
            return f"{text} for the department's approval"
        return f"{text} for CED's approval"


def _waiting_since(session: Session, cutoff: dt.datetime, *states: RequestState) -> list[_Waiting]:
    """The open requests in ``states`` waiting since before ``cutoff`` for their current
    stage (since they were submitted, or since the department approved them), longest first."""
    since = case(
        (
            col(AccountRequest.state) == RequestState.submitted.value,
            col(AccountRequest.submitted_at),
        ),
        else_=col(AccountRequest.department_decided_at),
    )
    query = (
        select(
            col(AccountRequest.id),
            col(AccountRequest.kind),
            col(AccountRequest.state),
            col(AccountRequest.department_id),
            col(Department.code),
            col(AccountRequest.platform),
            col(AccountRequest.handle),
            col(AccountRequest.requester_id),
            col(AccountRequest.department_decided_by_id),
            since,
        )
        .join(Department, col(Department.id) == AccountRequest.department_id)
        .where(col(AccountRequest.state).in_([s.value for s in states]), since < cutoff)
        .order_by(since, col(AccountRequest.id))
    )
    return [_Waiting(*row) for row in session.execute(query)]


def _deciders(session: Session, rows: Sequence[_Waiting]) -> dict[int, list[Recipient]]:
    """The executives of each department of ``rows`` (one query per department that has a
    request waiting, not per request)."""
    codes = {r.department_id: r.department for r in rows}
    return {
        dept_id: notify.executives(session, dept_id, code=code) for dept_id, code in codes.items()
    }


def _waiting(session: Session, settings: Settings, now: dt.datetime, *, once: str) -> int:
    """Requests waiting more than :data:`REMIND_AFTER` working days, to the people they wait
    for: the department's executives while submitted, CED once the department approved (each
    leaving out the requester, and for CED who gave the department's approval). One message
    per person listing every request that waits on them, longest waiting first."""
    rows = _waiting_since(
        session,
        working_days_before(now, REMIND_AFTER),
        RequestState.submitted,
        RequestState.department_approved,
    )
    if not rows:
        return 0
    executives = _deciders(session, [r for r in rows if r.state == RequestState.submitted])
    ced = notify.ced(session, settings)
    inbox: dict[str, tuple[Recipient, list[_Waiting]]] = {}
    for row in rows:
        if row.state == RequestState.submitted:
            deciders = executives[row.department_id]
            leave_out: set[int | None] = {row.requester_id}
        else:
            deciders = ced
            leave_out = {row.requester_id, row.department_decider_id}
        for recipient in deciders:
            if recipient.person_id is None or recipient.person_id not in leave_out:
                inbox.setdefault(recipient.email.lower(), (recipient, []))[1].append(row)
    queued = 0
    for recipient, waiting in inbox.values():
        if len(waiting) == 1:
            one = waiting[0]
            subject = (
                f"Request {one.id} has waited "
                f"{_plural(_whole_days(one.since, now), 'working day', 'working days')} "
                f"for your approval: {named(one.platform, one.handle)}"
            )
            action = (f"Approve or reject request {one.id}", f"/console/requests/{one.id}")
        else:
            subject = (
                f"{len(waiting)} requests have waited more than {REMIND_AFTER} working days "
                "for your approval"
            )
            action = ("See the requests awaiting you", "/console/requests?show=awaiting")
        queued += notify.queue(
            session,
            settings=settings,
            event="remind.requests",
            mail=Mail(
                subject=subject,
                paragraphs=[
                    f"{'This request has' if len(waiting) == 1 else 'These requests have'} "
                    f"waited more than {REMIND_AFTER} working days (Monday to Friday) for a "
                    "decision you can give: approve or reject "
                    f"{'it' if len(waiting) == 1 else 'each'}, or ask the requester for what "
                    "is missing.",
                ],
                items=_capped([w.line(now) for w in waiting], len(waiting), "requests"),
                action=action,
            ),
            to=[recipient],
            once_key=once,
        )
    return queued


def _escalations(session: Session, settings: Settings, now: dt.datetime, *, once: str) -> int:
    """Requests stuck at the department stage, to CED: those waiting more than
    :data:`ESCALATE_AFTER` working days, and those waiting more than :data:`REMIND_AFTER`
    that nobody in their department can approve (no active executive but the requester)."""
    rows = _waiting_since(session, working_days_before(now, REMIND_AFTER), RequestState.submitted)
    if not rows:
        return 0
    late = working_days_before(now, ESCALATE_AFTER)
    executives = _deciders(session, rows)
    stuck: list[tuple[_Waiting, list[str]]] = []
    for row in rows:
        deciders = [
            r.email for r in executives[row.department_id] if r.person_id != row.requester_id
        ]
        if row.since < late or not deciders:
            stuck.append((row, deciders))
    if not stuck:
        return 0
    items = [
        row.line(now, stage=False)
        + (f"; it awaits {', '.join(deciders)}" if deciders else "; no executive can approve it")
        for row, deciders in stuck
    ]
    if len(stuck) == 1:
        one = stuck[0][0]
        subject = (
            f"Escalation: request {one.id} is stuck at the department stage: "
            f"{named(one.platform, one.handle)}"
        )
        action = (f"See request {one.id}", f"/console/requests/{one.id}")
    else:
        subject = f"Escalation: {len(stuck)} requests are stuck at the department stage"
        action = (
            "See the requests waiting for their department",
            "/console/requests?state=submitted",
        )
    return notify.queue(
        session,
        settings=settings,
        event="remind.escalation",
        mail=Mail(
            subject=subject,
            paragraphs=[
                f"{'This request has' if len(stuck) == 1 else 'These requests have'} waited "
                f"more than {ESCALATE_AFTER} working days for "
                f"{'its' if len(stuck) == 1 else 'their'} department's approval, or more than "
                f"{REMIND_AFTER} with nobody in the "
                "department able to give it: please follow up with the department.",
            ],
            items=_capped(items, len(stuck), "requests"),
            action=action,
        ),
        to=notify.ced(session, settings),
        once_key=once,
    )


# ------------------------------------------------------------------------------ the digest


def _digest(
    session: Session, settings: Settings, actor: Actor, now: dt.datetime, *, once: str
) -> int:
    """The compliance report's totals, per rule and per department (``compliance_pages.
    summary``, counted in SQL), to CED once a week (the key is the ISO week)."""
    totals = compliance_pages.summary(session, settings=settings, actor=actor, now=now)
    findings = sum(t.findings for t in totals)
    high = sum(t.high for t in totals)
    active = sum(t.active_accounts for t in totals)
    by_code = {code: sum(t.by_code.get(code, 0) for t in totals) for code in compliance_pages.CODES}
    facts = [
        (f"Rule {rule}: {code.replace('_', ' ')}", str(n))
        for code, (rule, _) in sorted(compliance_pages.CODES.items(), key=lambda c: (c[1][0], c[0]))
        if (n := by_code[code])
    ]
    worst = sorted(totals, key=lambda t: (-t.high, -t.findings, t.department))
    items = [
        f"{t.department}: {_plural(t.active_accounts, 'active account', 'active accounts')}, "
        f"{_plural(t.findings, 'finding', 'findings')} ({t.high} high, {t.medium} medium)"
        for t in worst
    ]
    return notify.queue(
        session,
        settings=settings,
        event="remind.digest",
        mail=Mail(
            subject=(
                f"Weekly compliance digest: {_plural(findings, 'finding', 'findings')} "
                f"({high} high) on {_plural(active, 'active account', 'active accounts')}"
            ),
            paragraphs=[
                f"The compliance report on {now:%Y-%m-%d}: "
                f"{_plural(findings, 'finding', 'findings')}, {high} of high severity, across "
                f"{_plural(len(totals), 'department', 'departments')} and "
                f"{_plural(active, 'active account', 'active accounts')}. By rule, then by "
                "department (most high-severity findings first):"
                if findings
                else f"The compliance report on {now:%Y-%m-%d} finds nothing to fix across "
                f"{_plural(active, 'active account', 'active accounts')}.",
            ],
            facts=facts,
            items=_capped(items, len(items), "departments"),
            action=("See the compliance report", "/console/compliance"),
        ),
        to=notify.ced(session, settings),
        once_key=once,
    )
