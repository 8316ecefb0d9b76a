"""What awaits a person, as short lists for their home page: the reviews due (rule 7), the
credentials to rotate (rules 5 and 6) and the accounts they hold.

Who hears of what follows DESIGN.md ("Notifications"): a review due within 30 days, or overdue,
concerns the department's executives and CED; a credential due for rotation, the account's
holders and CED. Each list is its first ``limit`` rows read on an index with a LIMIT, and a
count that stops at :data:`COUNT_CAP`: the same cost at 100 accounts and at 100,000.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import func, or_, select
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from registry import permissions
from registry.config import Settings
from registry.models import AccessGrant, Account, AccountStatus, Credential, Department, utcnow
from registry.rules import Stage
from registry.services.actors import Actor

T = TypeVar("T")

REVIEW_NOTICE_DAYS = 30
"""A review is announced this many days before it falls due (DESIGN.md, Notifications: "review
due within 30 days, or overdue")."""

COUNT_CAP = 100
"""A short list counts its rows up to this many, then says "more than": a bounded count (the
compliance report has the full totals)."""


@dataclass(frozen=True)
class Shortlist(Generic[T]):
    """The first ``items`` of a list, and how many it has: ``count``, or more than that when
    ``capped``."""

    items: list[T]
    count: int
    capped: bool = False


@dataclass(frozen=True)
class AccountLine:
    """An account as one line of a list: enough to name it and link to its page."""

    id: int
    platform: str
    handle: str
    department: str
    next_review_on: dt.date | None = None


@dataclass(frozen=True)
class RotationDue:
    """A credential to change now: the newest version of its kind on file for an active
    account, marked for rotation (``rotation_due_at``, with why: it became known to someone who
    left) or older than the rotation age (``rotation_due_at`` None)."""

    account_id: int
    platform: str
    handle: str
    department: str
    kind: str
    set_at: dt.datetime
    rotation_due_at: dt.datetime | None
    rotation_reason: str | None


def count_capped(session: Session, query: Any, cap: int = COUNT_CAP) -> tuple[int, bool]:
    """How many rows ``query`` finds, counting no further than ``cap``; and whether it stopped
    there. ``query`` selects a narrow column (an id) so that an index can answer it."""
    found = session.execute(
        select(func.count()).select_from(query.limit(cap + 1).subquery())
    ).scalar_one()
    return min(found, cap), found > cap


def _line_columns() -> Any:
    """SELECT what an :class:`AccountLine` shows, from account joined to its department."""
    return select(
        col(Account.id),
        col(Account.platform),
        col(Account.handle),
        col(Department.code),
        col(Account.next_review_on),
    ).join(Department, col(Department.id) == Account.department_id)


def _lines(session: Session, query: Any) -> list[AccountLine]:
    return [
        AccountLine(
            id=row[0], platform=row[1], handle=row[2], department=row[3], next_review_on=row[4]
        )
        for row in session.execute(query)
    ]


# ------------------------------------------------------------------------------ reviews (rule 7)


def may_follow_reviews(actor: Actor) -> bool:
    """CED records reviews (every department's); a department's executives hear of their own
    department's."""
    return permissions.can_review(actor) or permissions.can_decide_stage(actor, Stage.department)


def reviews_due(
    session: Session, *, actor: Actor, limit: int, today: dt.date | None = None
) -> Shortlist[AccountLine]:
    """Active accounts whose review is overdue or due within :data:`REVIEW_NOTICE_DAYS`,
    soonest first (one never given a date before all): every department's for CED, their own
    department's for its executives. ``limit`` of them, and how many there are.

    Read on the index of (status, next review date): a range of it, in order, with a LIMIT.
    """
    scope = [col(Account.status) == AccountStatus.active.value]
    if not permissions.can_review(actor):
        if not may_follow_reviews(actor):
            raise permissions.refusal(
                actor,
                (*permissions.REVIEWERS, permissions.STAGE_DECIDERS[Stage.department]),
                to="list the reviews due",
            )
        scope.append(col(Account.department_id) == actor.department_id)
    horizon = (today or utcnow().date()) + dt.timedelta(days=REVIEW_NOTICE_DAYS)
    undated = col(Account.next_review_on).is_(None)
    due = col(Account.next_review_on) <= horizon
    items = _lines(
        session, _line_columns().where(*scope, undated).order_by(col(Account.id)).limit(limit)
    )
    if len(items) < limit:
        items += _lines(
            session,
            _line_columns()
            .where(*scope, due)
            .order_by(col(Account.next_review_on), col(Account.id))
            .limit(limit - len(items)),
        )
    count, capped = count_capped(session, select(col(Account.id)).where(*scope, or_(undated, due)))
    return Shortlist(items=items, count=count, capped=capped)


# ------------------------------------------------------------------------ credentials (rules 5, 6)


def rotation_due(
    session: Session,
    *,
    settings: Settings,
    actor: Actor,
    limit: int,
    now: dt.datetime | None = None,
) -> Shortlist[RotationDue]:
    """The credentials due for rotation, as the compliance report finds them: those marked
    for it first, oldest mark first, then those older than ``settings.rotation_age_days``,
    oldest first. Every account's for CED, the custodians; anyone else's of the accounts they
    hold. ``limit`` of them, and how many there are.

    Each part is read on an index (the marked ones; the dates they were set) with a LIMIT, and
    a newer version of the same kind looked up on the versions' unique index.
    """
    too_old = (now or utcnow()) - dt.timedelta(days=settings.rotation_age_days)
    newer = aliased(Credential)
    # The account is active: asked of each credential (an EXISTS on the account's primary
    # key), not as a filter on the joined accounts, which would let a planner start from the
    # 100,000 active accounts and sort them instead of reading the credentials' indexes.
    its = aliased(Account)  # not the outer query's Account: no correlation with it
    active = (
        select(col(its.id))
        .where(col(its.id) == Credential.account_id, col(its.status) == AccountStatus.active.value)
        .exists()
    )
    scope = [
        active,
        col(Credential.shredded_at).is_(None),
        ~select(col(newer.id))
        .where(
            col(newer.account_id) == Credential.account_id,
            col(newer.kind) == Credential.kind,
            col(newer.version) > Credential.version,
        )
        .exists(),
    ]
    if not permissions.can_hold_credentials(actor):
        scope.append(
            col(Credential.account_id).in_(
                select(col(AccessGrant.account_id)).where(
                    col(AccessGrant.person_id) == actor.id, col(AccessGrant.revoked_at).is_(None)
                )
            )
        )
    marked = [*scope, col(Credential.rotation_due_at).is_not(None)]
    old = [*scope, col(Credential.rotation_due_at).is_(None), col(Credential.set_at) < too_old]
    shown = (
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
        .select_from(Credential)
        .join(Account, col(Account.id) == Credential.account_id)
        .join(Department, col(Department.id) == Account.department_id)
    )
    rows = list(
        session.execute(
            shown.where(*marked)
            .order_by(col(Credential.rotation_due_at), col(Credential.id))
            .limit(limit)
        )
    )
    if len(rows) < limit:
        rows += session.execute(
            shown.where(*old)
            .order_by(col(Credential.set_at), col(Credential.id))
            .limit(limit - len(rows))
        ).all()
    counted = select(col(Credential.id))
    marked_count, marked_capped = count_capped(session, counted.where(*marked))
    old_count, old_capped = count_capped(session, counted.where(*old))
    return Shortlist(
        items=[
            RotationDue(
                account_id=row[0],
                platform=row[1],
                handle=row[2],
                department=row[3],
                kind=row[4],
                set_at=row[5],
                rotation_due_at=row[6],
                rotation_reason=row[7],
            )
            for row in rows
        ],
        count=marked_count + old_count,
        capped=marked_capped or old_capped,
    )


# ------------------------------------------------------------------------------ accounts


def held_accounts(session: Session, *, actor: Actor, limit: int) -> Shortlist[AccountLine]:
    """The active accounts the actor holds (an open grant), by id: ``limit`` of them, and how
    many there are, read from the actor's grants on their index."""
    held = [
        col(AccessGrant.person_id) == actor.id,
        col(AccessGrant.revoked_at).is_(None),
        col(Account.status) == AccountStatus.active.value,
    ]
    items = _lines(
        session,
        _line_columns()
        .join(AccessGrant, col(AccessGrant.account_id) == Account.id)
        .where(*held)
        .order_by(col(Account.id))
        .limit(limit),
    )
    count, capped = count_capped(
        session,
        select(col(AccessGrant.id))
        .join(Account, col(Account.id) == AccessGrant.account_id)
        .where(*held),
    )
    return Shortlist(items=items, count=count, capped=capped)


def account_lines(
    session: Session, *, actor: Actor, account_ids: Sequence[int]
) -> list[AccountLine]:
    """The accounts of ``account_ids`` the actor may see, by id (what an import made)."""
    if not account_ids:
        return []
    query = _line_columns().where(col(Account.id).in_(list(account_ids)))
    if not permissions.can_see_all(actor):
        query = query.where(
            or_(
                col(Account.department_id) == actor.department_id,
                col(Account.id).in_(
                    select(col(AccessGrant.account_id)).where(
                        col(AccessGrant.person_id) == actor.id,
                        col(AccessGrant.revoked_at).is_(None),
                    )
                ),
            )
        )
    return _lines(session, query.order_by(col(Account.id)))
