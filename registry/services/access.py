"""Who holds an account: granting and revoking access under rules 2 and 3."""

from __future__ import annotations

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from registry import permissions
from registry.config import Settings
from registry.errors import Conflict, Forbidden, InvalidTransition, NotFound, RuleViolation
from registry.models import (
    AccessGrant,
    AccessGrantPublic,
    Account,
    AccountStatus,
    Person,
    utcnow,
)
from registry.rules import holder_shortfalls
from registry.services import audit, notices
from registry.services.accounts import ced_department_id, holder_facts, label, resolve_holders
from registry.services.actors import Actor, find_person

_LOCK_ACCOUNT = (
    select(Account)
    .where(Account.id == bindparam("account_id"))
    .with_for_update()
    .execution_options(populate_existing=True)
)


def lock_account(session: Session, account_id: int) -> Account:
    """Load the account and hold its row lock until the transaction ends.

    Every change to an account's holders goes through here first, so two concurrent
    changes to one account run one after the other and each checks rule 3 against what the
    other committed (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's write transactions are
    already exclusive, see ``registry.db``).
    """
    account = session.exec(_LOCK_ACCOUNT, params={"account_id": account_id}).first()
    if account is None:
        raise NotFound(f"No account with id {account_id}.")
    return account


def active_holders(session: Session, account_id: int) -> list[Person]:
    return list(
        session.exec(
            select(Person)
            .join(AccessGrant, col(AccessGrant.person_id) == Person.id)
            .where(AccessGrant.account_id == account_id, col(AccessGrant.revoked_at).is_(None))
            .order_by(Person.email)
        )
    )


def check_holders(
    session: Session, *, settings: Settings, account: Account, holders: list[Person], doing: str
) -> None:
    """Refuse ``doing`` when an active account would be left breaking rule 3."""
    if account.status != AccountStatus.active:
        return
    shortfalls = holder_shortfalls(
        holder_facts(holders, ced_id=ced_department_id(session, settings))
    )
    if shortfalls:
        raise RuleViolation(
            f"Cannot {doing}: {label(account)} must keep two people with access, one from "
            f"CED ({'; '.join(shortfalls)})."
        )


def grant(
    session: Session, *, settings: Settings, actor: Actor, account_id: int, email: str
) -> AccessGrantPublic:
    """Give ``email`` access to the account (CED or administrators; never to oneself)."""
    if not permissions.can_manage_access(actor):
        raise permissions.refusal(actor, permissions.ACCESS_MANAGERS, to="grant access to accounts")
    account = lock_account(session, account_id)
    if account.status == AccountStatus.decommissioned:
        raise InvalidTransition(f"{label(account).capitalize()} is decommissioned.")
    [person] = resolve_holders(session, settings=settings, emails=[email])
    if not permissions.can_grant_to(actor, person.id):
        # Holding an account lets one reveal its credentials: two people decide who holds it.
        raise Forbidden(
            f"{actor.email} may not grant access to themselves; ask another CED person."
        )
    if person in active_holders(session, account_id):
        raise Conflict(f"{person.email} already holds {label(account)}.")
    row = AccessGrant(account_id=account_id, person_id=person.id or 0, granted_by_id=actor.id)
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="access.granted",
        entity_type="account",
        entity_id=account_id,
        details={"holder": person.email, "grant_id": row.id},
    )
    notices.access_changed(
        session, settings=settings, account=account, person=person, granted=True, by=actor.email
    )
    return _public(session, row)


def revoke(
    session: Session, *, settings: Settings, actor: Actor, account_id: int, email: str
) -> AccessGrantPublic:
    """End ``email``'s access to the account, refused if rule 3 would then break."""
    if not permissions.can_manage_access(actor):
        raise permissions.refusal(
            actor, permissions.ACCESS_MANAGERS, to="revoke access to accounts"
        )
    account = lock_account(session, account_id)
    person = find_person(session, email)
    row = session.exec(
        select(AccessGrant).where(
            AccessGrant.account_id == account_id,
            AccessGrant.person_id == person.id,
            col(AccessGrant.revoked_at).is_(None),
        )
    ).first()
    if row is None:
        raise NotFound(f"{person.email} does not hold {label(account)}.")
    remaining = [p for p in active_holders(session, account_id) if p.id != person.id]
    check_holders(
        session,
        settings=settings,
        account=account,
        holders=remaining,
        doing=f"revoke {person.email}",
    )
    row.revoked_at = utcnow()
    row.revoked_by_id = actor.id
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="access.revoked",
        entity_type="account",
        entity_id=account_id,
        details={"holder": person.email, "grant_id": row.id},
    )
    notices.access_changed(
        session, settings=settings, account=account, person=person, granted=False, by=actor.email
    )
    return _public(session, row)


def _public(session: Session, row: AccessGrant) -> AccessGrantPublic:
    """The grant as callers see it, its people named by e-mail (one query)."""
    ids = {i for i in (row.person_id, row.granted_by_id, row.revoked_by_id) if i is not None}
    emails = {p.id: p.email for p in session.exec(select(Person).where(col(Person.id).in_(ids)))}
    return AccessGrantPublic(
        id=row.id or 0,
        account_id=row.account_id,
        holder=emails[row.person_id],
        granted_by=emails.get(row.granted_by_id) if row.granted_by_id else None,
        granted_at=row.granted_at,
        revoked_at=row.revoked_at,
        revoked_by=emails.get(row.revoked_by_id) if row.revoked_by_id else None,
    )
