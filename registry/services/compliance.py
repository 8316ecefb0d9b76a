"""The compliance report: every active account checked against the rules, with SQL aggregates.

One row per account and finding, each with its rule, a severity, a sentence that says in plain
words what is wrong and what to do, and what fixes it (``fix``: the console links it to the
form, the CLI names the command); requests waiting too long, by who must act; totals per
department. Each kind of finding is one aggregate query over the whole registry (no Python loop
over accounts), the SQL form of a rule of ``registry.rules``, built from that rule's constants.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import and_, case, func, literal, not_, or_, select
from sqlalchemy.sql import ColumnElement
from sqlmodel import Session, col

from registry import permissions, rules
from registry.config import Settings
from registry.csvsafe import csv_text
from registry.errors import Forbidden
from registry.models import (
    AccessGrant,
    Account,
    AccountRequest,
    AccountStatus,
    Credential,
    Department,
    Person,
    PersonRole,
    PersonStatus,
    RequestState,
    utcnow,
)
from registry.rules import MIN_CED_HOLDERS, MIN_HOLDERS, Stage
from registry.schemas.compliance import ComplianceReport as ComplianceReport
from registry.schemas.compliance import DepartmentTotals as DepartmentTotals
from registry.schemas.compliance import Finding as Finding
from registry.schemas.compliance import Fix as Fix
from registry.services import accounts, departments
from registry.services.actors import Actor

HIGH, MEDIUM = "high", "medium"


def report(
    session: Session,
    *,
    settings: Settings,
    actor: Actor,
    department: str | None = None,
    account_id: int | None = None,
    account_ids: Collection[int] | None = None,
    rule: int | None = None,
    now: dt.datetime | None = None,
) -> ComplianceReport:
    """The report for every department the actor may see (or one of them).

    ``account_id`` narrows it to one account the actor may see (NotFound otherwise), in any
    department: a holder sees the findings of an account they hold in another department.
    ``account_ids`` narrows it to those of the accounts the actor may see (the others are left
    out, as a list leaves them out): one page of a list costs a page, not a department.
    Requests waiting too long concern no account, so a narrowed report has none of them.
    ``rule`` keeps only the findings of that rule (and counts only them in the totals).
    """
    now = now or utcnow()
    if account_id is not None:
        accounts.get_visible_account(session, actor=actor, account_id=account_id)
    narrowed = account_id is not None or account_ids is not None
    if account_ids is not None:
        account_ids = _visible_ids(session, actor, account_ids)
    if department:
        dept_id: int | None = departments.get_by_code(session, department).id
        if not permissions.can_see_department(actor, dept_id):
            raise Forbidden(
                f"{actor.email} may only see the compliance of their own department "
                f"({actor.department_code})."
            )
    elif permissions.can_see_all(actor) or narrowed:
        dept_id = None
    else:
        dept_id = actor.department_id
    ids = [account_id] if account_id is not None else account_ids
    scope = _Scope(session, settings, dept_id, ids, now)
    findings = [
        *scope.bad_login_domains(),
        *scope.holder_problems(),
        *scope.missing_credentials(),
        *scope.rotation_due(),
        *scope.overdue_reviews(),
        *scope.personal_login_emails(),
        *(scope.waiting_requests() if not narrowed else ()),
    ]
    if rule is not None:
        findings = [f for f in findings if f.rule == rule]
    findings.sort(key=lambda f: (f.department, f.account_id or 0, f.request_id or 0, f.rule))
    return ComplianceReport(
        generated_at=now,
        department=department.upper() if department else None,
        findings=findings,
        totals=scope.totals(findings),
    )


def _visible_ids(session: Session, actor: Actor, ids: Collection[int]) -> list[int]:
    """Those of ``ids`` that name accounts the actor may see (``permissions.can_see_account``):
    two small queries, whatever the size of the registry."""
    wanted = sorted(set(ids))
    if not wanted or permissions.can_see_all(actor):
        return wanted
    held = set(
        session.scalars(
            select(col(AccessGrant.account_id)).where(
                col(AccessGrant.person_id) == actor.id,
                col(AccessGrant.revoked_at).is_(None),
                col(AccessGrant.account_id).in_(wanted),
            )
        )
    )
    rows = session.scalars(select(Account).where(col(Account.id).in_(wanted)))
    return [a.id or 0 for a in rows if permissions.can_see_account(actor, a, holds=a.id in held)]


def latest_credentials(
    *, dept_id: int | None = None, account_ids: Sequence[int] | None = None
) -> Any:
    """Newest live version per (account, kind), as a subquery (of the department's or the
    named accounts only, when given: a department's report reads its own credentials, not the
    registry's). The report and the rotation reminders read credentials through it."""
    query: Any = (
        select(
            col(Credential.account_id).label("account_id"),
            col(Credential.kind).label("kind"),
            func.max(col(Credential.version)).label("version"),
        )
        .where(col(Credential.shredded_at).is_(None))
        .group_by(col(Credential.account_id), col(Credential.kind))
    )
    if dept_id is not None:
        in_department = select(col(Account.id)).where(col(Account.department_id) == dept_id)
        query = query.where(col(Credential.account_id).in_(in_department))
    if account_ids is not None:
        query = query.where(col(Credential.account_id).in_(account_ids))
    return query.subquery()


class _Scope:
    """The active accounts in view, and one aggregate query per kind of finding."""

    def __init__(
        self,
        session: Session,
        settings: Settings,
        dept_id: int | None,
        account_ids: Sequence[int] | None,
        now: dt.datetime,
    ) -> None:
        self.session = session
        self.settings = settings
        self.dept_id = dept_id
        self.account_ids = account_ids  # None: every account in the department(s) in view
        self.now = now
        self.ced_id = accounts.ced_department_id(session, settings)

    def _accounts(self, *extra: ColumnElement[bool]) -> Any:
        """SELECT account fields + department code FROM active accounts in view."""
        query = (
            select(
                col(Account.id),
                col(Account.platform),
                col(Account.handle),
                col(Department.code),
            )
            .join(Department, col(Department.id) == Account.department_id)
            .where(col(Account.status) == AccountStatus.active.value, *extra)
        )
        if self.dept_id is not None:
            query = query.where(col(Account.department_id) == self.dept_id)
        if self.account_ids is not None:
            query = query.where(col(Account.id).in_(self.account_ids))
        return query

    def _finding(
        self, row: Any, rule: int, severity: str, code: str, message: str, fix: Fix | None
    ) -> Finding:
        return Finding(
            department=row.code,
            account_id=row.id,
            platform=row.platform,
            handle=row.handle,
            rule=rule,
            severity=severity,
            code=code,
            message=message,
            fix=fix,
        )

    # rule 2: rules.approved_endings, as LIKE patterns
    def bad_login_domains(self) -> list[Finding]:
        email = func.lower(col(Account.login_email))
        approved = or_(
            *(
                email.like(f"%{ending}")
                for ending in rules.approved_endings(self.settings.approved_domains)
            )
        )
        query = self._accounts(not_(approved)).add_columns(col(Account.login_email))
        return [
            self._finding(
                row,
                2,
                HIGH,
                "login_email_domain",
                f"Login e-mail {row.login_email} is not on an approved government domain; "
                "move the account to a government address.",
                None,  # changed on the platform; no form of the registry's changes it
            )
            for row in self.session.execute(query)
        ]

    # rule 3 and rule 6 (holders who left)
    def holder_problems(self) -> list[Finding]:
        active = and_(col(Person.status) == PersonStatus.active.value)
        active_holders = func.count(func.distinct(case((active, col(Person.id)))))
        ced_holders = func.count(
            func.distinct(
                case((and_(active, col(Person.department_id) == self.ced_id), col(Person.id)))
            )
        )
        left_holders = func.count(
            func.distinct(case((col(Person.status) != PersonStatus.active.value, col(Person.id))))
        )
        query = (
            self._accounts()
            .add_columns(
                active_holders.label("active_holders"),
                ced_holders.label("ced_holders"),
                left_holders.label("left_holders"),
            )
            .outerjoin(
                AccessGrant,
                and_(
                    col(AccessGrant.account_id) == Account.id,
                    col(AccessGrant.revoked_at).is_(None),
                ),
            )
            .outerjoin(Person, col(Person.id) == AccessGrant.person_id)
            .group_by(
                col(Account.id), col(Account.platform), col(Account.handle), col(Department.code)
            )
            .having(
                or_(
                    active_holders < MIN_HOLDERS,
                    ced_holders < MIN_CED_HOLDERS,
                    left_holders > 0,  # rule 6: a leaver holds nothing
                )
            )
        )
        found: list[Finding] = []
        for row in self.session.execute(query):
            if row.active_holders < MIN_HOLDERS:
                found.append(
                    self._finding(
                        row,
                        3,
                        HIGH,
                        "too_few_holders",
                        f"Only {row.active_holders} active holder(s); every account needs two "
                        "people with access: add a holder.",
                        Fix.add_holder,
                    )
                )
            if row.ced_holders < MIN_CED_HOLDERS:
                found.append(
                    self._finding(
                        row,
                        3,
                        HIGH,
                        "no_ced_holder",
                        "No holder from CED; add a CED staff member as a holder.",
                        Fix.add_holder,
                    )
                )
            if row.left_holders > 0:
                found.append(
                    self._finding(
                        row,
                        6,
                        HIGH,
                        "holder_left",
                        f"{row.left_holders} holder(s) have left government but still have access; "
                        "run the handover or remove them, then change the credentials and store "
                        "the new ones.",
                        Fix.remove_holder,
                    )
                )
        return found

    def _latest(self) -> Any:
        return latest_credentials(dept_id=self.dept_id, account_ids=self.account_ids)

    # rule 5: rules.lacks_credentials
    def missing_credentials(self) -> list[Finding]:
        latest = self._latest()
        query = self._accounts(
            ~select(literal(1))
            .where(
                latest.c.account_id == Account.id,
                latest.c.kind == rules.REQUIRED_CREDENTIAL.value,
            )
            .exists()
        )
        return [
            self._finding(
                row,
                5,
                HIGH,
                "no_credentials",
                "No current login password on file with CED; store the account's password.",
                Fix.store_credential,
            )
            for row in self.session.execute(query)
        ]

    # rule 6 (marked by a handover) and rule 5 (rules.credential_is_old)
    def rotation_due(self) -> list[Finding]:
        latest = self._latest()
        too_old = self.now - dt.timedelta(days=self.settings.rotation_age_days)
        query = (
            self._accounts()
            .add_columns(
                col(Credential.kind), col(Credential.rotation_reason), col(Credential.set_at)
            )
            .join(latest, latest.c.account_id == Account.id)
            .join(
                Credential,
                and_(
                    col(Credential.account_id) == latest.c.account_id,
                    col(Credential.kind) == latest.c.kind,
                    col(Credential.version) == latest.c.version,
                ),
            )
            .where(
                or_(
                    col(Credential.rotation_due_at).is_not(None),
                    col(Credential.set_at) < too_old,
                )
            )
        )
        found = []
        for row in self.session.execute(query):
            if row.rotation_reason:
                found.append(
                    self._finding(
                        row,
                        6,
                        HIGH,
                        "rotation_due",
                        f"The {row.kind} must be changed ({row.rotation_reason}); change it on the "
                        "platform, then store the new one.",
                        Fix.rotate_credential,
                    )
                )
            else:
                found.append(
                    self._finding(
                        row,
                        5,
                        MEDIUM,
                        "credential_old",
                        f"The {row.kind} is older than {self.settings.rotation_age_days} days "
                        f"(set {row.set_at:%Y-%m-%d}); change it on the platform, then store the "
                        "new one.",
                        Fix.rotate_credential,
                    )
                )
        return found

    # rule 7: rules.review_overdue
    def overdue_reviews(self) -> list[Finding]:
        today = self.now.date()
        query = self._accounts(
            or_(col(Account.next_review_on).is_(None), col(Account.next_review_on) < today)
        ).add_columns(col(Account.next_review_on))
        return [
            self._finding(
                row,
                7,
                MEDIUM,
                "review_overdue",
                (
                    f"The review was due on {row.next_review_on:%Y-%m-%d}"
                    if row.next_review_on
                    else "No review date is set"
                )
                + "; review the account and record the review.",
                Fix.record_review,
            )
            for row in self.session.execute(query)
        ]

    # rules 2 and 6: a login e-mail that is one person's own mailbox
    def personal_login_emails(self) -> list[Finding]:
        query = (
            self._accounts()
            .add_columns(col(Account.login_email), col(Person.status).label("person_status"))
            .join(Person, col(Person.email) == func.lower(col(Account.login_email)))
        )
        return [
            self._finding(
                row,
                6,
                HIGH,
                "personal_login_email",
                f"The login e-mail {row.login_email} is a person's own mailbox"
                + (" (they have left government)" if row.person_status != "active" else "")
                + "; move the account to a shared government mailbox.",
                None,  # changed on the platform
            )
            for row in self.session.execute(query)
        ]

    # rule 4: requests waiting too long, by who must act
    def waiting_requests(self) -> list[Finding]:
        cutoff = self.now - dt.timedelta(days=self.settings.request_wait_days)
        waiting_since = case(
            (
                col(AccountRequest.state) == RequestState.submitted.value,
                col(AccountRequest.submitted_at),
            ),
            else_=col(AccountRequest.department_decided_at),
        )
        query = (
            select(
                col(AccountRequest.id),
                col(AccountRequest.state),
                col(AccountRequest.department_id),
                col(AccountRequest.platform),
                col(AccountRequest.handle),
                col(Department.code),
                waiting_since.label("since"),
            )
            .join(Department, col(Department.id) == AccountRequest.department_id)
            .where(
                col(AccountRequest.state).in_(
                    [RequestState.submitted.value, RequestState.department_approved.value]
                ),
                waiting_since < cutoff,
            )
        )
        if self.dept_id is not None:
            query = query.where(col(AccountRequest.department_id) == self.dept_id)
        rows = self.session.execute(query).all()
        if not rows:
            return []
        approvers = self._approvers()
        found = []
        for row in rows:
            days = (self.now - row.since).days  # aware: the CASE has the columns' UTCDateTime type
            if row.state == RequestState.submitted.value:
                who = approvers.get(("dept", row.department_id), [])
                stage = "the department executive"
            else:
                who = approvers.get(("ced", None), [])
                stage = "CED"
            names = ", ".join(who) if who else "nobody holds that role"
            found.append(
                Finding(
                    department=row.code,
                    request_id=row.id,
                    platform=row.platform,
                    handle=row.handle,
                    rule=4,
                    severity=MEDIUM,
                    code="request_waiting",
                    message=f"Request {row.id} has waited {days} days for {stage} ({names}).",
                    fix=Fix.decide_request,
                )
            )
        return found

    def _approvers(self) -> dict[tuple[str, int | None], list[str]]:
        """Who decides each stage (``permissions.STAGE_DECIDERS``): per department, and CED."""
        department = permissions.STAGE_DECIDERS[Stage.department]
        ced = permissions.STAGE_DECIDERS[Stage.ced]
        rows = self.session.execute(
            select(col(PersonRole.role), col(Person.department_id), col(Person.email))
            .join(Person, col(Person.id) == PersonRole.person_id)
            .where(
                col(Person.status) == PersonStatus.active.value,
                col(PersonRole.role).in_([department.value, ced.value]),
            )
            .order_by(col(Person.email))
        )
        found: dict[tuple[str, int | None], list[str]] = {}
        for role, department_id, email in rows:
            key = ("dept", department_id) if role == department.value else ("ced", None)
            found.setdefault(key, []).append(email)
        return found

    def totals(self, findings: Sequence[Finding]) -> list[DepartmentTotals]:
        query = (
            select(
                col(Department.code),
                func.count(col(Account.id)),
                func.count(col(Account.id)) - func.count(col(Account.platform_id)),
            )
            .join(Account, col(Account.department_id) == Department.id)
            .where(col(Account.status) == AccountStatus.active.value)
            .group_by(col(Department.code))
        )
        if self.dept_id is not None:
            query = query.where(col(Department.id) == self.dept_id)
        if self.account_ids is not None:
            query = query.where(col(Account.id).in_(self.account_ids))
        counts: dict[str, int] = {}
        no_id: dict[str, int] = {}
        for code, n, missing in self.session.execute(query):
            counts[code], no_id[code] = n, int(missing or 0)
        per_dept = Counter(f.department for f in findings)
        high = Counter(f.department for f in findings if f.severity == HIGH)
        names = sorted(set(counts) | set(per_dept))
        return [
            DepartmentTotals(
                department=name,
                active_accounts=counts.get(name, 0),
                findings=per_dept[name],
                high=high[name],
                medium=per_dept[name] - high[name],
                without_platform_id=no_id.get(name, 0),
            )
            for name in names
        ]


CSV_COLUMNS = (
    "department",
    "account_id",
    "request_id",
    "platform",
    "handle",
    "rule",
    "severity",
    "code",
    "message",
)


def to_csv(report: ComplianceReport) -> str:
    """The findings as CSV, safe to open in a spreadsheet (``registry.csvsafe``)."""
    return csv_text(
        CSV_COLUMNS,
        ([getattr(finding, column) for column in CSV_COLUMNS] for finding in report.findings),
    )
