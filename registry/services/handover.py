"""Handover (rule 6): when a holder leaves government, every account stays safe in one step.

Policy: official and employment-related accounts "remain the property of the Manitoba
government even if the designated government employees managing the account leave
government."

One function, one transaction. Everything is checked first (every account that would break
rules 2-3 is named, not only the first); then the leaver's access ends, successors get it,
the leaver is marked ``left`` with their tokens revoked and privileged roles removed, their
open requests move to the successor, and every credential they held or revealed in the last
year is marked due for rotation. The work is done in bulk statements, so the number of SQL
statements does not grow with the number of accounts. A dry run computes the same report and
changes nothing.

``on_step``, when given, is called with the name of each step as the changes reach it
(``handover.planned`` ... ``handover.flushed``): a crash test kills the process there, with
the transaction open (``tests/test_crash_safety.py``).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, update
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from registry import permissions, rules
from registry.config import Settings
from registry.csvsafe import csv_text
from registry.errors import Forbidden, InvalidInput, InvalidTransition, NotFound, RuleViolation
from registry.models import (
    OPEN_STATES,
    AccessGrant,
    Account,
    AccountRequest,
    AccountStatus,
    ApiToken,
    AuditEvent,
    Credential,
    Department,
    DueCredential,
    Handover,
    HandoverAccount,
    HandoverReport,
    MovedRequest,
    Person,
    PersonRole,
    PersonStatus,
    WebSession,
    utcnow,
)
from registry.paging import Key, Order, Page
from registry.rules import holder_shortfalls
from registry.services import accounts, audit, notices, people
from registry.services.actors import Actor, find_person, normalize_email, roles_of


def _no_step(name: str) -> None:
    """The default ``on_step``: nothing happens between the steps."""


@dataclass
class _Plan:
    leaver: Person
    successor: Person
    accounts: list[Account]
    successors: dict[int, Person]
    holders: dict[int, list[Person]]
    due: list[tuple[Credential, str]]
    login_flags: list[int]
    open_requests: list[AccountRequest]
    tokens: int
    roles: list[str]
    departments: dict[int, str]


def handover(
    session: Session,
    *,
    settings: Settings,
    actor: Actor,
    departing: str,
    successor: str,
    mapping: Mapping[int, str] | None = None,
    dry_run: bool = False,
    on_step: Callable[[str], None] | None = None,
) -> HandoverReport:
    """Hand everything ``departing`` holds to ``successor`` (or per-account successors).

    ``on_step(name)`` is called at each step of the changes (none in a dry run).
    """
    if not permissions.can_run_handover(actor):
        raise permissions.refusal(actor, permissions.RUNNERS, to="run a handover")
    step = on_step or _no_step
    plan = _plan(
        session,
        settings=settings,
        actor=actor,
        departing=departing,
        successor=successor,
        mapping=mapping or {},
    )
    now = utcnow()
    report = _report(plan, actor=actor, at=now, dry_run=dry_run)
    if dry_run:
        return report
    step("handover.planned")
    record = _apply(session, plan, actor=actor, now=now, report=report, step=step)
    report.id = record.id
    record.report = report.model_dump(mode="json")
    session.add(record)
    session.flush()
    heirs = {p.id: p for p in [plan.successor, *plan.successors.values()]}
    notices.handover_done(
        session, settings=settings, report=report, successors=list(heirs.values())
    )
    step("handover.flushed")  # every change is in the transaction; the edge commits
    return report


# ------------------------------------------------------------------------------ checks


def _active_person(session: Session, email: str, *, role: str) -> Person:
    try:
        person = find_person(session, email)
    except NotFound:
        raise NotFound(f"The {role} {email.strip()} is not a registered person.") from None
    if person.status != PersonStatus.active:
        raise InvalidTransition(f"The {role} {person.email} has already left government.")
    return person


def _plan(
    session: Session,
    *,
    settings: Settings,
    actor: Actor,
    departing: str,
    successor: str,
    mapping: Mapping[int, str],
) -> _Plan:
    leaver = _active_person(session, departing, role="departing person")
    if not permissions.can_hand_over_person(actor, leaver.id):
        raise Forbidden("Nobody runs their own handover; ask another administrator or CED.")
    default, successors = _successors(session, settings, successor, mapping, leaver)
    if not permissions.can_hand_over_to(actor, [default.id, *(p.id for p in successors.values())]):
        raise Forbidden(
            f"{actor.email} may not hand accounts to themselves; "
            "ask another administrator or CED to run this handover."
        )
    _keep_an_administrator(session, leaver)
    held = session.exec(
        select(Account)
        .where(
            col(Account.id).in_(
                select(AccessGrant.account_id).where(
                    AccessGrant.person_id == leaver.id, col(AccessGrant.revoked_at).is_(None)
                )
            )
        )
        .order_by(col(Account.id))
        .with_for_update()  # account rows, in id order: holder changes wait for us
    ).all()
    held_ids = [a.id or 0 for a in held]
    unknown = sorted(set(mapping) - set(held_ids))
    if unknown:
        raise InvalidInput(
            f"The map names accounts {leaver.email} does not hold: "
            f"{', '.join(str(i) for i in unknown)}."
        )
    holders = _holders(session, held_ids)
    ced_id = accounts.ced_department_id(session, settings)
    problems: list[str] = []
    for account in held:
        if account.status != AccountStatus.active:
            continue
        after = rules.holders_after_handover(
            holders[account.id or 0],
            leaver=leaver,
            successor=successors.get(account.id or 0, default),
        )
        shortfalls = holder_shortfalls(accounts.holder_facts(after, ced_id=ced_id))
        if shortfalls:
            problems.append(f"{accounts.label(account)}: {'; '.join(shortfalls)}")
    if problems:
        count = len(problems)
        raise RuleViolation(
            f"Handover of {leaver.email} refused, nothing changed: {count} account"
            f"{'s' if count != 1 else ''} would be left without two people with access, one "
            "from CED; name a CED successor for them (--map) or add holders first.",
            problems,
        )
    return _Plan(
        leaver=leaver,
        successor=default,
        accounts=list(held),
        successors={a: successors.get(a, default) for a in held_ids},
        holders=holders,
        due=_credentials_due(session, leaver, held_ids),
        login_flags=[
            a.id or 0
            for a in session.exec(
                select(Account)
                .where(
                    Account.login_email == leaver.email,
                    Account.status != AccountStatus.decommissioned.value,
                )
                .order_by(col(Account.id))
            )
        ],
        open_requests=list(
            session.exec(
                select(AccountRequest)
                .where(
                    AccountRequest.requester_id == leaver.id,
                    col(AccountRequest.state).in_(OPEN_STATES),
                )
                .order_by(col(AccountRequest.id))
            )
        ),
        tokens=session.exec(
            select(func.count())
            .select_from(ApiToken)
            .where(ApiToken.person_id == leaver.id, col(ApiToken.revoked_at).is_(None))
        ).one(),
        roles=sorted(
            r
            for r in roles_of(session, [leaver.id or 0])[leaver.id or 0]
            if r in {p.value for p in permissions.PRIVILEGED_ROLES}
        ),
        departments={d.id or 0: d.code for d in session.exec(select(Department))},
    )


def _keep_an_administrator(session: Session, leaver: Person) -> None:
    """Refuse the handover of the last active administrator: nobody could then manage
    people, tokens or the vault's keys."""
    if people.is_last_administrator(session, leaver):
        raise InvalidTransition(
            f"Handover of {leaver.email} refused, nothing changed: they are the last active "
            "administrator; make someone else an administrator first."
        )


def _successors(
    session: Session,
    settings: Settings,
    default: str,
    mapping: Mapping[int, str],
    leaver: Person,
) -> tuple[Person, dict[int, Person]]:
    """The default successor and each mapped account's, all looked up at once; each must be
    able to hold accounts (rules 2 and 6) and be someone other than the leaver."""
    people = accounts.resolve_holders(
        session, settings=settings, emails=[default, *mapping.values()], what="Successor"
    )
    if any(p.id == leaver.id for p in people):
        raise InvalidInput(f"The successor must be someone other than {leaver.email}.")
    by_email = {p.email: p for p in people}
    return by_email[normalize_email(default)], {
        account_id: by_email[normalize_email(email)] for account_id, email in mapping.items()
    }


def _holders(session: Session, account_ids: list[int]) -> dict[int, list[Person]]:
    found: dict[int, list[Person]] = {i: [] for i in account_ids}
    if account_ids:
        rows = session.exec(
            select(AccessGrant.account_id, Person)
            .join(Person, col(Person.id) == AccessGrant.person_id)
            .where(
                col(AccessGrant.account_id).in_(account_ids),
                col(AccessGrant.revoked_at).is_(None),
            )
            .order_by(col(Person.email))
        )
        for account_id, person in rows:
            found[account_id].append(person)
    return found


def _credentials_due(
    session: Session, leaver: Person, held_ids: list[int]
) -> list[tuple[Credential, str]]:
    """The newest live version of every credential the leaver held or revealed in a year."""
    since = utcnow() - rules.REVEAL_LOOKBACK
    revealed = {
        int(entity_id)
        for entity_id in session.exec(
            select(AuditEvent.entity_id)
            .where(
                AuditEvent.actor_id == leaver.id,
                AuditEvent.action == "credential.revealed",
                AuditEvent.entity_type == "account",
                col(AuditEvent.at) >= since,
            )
            .distinct()
        )
    }
    ids = sorted(set(held_ids) | revealed)
    if not ids:
        return []
    newer = aliased(Credential)
    rows = session.exec(
        select(Credential)
        .where(
            col(Credential.account_id).in_(ids),
            col(Credential.shredded_at).is_(None),
            ~select(newer.id)
            .where(
                newer.account_id == Credential.account_id,
                newer.kind == Credential.kind,
                newer.version > Credential.version,
            )
            .exists(),
        )
        .order_by(col(Credential.account_id), col(Credential.kind))
    ).all()
    held = set(held_ids)
    return [
        (row, "held by the leaver" if row.account_id in held else "revealed by the leaver")
        for row in rows
    ]


# ------------------------------------------------------------------------------ the report


def _report(plan: _Plan, *, actor: Actor, at: dt.datetime, dry_run: bool) -> HandoverReport:
    leaver = plan.leaver
    rows = []
    for account in plan.accounts:
        account_id = account.id or 0
        successor = plan.successors[account_id]
        current = plan.holders[account_id]
        rows.append(
            HandoverAccount(
                account_id=account_id,
                platform=account.platform,
                handle=account.handle,
                department=plan.departments[account.department_id],
                status=account.status,
                successor=successor.email,
                successor_added=all(p.id != successor.id for p in current),
                holders_after=sorted(
                    p.email
                    for p in rules.holders_after_handover(
                        current, leaver=leaver, successor=successor
                    )
                ),
            )
        )
    return HandoverReport(
        id=None,
        dry_run=dry_run,
        run_by=actor.email,
        leaver=leaver.email,
        successor=plan.successor.email,
        at=at,
        accounts=rows,
        credentials_due=[
            DueCredential(account_id=c.account_id, kind=c.kind, version=c.version, why=why)
            for c, why in plan.due
        ],
        login_email_flags=plan.login_flags,
        requests_moved=[
            MovedRequest(request_id=r.id or 0, state=r.state, to=plan.successor.email)
            for r in plan.open_requests
        ],
        tokens_revoked=plan.tokens,
        roles_removed=plan.roles,
    )


# ------------------------------------------------------------------------------ the changes


def _apply(
    session: Session,
    plan: _Plan,
    *,
    actor: Actor,
    now: dt.datetime,
    report: HandoverReport,
    step: Callable[[str], None],
) -> Handover:
    leaver_id = plan.leaver.id or 0
    session.execute(
        update(AccessGrant)
        .where(col(AccessGrant.person_id) == leaver_id, col(AccessGrant.revoked_at).is_(None))
        .values(revoked_at=now, revoked_by_id=actor.id)
    )
    step("handover.grants_ended")
    added = [r for r in report.accounts if r.successor_added]
    if added:
        session.execute(
            insert(AccessGrant),
            [
                {
                    "account_id": r.account_id,
                    "person_id": plan.successors[r.account_id].id,
                    "granted_by_id": actor.id,
                    "granted_at": now,
                }
                for r in added
            ],
        )
    step("handover.grants_added")
    session.execute(
        update(Person)
        .where(col(Person.id) == leaver_id)
        .values(status=PersonStatus.left.value, left_at=now)
    )
    session.execute(
        update(ApiToken)
        .where(col(ApiToken.person_id) == leaver_id, col(ApiToken.revoked_at).is_(None))
        .values(revoked_at=now)
    )
    # Their console sessions end too (they would fail anyway with the tokens they came from).
    session.execute(
        update(WebSession)
        .where(col(WebSession.person_id) == leaver_id, col(WebSession.ended_at).is_(None))
        .values(ended_at=now)
    )
    session.execute(
        delete(PersonRole).where(
            col(PersonRole.person_id) == leaver_id,
            col(PersonRole.role).in_([r.value for r in permissions.PRIVILEGED_ROLES]),
        )
    )
    if plan.open_requests:
        session.execute(
            update(AccountRequest)
            .where(col(AccountRequest.id).in_([r.id for r in plan.open_requests]))
            .values(requester_id=plan.successor.id)
        )
    if plan.due:
        session.execute(
            update(Credential)
            .where(col(Credential.id).in_([c.id for c, _ in plan.due]))
            .values(rotation_due_at=now, rotation_reason=rules.ROTATION_REASON)
        )
    step("handover.leaver_left")
    record = Handover(
        run_by_id=actor.id,
        leaver_id=leaver_id,
        successor_id=plan.successor.id or 0,
        at=now,
        report={},
    )
    session.add(record)
    session.flush()
    session.expire(plan.leaver)
    events: list[tuple[int, dict[str, Any]]] = [
        (r.account_id, {"holder": plan.leaver.email, "handover_id": record.id, "action": "revoked"})
        for r in report.accounts
    ] + [
        (r.account_id, {"holder": r.successor, "handover_id": record.id, "action": "granted"})
        for r in added
    ]
    audit.record_many(
        session, actor=actor, action="access.handover", entity_type="account", items=events
    )
    audit.record(
        session,
        actor=actor,
        action="person.handover",
        entity_type="person",
        entity_id=leaver_id,
        details={
            "handover_id": record.id,
            "leaver": report.leaver,
            "successor": report.successor,
            "accounts": [r.account_id for r in report.accounts],
            "credentials_due": len(report.credentials_due),
            "requests_moved": [m.request_id for m in report.requests_moved],
            "login_email_flags": report.login_email_flags,
            "tokens_revoked": report.tokens_revoked,
            "roles_removed": report.roles_removed,
        },
    )
    step("handover.recorded")
    return record


# ------------------------------------------------------------------------------ reading


ORDER: Order[Handover] = Order(
    "handovers", [col(Handover.id)], key=lambda h: (h.id,), descending=True
)


def list_handovers(
    session: Session, *, actor: Actor, limit: int | None = None, after: Key | None = None
) -> Page[HandoverReport]:
    """Handover records, newest first: ``limit`` of them after ``after`` (all if None)."""
    if not permissions.can_read_handovers(actor):
        raise permissions.refusal(actor, permissions.HANDOVER_READERS, to="read handover records")
    page = ORDER.fetch(session, select(Handover), limit=limit, after=after)
    return page.map(lambda rows: [HandoverReport.model_validate(r.report) for r in rows])


def show_handover(session: Session, *, actor: Actor, handover_id: int) -> HandoverReport:
    if not permissions.can_read_handovers(actor):
        raise permissions.refusal(actor, permissions.HANDOVER_READERS, to="read handover records")
    row = session.get(Handover, handover_id)
    if row is None:
        raise NotFound(f"No handover with id {handover_id}.")
    return HandoverReport.model_validate(row.report)


# ------------------------------------------------------------------------------ files


MAP_COLUMNS = ("account_id", "successor_email")
MAX_ID_DIGITS = 18  # more than any account id, fewer than int() refuses to read


def parse_map(data: bytes) -> dict[int, str]:
    """Read ``account_id,successor_email`` rows; every bad line is named, nothing half-read."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("The map file is not valid UTF-8.") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader, [])]
        if tuple(header) != MAP_COLUMNS:
            raise InvalidInput(f"The map file's header must be {','.join(MAP_COLUMNS)}.")
        found: dict[int, str] = {}
        problems: list[str] = []
        for record in reader:
            line = reader.line_num
            if not any(field.strip() for field in record):
                continue
            number = record[0].strip() if len(record) == 2 else ""
            # isdigit() alone also accepts digits int() refuses, such as "²"
            if not (number.isascii() and number.isdigit() and len(number) <= MAX_ID_DIGITS):
                problems.append(f"line {line}: expected an account id and an e-mail")
                continue
            account_id = int(number)
            if account_id in found:
                problems.append(f"line {line}: account {account_id} is named twice")
                continue
            email = record[1].strip()
            if not email:
                problems.append(f"line {line}: account {account_id} has no successor e-mail")
                continue
            found[account_id] = email
    except csv.Error as exc:
        raise InvalidInput(f"The map file is not well-formed CSV: {exc}.") from None
    if problems:
        raise InvalidInput(f"The map file has {len(problems)} bad line(s).", problems)
    return found


HR_COLUMNS = (
    "handover_id",
    "preview",
    "at",
    "leaver",
    "account_id",
    "platform",
    "handle",
    "department",
    "successor",
    "successor_added",
    "credentials_due",
    "login_email_is_leavers",
)


def report_csv(report: HandoverReport) -> str:
    """One row per account, for HR files, safe to open in a spreadsheet (``registry.csvsafe``)."""
    rows = []
    for row in report.accounts:
        due = sorted(c.kind for c in report.credentials_due if c.account_id == row.account_id)
        rows.append(
            [
                report.id or "",
                "yes" if report.dry_run else "no",
                report.at.isoformat(),
                report.leaver,
                row.account_id,
                row.platform,
                row.handle,
                row.department,
                row.successor,
                "yes" if row.successor_added else "no",
                ";".join(due),
                "yes" if row.account_id in report.login_email_flags else "no",
            ]
        )
    return csv_text(HR_COLUMNS, rows)
