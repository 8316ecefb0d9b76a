"""The compliance report a page at a time, and its totals counted without listing it.

The whole report (``registry.services.compliance.report``) lists every finding: some 20,000 at
100,000 accounts. A page of the console needs fewer: :func:`findings_page` reads the report of
one department at a time from its cursor's (a department's report uses its indexes), and
:func:`summary` counts the findings per department, rule and severity in SQL, with the same
conditions as the report's queries (``tests/test_console_compliance.py`` checks the two agree on
a registry with every kind of finding).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Integer, String, and_, case, column, func, literal, not_, or_, select
from sqlalchemy.sql import ColumnElement
from sqlmodel import Session, col

from registry import permissions, rules
from registry.config import Settings
from registry.errors import Forbidden
from registry.models import (
    AccessGrant,
    Account,
    AccountStatus,
    Credential,
    Department,
    Person,
    PersonStatus,
    utcnow,
)
from registry.paging import Before, Key, Order, Page
from registry.rules import MIN_CED_HOLDERS, MIN_HOLDERS
from registry.services import compliance, departments
from registry.services.actors import Actor
from registry.services.compliance import HIGH, MEDIUM, Finding

# Each kind of finding: its rule and severity (those the report's queries give it).
CODES: dict[str, tuple[int, str]] = {
    "login_email_domain": (2, HIGH),
    "too_few_holders": (3, HIGH),
    "no_ced_holder": (3, HIGH),
    "request_waiting": (4, MEDIUM),
    "no_credentials": (5, HIGH),
    "credential_old": (5, MEDIUM),
    "holder_left": (6, HIGH),
    "rotation_due": (6, HIGH),
    "personal_login_email": (6, HIGH),
    "review_overdue": (7, MEDIUM),
}
RULES = sorted({rule for rule, _ in CODES.values()})

KEY_MESSAGE = 64  # enough of a message to tell two findings of one account and code apart


def position(finding: Finding) -> Key:
    """Where a finding stands in a paged report: by department, account (requests first),
    request, rule and code; the start of its message tells apart the findings of one account
    and code (the rotation of its password and of its TOTP seed)."""
    return (
        finding.department,
        finding.account_id or 0,
        finding.request_id or 0,
        finding.rule,
        finding.code,
        finding.message[:KEY_MESSAGE],
    )


# The findings' order, for their cursors (``registry.paging``): the columns say what each
# part of a key may hold; the findings are gathered per department, not by one query.
FINDINGS_ORDER: Order[Finding] = Order(
    "findings",
    (
        column("department", String()),
        column("account_id", Integer()),
        column("request_id", Integer()),
        column("rule", Integer()),
        column("code", String()),
        column("message", String()),
    ),
    key=position,
)


def departments_in_view(session: Session, actor: Actor, department: str | None) -> list[str]:
    """The codes of the departments whose findings the actor sees (``department`` alone, if
    given and theirs to see), in order."""
    if department:
        found = departments.get_by_code(session, department)
        if not permissions.can_see_department(actor, found.id):
            raise Forbidden(
                f"{actor.email} may only see the compliance of their own department "
                f"({actor.department_code})."
            )
        return [found.code]
    if permissions.can_see_all(actor):
        return sorted(session.scalars(select(col(Department.code))))
    return [actor.department_code] if actor.department_code else []


def findings_page(
    session: Session,
    *,
    settings: Settings,
    actor: Actor,
    department: str | None = None,
    rule: int | None = None,
    limit: int,
    after: Key | None = None,
    now: dt.datetime | None = None,
) -> Page[Finding]:
    """A page of the report's findings (``rule``'s only, if given), in :func:`position`
    order: the ``limit`` after the key ``after`` (before it, for a
    :class:`registry.paging.Before` key).

    Department by department from the key's (the report of each, read with its department's
    indexes), until the page is full: a page costs a department or two, not the registry.
    The key is a position, not an offset: a finding fixed between two pages moves no other.
    """
    now = now or utcnow()
    codes = departments_in_view(session, actor, department)
    backwards = isinstance(after, Before)
    key = tuple(after) if after is not None else None
    if key is not None:
        codes = [c for c in codes if (c <= key[0] if backwards else c >= key[0])]
    if backwards:
        codes.reverse()
    found: list[Finding] = []
    for code in codes:
        part = compliance.report(
            session, settings=settings, actor=actor, department=code, rule=rule, now=now
        ).findings
        if key is not None:
            part = [f for f in part if (position(f) < key if backwards else position(f) > key)]
        found.extend(sorted(part, key=position, reverse=backwards))
        if len(found) > limit:
            break
    more = len(found) > limit
    rows = found[:limit]
    if backwards:
        rows.reverse()
        return Page(
            rows,
            next=position(rows[-1]) if rows else None,
            prev=Before(position(rows[0])) if more else None,
        )
    prev = None if after is None else Before(position(rows[0]) if rows else after)
    return Page(rows, next=position(rows[-1]) if more else None, prev=prev)


@dataclass(frozen=True)
class RuleTotals:
    """A department's active accounts and its findings: in all, by severity, by rule."""

    department: str
    active_accounts: int
    by_code: dict[str, int] = field(default_factory=dict)
    without_platform_id: int = 0  # see DepartmentTotals

    @property
    def findings(self) -> int:
        return sum(self.by_code.values())

    @property
    def high(self) -> int:
        return sum(n for code, n in self.by_code.items() if CODES[code][1] == HIGH)

    @property
    def medium(self) -> int:
        return self.findings - self.high

    def rule(self, rule: int) -> int:
        return sum(n for code, n in self.by_code.items() if CODES[code][0] == rule)


def summary(
    session: Session,
    *,
    settings: Settings,
    actor: Actor,
    department: str | None = None,
    rule: int | None = None,
    now: dt.datetime | None = None,
) -> list[RuleTotals]:
    """The totals of the report (``rule``'s findings only, if given) per department the
    actor sees, counted in SQL without listing a finding: three aggregate queries, each the
    count of the findings the report's queries list (``tests/test_console_compliance.py``
    checks that the two agree)."""
    now = now or utcnow()
    shown = departments_in_view(session, actor, department)
    ids = dict(
        session.execute(
            select(col(Department.id), col(Department.code)).where(col(Department.code).in_(shown))
        ).all()
    )
    dept_id: int | None = None  # every department
    if department or not permissions.can_see_all(actor):
        if not ids:
            return []
        dept_id = next(iter(ids))  # the one department in view
    counts = _Counts(session, settings, dept_id, None, now)
    active, by_code = counts.count()
    no_id_query = (
        select(col(Account.department_id), func.count(col(Account.id)))
        .where(
            col(Account.status) == AccountStatus.active.value, col(Account.platform_id).is_(None)
        )
        .group_by(col(Account.department_id))
    )
    if dept_id is not None:
        no_id_query = no_id_query.where(col(Account.department_id) == dept_id)
    no_id: dict[int, int] = {dept: n for dept, n in session.execute(no_id_query)}
    totals = []
    for dept, code in sorted(ids.items(), key=lambda item: item[1]):
        found = {
            name: n
            for name, n in by_code.get(dept, Counter()).items()
            if n and (rule is None or CODES[name][0] == rule)
        }
        if active.get(dept) or found:
            totals.append(RuleTotals(code, active.get(dept, 0), found, no_id.get(dept, 0)))
    return totals


class _Counts(compliance._Scope):
    """The report's findings counted per department, not listed: the same conditions as the
    queries of the report's ``_Scope``, summed in three passes (the accounts, their holders,
    their credentials) over the accounts in view."""

    def _active(self) -> list[ColumnElement[bool]]:
        where = [col(Account.status) == AccountStatus.active.value]
        if self.dept_id is not None:
            where.append(col(Account.department_id) == self.dept_id)
        return where

    def count(self) -> tuple[dict[int, int], dict[int, Counter[str]]]:
        """The active accounts and the findings of each kind, per department id."""
        by_code: dict[int, Counter[str]] = {}
        active: dict[int, int] = {}
        for dept, accounts_n, *numbers in self.session.execute(self._per_account()):
            active[dept] = int(accounts_n)
            by_code.setdefault(dept, Counter()).update(
                dict(zip(self.PER_ACCOUNT, (int(n or 0) for n in numbers), strict=True))
            )
        held: dict[int, int] = {}
        for dept, holding, *numbers in self.session.execute(self._holders()):
            held[dept] = int(holding)
            by_code.setdefault(dept, Counter()).update(
                dict(zip(self.HOLDERS, (int(n or 0) for n in numbers), strict=True))
            )
        for dept, accounts_n in active.items():
            # An account without a live grant has no holder at all, let alone one from CED.
            unheld = accounts_n - held.get(dept, 0)
            by_code[dept].update({"too_few_holders": unheld, "no_ced_holder": unheld})
        for dept, due, old in self.session.execute(self._rotations()):
            by_code.setdefault(dept, Counter()).update(
                {"rotation_due": int(due or 0), "credential_old": int(old or 0)}
            )
        waiting = Counter(f.department for f in self.waiting_requests())
        if waiting:
            code_to_id = dict(
                self.session.execute(
                    select(col(Department.code), col(Department.id)).where(
                        col(Department.code).in_(list(waiting))
                    )
                ).all()
            )
            for code, n in waiting.items():
                by_code.setdefault(code_to_id[code], Counter())["request_waiting"] += n
        return active, by_code

    PER_ACCOUNT = (
        "login_email_domain",
        "no_credentials",
        "review_overdue",
        "personal_login_email",
    )

    def _per_account(self) -> Any:
        """Per department: the active accounts, then how many break each rule of
        ``PER_ACCOUNT`` (an account at most once per kind, as the report lists them)."""
        email = func.lower(col(Account.login_email))
        approved = or_(
            *(
                email.like(f"%{ending}")
                for ending in rules.approved_endings(self.settings.approved_domains)
            )
        )
        password = (
            select(literal(1))
            .where(
                col(Credential.account_id) == Account.id,
                col(Credential.kind) == rules.REQUIRED_CREDENTIAL.value,
                col(Credential.shredded_at).is_(None),
            )
            .exists()
        )
        personal = select(literal(1)).where(col(Person.email) == email).exists()
        today = self.now.date()
        conditions = (
            not_(approved),
            not_(password),
            or_(col(Account.next_review_on).is_(None), col(Account.next_review_on) < today),
            personal,
        )
        # Nearly every account is active: reading the table in order beats reading it row by
        # row through ix_account_status or ix_account_department_id, which SQLite's planner
        # (without statistics) picks for the WHERE and the GROUP BY of the plain columns (0.4
        # s against 0.2 s at 100,000 accounts). Expressions keep those indexes out; with one
        # department in view its index still narrows the read.
        department = col(Account.department_id) + 0
        where = [col(Account.status).concat("") == AccountStatus.active.value]
        if self.dept_id is not None:
            where.append(col(Account.department_id) == self.dept_id)
        return (
            select(
                department,
                func.count(),
                *(func.sum(case((condition, 1), else_=0)) for condition in conditions),
            )
            .where(*where)
            .group_by(department)
        )

    HOLDERS = ("too_few_holders", "no_ced_holder", "holder_left")

    def _holders(self) -> Any:
        """Per department: the active accounts with a live grant, then how many of them have
        too few active holders, none from CED, a holder who left (``HOLDERS``)."""
        active_person = col(Person.status) == PersonStatus.active.value
        # Live grants are unique per account and person (uq_access_grant_account_person_live),
        # so sums count the distinct holders the report's COUNT(DISTINCT) counts.
        holders: Any = (
            select(
                col(AccessGrant.account_id).label("account_id"),
                func.sum(case((active_person, 1), else_=0)).label("active"),
                func.sum(
                    case(
                        (and_(active_person, col(Person.department_id) == self.ced_id), 1), else_=0
                    )
                ).label("ced"),
                func.sum(case((active_person, 0), else_=1)).label("left"),
            )
            .join(Person, col(Person.id) == AccessGrant.person_id)
            .where(col(AccessGrant.revoked_at).is_(None))
            .group_by(col(AccessGrant.account_id))
        )
        if self.dept_id is not None:
            holders = holders.join(Account, col(Account.id) == AccessGrant.account_id).where(
                col(Account.department_id) == self.dept_id
            )
        live = holders.subquery()
        conditions = (
            live.c.active < MIN_HOLDERS,
            live.c.ced < MIN_CED_HOLDERS,
            live.c.left > 0,
        )
        return (
            select(
                col(Account.department_id),
                func.count(),
                *(func.sum(case((condition, 1), else_=0)) for condition in conditions),
            )
            .select_from(live)
            .join(Account, col(Account.id) == live.c.account_id)
            .where(*self._active())
            .group_by(col(Account.department_id))
        )

    def _rotations(self) -> Any:
        """Per department: the newest live credentials marked for rotation (with a reason:
        ``rotation_due``), and the others older than the rotation age (``credential_old``)."""
        latest = self._latest()
        too_old = self.now - dt.timedelta(days=self.settings.rotation_age_days)
        reason = and_(
            col(Credential.rotation_reason).is_not(None), col(Credential.rotation_reason) != ""
        )
        return (
            select(
                col(Account.department_id),
                func.sum(case((reason, 1), else_=0)),
                func.sum(case((reason, 0), else_=1)),
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
            .where(
                *self._active(),
                or_(col(Credential.rotation_due_at).is_not(None), col(Credential.set_at) < too_old),
            )
            .group_by(col(Account.department_id))
        )
