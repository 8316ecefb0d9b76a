"""The platform renamed an account: one audited operation that moves its handle and profile
link and keeps everything else (id, holders, credentials, requests, history).

The old handle is recorded (``account_rename``) so public verification keeps answering it with
``official: false`` and "renamed to @NEW on DATE": whoever registers the released handle is
never vouched for, while the new handle verifies at once.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from registry import permissions
from registry.config import Settings
from registry.errors import Conflict
from registry.models import (
    OPEN_STATES,
    AccountPublic,
    AccountRename,
    AccountRenamePublic,
    AccountRequest,
    AccountStatus,
    Person,
    RequestKind,
    utcnow,
)
from registry.platforms import Platform, get_platform, handle_label, normalize_handle
from registry.services import access, accounts, audit, notices
from registry.services.accounts import label
from registry.services.actors import Actor

RENAMABLE = (AccountStatus.active.value, AccountStatus.suspended.value)


def rename(
    session: Session,
    *,
    actor: Actor,
    account_id: int,
    handle: str,
    url: str,
    settings: Settings | None = None,
) -> AccountPublic:
    """Move account ``account_id`` to ``handle`` at ``url`` (CED). A change of case alone is
    recorded too where the platform ignores case: the public then sees the name as written.
    With ``settings``, the account's holders hear of it."""
    if not permissions.can_rename(actor):
        raise permissions.refusal(actor, permissions.RENAMERS, to="rename accounts")
    accounts.get_visible_account(session, actor=actor, account_id=account_id)
    # Two renames of one account run one after the other, each checking what the other did.
    account = access.lock_account(session, account_id)
    if account.status not in RENAMABLE:
        raise Conflict(
            f"{label(account).capitalize()} is {account.status}; only an active or suspended "
            "account can be renamed."
        )
    platform = get_platform(account.platform)
    shown, compared = normalize_handle(platform, handle)
    address = accounts.profile_url(url, platform, shown, compared)
    if shown == account.handle:
        raise Conflict(f"{label(account).capitalize()} already has the handle @{shown}.")
    if compared != account.handle_normalized:
        _refuse_taken(session, platform, shown, compared)
    record = AccountRename(
        account_id=account.id or 0,
        platform=platform.name,
        old_handle=account.handle,
        old_handle_normalized=account.handle_normalized,
        old_url=account.url,
        new_handle=shown,
        new_url=address,
        renamed_at=utcnow(),
        renamed_by_id=actor.id,
    )
    details = {"old_handle": account.handle, "new_handle": shown, "old_url": account.url}
    try:
        # The savepoint flushes what came before it first, so the change is made inside it.
        with session.begin_nested():
            account.handle, account.handle_normalized, account.url = shown, compared, address
            session.add(account)
            session.add(record)
    except IntegrityError:
        # Another account took the handle between the check and this write (the unique
        # index of live handles): refuse with the sentence the check gives.
        _refuse_taken(session, platform, shown, compared)
        raise
    audit.record(
        session,
        actor=actor,
        action="account.renamed",
        entity_type="account",
        entity_id=account.id,
        details={**details, "new_url": address},
    )
    if settings is not None:
        notices.account_renamed(
            session,
            settings=settings,
            account=account,
            old_handle=details["old_handle"],
            holders=access.active_holders(session, account.id or 0),
            by=actor.email,
        )
    return accounts.to_public(session, [account])[0]


def _refuse_taken(session: Session, platform: Platform, shown: str, compared: str) -> None:
    """Refuse a handle another live account has, or an open new-account request asks for."""
    taken = accounts.find_live_handle(session, platform.name, compared)
    if taken is not None:
        raise Conflict(f"{handle_label(platform, shown)} is already registered as {label(taken)}.")
    pending = session.exec(
        select(AccountRequest.id).where(
            AccountRequest.kind == RequestKind.new_account.value,
            AccountRequest.platform == platform.name,
            AccountRequest.handle_normalized == compared,
            col(AccountRequest.state).in_(OPEN_STATES),
        )
    ).first()
    if pending is not None:
        raise Conflict(
            f"{handle_label(platform, shown)} is already requested in request {pending}."
        )


def history(session: Session, *, actor: Actor, account_id: int) -> list[AccountRenamePublic]:
    """The account's earlier handles, newest first, for whoever may see the account."""
    accounts.get_visible_account(session, actor=actor, account_id=account_id)
    rows = session.exec(
        select(AccountRename, Person.email)
        .join(Person, col(Person.id) == AccountRename.renamed_by_id)
        .where(AccountRename.account_id == account_id)
        .order_by(col(AccountRename.renamed_at).desc(), col(AccountRename.id).desc())
    ).all()
    return [
        AccountRenamePublic(
            old_handle=row.old_handle,
            old_url=row.old_url,
            new_handle=row.new_handle,
            new_url=row.new_url,
            renamed_at=row.renamed_at,
            renamed_by=email,
        )
        for row, email in rows
    ]
