"""An account's public details beyond its handle: the platform's permanent id, the language it
publishes in, and its twin in the other official language.

The platform id is unique per platform among accounts that are not decommissioned (an index
guards it; this module refuses first, with a sentence that names the other account). Twins are
an ``en`` and an ``fr`` account naming each other: setting one side sets the other and unlinks
any earlier partners.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from registry import permissions
from registry.enums import Language
from registry.errors import Conflict, InvalidInput
from registry.models import (
    OPEN_STATES,
    Account,
    AccountPublic,
    AccountRequest,
    AccountStatus,
    RequestKind,
)
from registry.platforms import get_platform, normalize_platform_id
from registry.services import accounts, audit
from registry.services.accounts import label
from registry.services.actors import Actor
from registry.validation import clean_text, parse_choice

PAIRED = {Language.en.value: Language.fr.value, Language.fr.value: Language.en.value}


def require_free_platform_id(
    session: Session,
    platform: str,
    platform_id: str | None,
    *,
    account_id: int | None = None,
    request_id: int | None = None,
    seen: dict[tuple[str, str], int] | None = None,
    line: int = 0,
) -> None:
    """Refuse a platform id that a live account (other than ``account_id``), an open request
    (other than ``request_id``) or an earlier import line (``seen``) already names."""
    if platform_id is None:
        return
    named = f"{get_platform(platform).label} id {platform_id}"
    holder = session.exec(
        select(Account).where(
            Account.platform == platform,
            Account.platform_id == platform_id,
            Account.status != AccountStatus.decommissioned,
        )
    ).first()
    if holder is not None and holder.id != account_id:
        raise Conflict(f"The {named} is already registered as {label(holder)}.")
    pending = session.exec(
        select(AccountRequest.id).where(
            AccountRequest.kind == RequestKind.new_account.value,
            AccountRequest.platform == platform,
            AccountRequest.platform_id == platform_id,
            col(AccountRequest.state).in_(OPEN_STATES),
        )
    ).first()
    if pending is not None and pending != request_id:
        raise Conflict(f"The {named} is already requested in request {pending}.")
    if seen is not None:
        key = (platform, platform_id)
        if key in seen:
            raise Conflict(f"The {named} is repeated from line {seen[key]}")
        seen[key] = line


def update(
    session: Session,
    *,
    actor: Actor,
    account_id: int,
    platform_id: str | None = None,
    clear_platform_id: bool = False,
    language: str | None = None,
    twin_id: int | None = None,
    clear_twin: bool = False,
    display_name: str | None = None,
) -> AccountPublic:
    """Change what the public sees of an account (CED, who keeps the list); one audit event
    with each changed field before and after."""
    if not permissions.can_rename(actor):
        raise permissions.refusal(
            actor, permissions.RENAMERS, to="change the public details of accounts"
        )
    if (platform_id is not None and clear_platform_id) or (twin_id is not None and clear_twin):
        raise InvalidInput("Give a new value or clear it, not both.")
    account = accounts.get_visible_account(session, actor=actor, account_id=account_id)
    if account.status == AccountStatus.decommissioned:
        raise Conflict(f"{label(account).capitalize()} is decommissioned; its details stay.")
    changes: dict[str, Any] = {}

    def change(field: str, value: object) -> None:
        before = getattr(account, field)
        if before != value:
            changes[field] = {"before": before, "after": value}
            setattr(account, field, value)

    if display_name is not None:
        change(
            "display_name", clean_text(display_name, field="Name", max_length=200, required=False)
        )
    # The id is written last, inside a savepoint: the unique index of live ids may still refuse
    # it if another account took the id since the check (see below).
    new_id = account.platform_id
    if platform_id is not None or clear_platform_id:
        new_id = (
            normalize_platform_id(get_platform(account.platform), platform_id)
            if platform_id is not None
            else None
        )
        require_free_platform_id(session, account.platform, new_id, account_id=account.id)
        if new_id != account.platform_id:
            changes["platform_id"] = {"before": account.platform_id, "after": new_id}
    if language is not None:
        change("language", parse_choice(Language, language, what="language").value)
    partner = session.get(Account, account.twin_id) if account.twin_id else None
    # The other accounts whose twin changes with this one's: audited with it.
    others: dict[str, dict[str, Any]] = {}
    if clear_twin:
        if partner is not None and partner.twin_id == account.id:
            _set_twin(partner, None, others)
            session.add(partner)
        change("twin_id", None)
        partner = None
    elif twin_id is not None:
        partner = _link(session, actor=actor, account=account, twin_id=twin_id, others=others)
        change("twin_id", partner.id)
    if partner is not None and PAIRED.get(account.language) != partner.language:
        raise Conflict(
            f"{label(account).capitalize()} is the twin of {label(partner)}; twins are one "
            "English (en) and one French (fr) account, so unlink the twin first (--no-twin)."
        )
    if changes:
        if others:
            changes["other_accounts"] = others
        session.add(account)
        try:
            # The savepoint flushes the other changes first, then writes the id inside it.
            with session.begin_nested():
                account.platform_id = new_id
                session.add(account)
        except IntegrityError:
            # Another account took the id between the check and this write: refuse with the
            # sentence the check gives.
            require_free_platform_id(session, account.platform, new_id, account_id=account.id)
            raise
        audit.record(
            session,
            actor=actor,
            action="account.updated",
            entity_type="account",
            entity_id=account.id,
            details=changes,
        )
    return accounts.to_public(session, [account])[0]


def _set_twin(side: Account, twin_id: int | None, others: dict[str, dict[str, Any]]) -> None:
    """Point ``side`` (another account than the one updated) at ``twin_id``, noting it."""
    if side.twin_id != twin_id:
        others[str(side.id)] = {"twin_id": {"before": side.twin_id, "after": twin_id}}
        side.twin_id = twin_id


def _link(
    session: Session,
    *,
    actor: Actor,
    account: Account,
    twin_id: int,
    others: dict[str, dict[str, Any]],
) -> Account:
    """Make ``account`` and ``twin_id`` each other's twins, unlinking earlier partners."""
    if twin_id == account.id:
        raise InvalidInput(f"{label(account).capitalize()} cannot be its own twin.")
    partner = accounts.get_visible_account(session, actor=actor, account_id=twin_id)
    if partner.status == AccountStatus.decommissioned:
        raise Conflict(f"{label(partner).capitalize()} is decommissioned; it cannot be a twin.")
    if PAIRED.get(account.language) != partner.language:
        raise Conflict(
            f"Twins are one English (en) and one French (fr) account, and {label(account)} is "
            f"{account.language} while {label(partner)} is {partner.language}."
        )
    for side in (account, partner):
        if side.twin_id and side.twin_id not in (account.id, partner.id):
            earlier = session.get(Account, side.twin_id)
            if earlier is not None and earlier.twin_id == side.id:
                _set_twin(earlier, None, others)
                session.add(earlier)
    _set_twin(partner, account.id, others)
    session.add(partner)
    return partner
