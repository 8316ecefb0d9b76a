"""Credentials on file (rule 5): sealed by the vault, revealed only with a reason.

Policy: CED will "maintain a list of approved government and employment-related social media
accounts, including login credentials for all government-owned accounts."

- Values are sealed with envelope encryption bound to ``{table, account, kind, version}``;
  the database never holds plaintext, and nothing here logs or audits a value.
- Putting a value adds a version; the last :data:`KEEP_VERSIONS` stay readable and older
  ones are shredded (their ciphertext destroyed, their row kept as history).
- Revealing needs a reason and is audited *before* decryption in the same transaction, so
  if the event cannot be written nothing is revealed. Refused attempts are audited too.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, update
from sqlmodel import Session, col, select

from registry import permissions
from registry.config import Settings
from registry.errors import Forbidden, InvalidInput, InvalidTransition, NotFound, RegistryError
from registry.models import (
    Account,
    AccountStatus,
    Credential,
    CredentialKind,
    CredentialStatus,
    Person,
    RevealedCredential,
    utcnow,
)
from registry.services import access, accounts, audit
from registry.services.actors import Actor
from registry.validation import clean_text, parse_choice
from vault import (
    SHREDDED,
    Keyring,
    Secret,
    TotpCode,
    VaultError,
    decode_seed,
    decrypt,
    encrypt,
    rewrap,
    totp_now,
)

KEEP_VERSIONS = 10
MAX_SECRET_LENGTH = 8192


def context(account_id: int, kind: str, version: int) -> dict[str, str | int]:
    """What every ciphertext is bound to: moved to another row, kind or version, it fails."""
    return {"table": "credential", "account": account_id, "kind": kind, "version": version}


# ------------------------------------------------------------------------------ who may
# ``registry.permissions`` answers (can_store_credentials, can_reveal, can_get_totp); this
# says whether the actor holds the account, which those answers depend on.


def holds(session: Session, actor: Actor, account_id: int) -> bool:
    return any(p.id == actor.id for p in access.active_holders(session, account_id))


def _holder(session: Session, actor: Actor, account_id: int) -> bool:
    """:func:`holds`, asked only of non-custodians: every answer of ``registry.permissions``
    here allows custodians whatever they hold, so CED's puts and reveals skip the query."""
    return not permissions.can_hold_credentials(actor) and holds(session, actor, account_id)


def _refuse(
    actor: Actor, *, account_id: int, kind: str, action: str, why: str, reason: str | None = None
) -> Forbidden:
    """A refusal whose audit event is kept although the operation changes nothing."""
    error = Forbidden(why)
    details: dict[str, Any] = {"kind": kind, "refused": why}
    if reason:
        details["reason"] = reason
    # Plain values now: after the rollback the actor's loaded rows are expired.
    actor_id, actor_email = actor.id, actor.email

    def record(session: Session) -> None:
        audit.record_by(
            session,
            actor_id=actor_id,
            actor_email=actor_email,
            action=action,
            entity_type="account",
            entity_id=account_id,
            details=details,
        )

    error.afterwards = record
    return error


# ------------------------------------------------------------------------------ put


def put(
    session: Session,
    *,
    keyring: Keyring,
    actor: Actor,
    account_id: int,
    kind: str,
    value: Secret[str],
) -> Credential:
    """Store a new version of an account's secret (CED custodians and the account's holders)."""
    chosen = parse_choice(CredentialKind, kind, what="credential kind")
    account = access.lock_account(session, account_id)  # versions are numbered one at a time
    accounts.ensure_visible(session, actor=actor, account=account)
    if not permissions.can_store_credentials(actor, holds=_holder(session, actor, account_id)):
        raise Forbidden(
            f"{actor.email} may not store credentials of {accounts.label(account)}; "
            "that needs CED (the ced role) or a holder of the account."
        )
    if account.status == AccountStatus.decommissioned:
        raise InvalidTransition(f"{accounts.label(account).capitalize()} is decommissioned.")
    plaintext = _check_value(chosen, value)
    latest = session.exec(
        _LATEST_VERSION, params={"account_id": account_id, "kind": chosen.value}
    ).one()
    version = (latest or 0) + 1
    sealed = encrypt(
        keyring, plaintext.encode("utf-8"), context=context(account_id, chosen.value, version)
    )
    row = Credential(
        account_id=account_id,
        kind=chosen.value,
        version=version,
        sealed=sealed.dumps(),
        key_id=sealed.key_id,
        set_by_id=actor.id,
    )
    session.add(row)
    session.flush()
    shredded = (
        _shred_old_versions(session, account_id, chosen.value, keep_from=version)
        if version > KEEP_VERSIONS
        else 0
    )
    audit.record(
        session,
        actor=actor,
        action="credential.put",
        entity_type="account",
        entity_id=account_id,
        details={"kind": chosen.value, "version": version, "shredded_versions": shredded},
    )
    return row


def _check_value(kind: CredentialKind, value: Secret[str]) -> str:
    text = value.reveal()
    if not text.strip():
        raise InvalidInput("The secret is empty; nothing was stored.")
    if len(text) > MAX_SECRET_LENGTH:
        raise InvalidInput(f"The secret is longer than {MAX_SECRET_LENGTH} characters.")
    if "\x00" in text:
        raise InvalidInput("The secret contains a NUL character.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: bytes that were not UTF-8, or JSON "\ud800"
        raise InvalidInput("The secret is not valid UTF-8 text; nothing was stored.") from None
    # Recovery codes come as lines, pasted from any system: CR LF is a line break like LF.
    text = text.replace("\r\n", "\n")
    if any(unicodedata.category(char) == "Cc" and char != "\n" for char in text):
        # ESC, BEL, a lone CR, tab, DEL, C1 controls: no password, seed or recovery code holds
        # them, and written back to a terminal they could run escape sequences (OSC 52 sets
        # the clipboard, SGR 8 hides text) or overwrite what was shown.
        raise InvalidInput(
            "The secret contains a control character (only line breaks are allowed); "
            "nothing was stored."
        )
    if kind == CredentialKind.totp_seed:
        try:
            decode_seed(text)
        except VaultError as exc:
            raise InvalidInput(str(exc)) from None
    return text


# Built once: constructing these statements costs more than running them (a put and a reveal
# are a handful of statements each, run on every request).
_LATEST_VERSION = select(func.max(Credential.version)).where(
    Credential.account_id == bindparam("account_id"), Credential.kind == bindparam("kind")
)
_SHRED_OLD = (
    update(Credential)
    .where(
        col(Credential.account_id) == bindparam("b_account"),
        col(Credential.kind) == bindparam("b_kind"),
        col(Credential.version) <= bindparam("b_through"),
        col(Credential.shredded_at).is_(None),
    )
    .values(sealed=SHREDDED, key_id=None, shredded_at=bindparam("b_now"))
    .execution_options(synchronize_session=False)
)
_WITH_SETTER = (
    select(Credential, Person.email)
    .join(Person, col(Person.id) == Credential.set_by_id)
    .where(Credential.account_id == bindparam("account_id"), Credential.kind == bindparam("kind"))
)
_NEWEST = _WITH_SETTER.order_by(col(Credential.version).desc()).limit(1)
_VERSION = _WITH_SETTER.where(Credential.version == bindparam("version"))


def _shred_old_versions(session: Session, account_id: int, kind: str, *, keep_from: int) -> int:
    """Destroy the ciphertext of versions older than the newest KEEP_VERSIONS."""
    result = session.connection().execute(
        _SHRED_OLD,
        {
            "b_account": account_id,
            "b_kind": kind,
            "b_through": keep_from - KEEP_VERSIONS,
            "b_now": utcnow(),
        },
    )
    return int(result.rowcount or 0)


# ------------------------------------------------------------------------------ reveal


@dataclass(frozen=True)
class Revealed:
    row: Credential
    set_by: str
    value: Secret[str]

    def public(self) -> RevealedCredential:
        return RevealedCredential(
            account_id=self.row.account_id,
            kind=self.row.kind,
            version=self.row.version,
            set_by=self.set_by,
            set_at=self.row.set_at,
            value=self.value.reveal(),
        )


def reveal(
    session: Session,
    *,
    keyring: Keyring,
    actor: Actor,
    account_id: int,
    kind: str,
    reason: str,
    version: int | None = None,
) -> Revealed:
    """Decrypt a credential for an allowed person, after auditing who, what and why."""
    chosen = parse_choice(CredentialKind, kind, what="credential kind")
    account = accounts.get_visible_account(session, actor=actor, account_id=account_id)
    action = "credential.reveal_refused"
    why = clean_text(reason, field="Reason", max_length=500, required=False)
    if not why:
        raise _refuse(
            actor,
            account_id=account_id,
            kind=chosen.value,
            action=action,
            why="A reason is required to reveal a credential.",
        )
    if not permissions.can_reveal(actor, chosen, holds=_holder(session, actor, account_id)):
        if chosen == CredentialKind.totp_seed:
            refused = (
                f"{actor.email} may not reveal the TOTP seed of {accounts.label(account)}; "
                "only CED may (holders get codes with `vault totp`)."
            )
        else:
            refused = (
                f"{actor.email} may not reveal credentials of {accounts.label(account)}; "
                "only its holders and CED may."
            )
        raise _refuse(
            actor,
            account_id=account_id,
            kind=chosen.value,
            action=action,
            reason=why,
            why=refused,
        )
    row, set_by = _find(session, account_id=account_id, kind=chosen.value, version=version)
    # The audit event is written (flushed) before decrypting, in the same transaction.
    audit.record(
        session,
        actor=actor,
        action="credential.revealed",
        entity_type="account",
        entity_id=account_id,
        details={"kind": row.kind, "version": row.version, "reason": why},
    )
    return Revealed(row=row, set_by=set_by, value=Secret(_open(keyring, row)))


def _find(
    session: Session, *, account_id: int, kind: str, version: int | None
) -> tuple[Credential, str]:
    """The newest (or the given) version and the e-mail of who set it."""
    params: dict[str, Any] = {"account_id": account_id, "kind": kind}
    if version is None:
        found = session.exec(_NEWEST, params=params).first()
    else:
        found = session.exec(_VERSION, params={**params, "version": version}).first()
    if found is None:
        which = f"version {version} of its {kind}" if version is not None else kind
        raise NotFound(f"Account {account_id} has no {which} on file.")
    row, set_by = found
    if row.shredded_at is not None:
        raise InvalidTransition(
            f"Version {row.version} of the {kind} of account {account_id} was shredded on "
            f"{row.shredded_at:%Y-%m-%d}; it cannot be revealed."
        )
    return row, set_by


def _open(keyring: Keyring, row: Credential) -> str:
    try:
        plaintext = decrypt(
            keyring, row.sealed, context=context(row.account_id, row.kind, row.version)
        )
    except VaultError as exc:
        raise VaultIntegrity(
            f"Version {row.version} of the {row.kind} of account {row.account_id} cannot be "
            f"decrypted: {exc}"
        ) from None
    return plaintext.decode("utf-8")


class VaultIntegrity(RegistryError):
    """A stored credential does not decrypt: tampered, moved, or sealed under a lost key."""

    status_code = 500
    kind = "vault_integrity"


# ------------------------------------------------------------------------------ TOTP


def totp(session: Session, *, keyring: Keyring, actor: Actor, account_id: int) -> TotpCode:
    """The current TOTP code for holders and CED, without showing the seed."""
    account = accounts.get_visible_account(session, actor=actor, account_id=account_id)
    if not permissions.can_get_totp(actor, holds=_holder(session, actor, account_id)):
        raise _refuse(
            actor,
            account_id=account_id,
            kind=CredentialKind.totp_seed.value,
            action="credential.totp_refused",
            why=(
                f"{actor.email} may not get TOTP codes for {accounts.label(account)}; "
                "only its holders and CED may."
            ),
        )
    row, _ = _find(
        session, account_id=account_id, kind=CredentialKind.totp_seed.value, version=None
    )
    audit.record(
        session,
        actor=actor,
        action="credential.totp",
        entity_type="account",
        entity_id=account_id,
        details={"version": row.version},
    )
    return totp_now(_open(keyring, row))


# ------------------------------------------------------------------------------ status


def status(session: Session, *, actor: Actor, account_id: int) -> list[CredentialStatus]:
    """Which kinds are on file, their current version and who set it; never a value."""
    accounts.get_visible_account(session, actor=actor, account_id=account_id)
    rows = session.exec(
        select(Credential)
        .where(Credential.account_id == account_id)
        .order_by(col(Credential.kind), col(Credential.version).desc())
    ).all()
    emails = _emails(session, {r.set_by_id for r in rows})
    current: dict[str, CredentialStatus] = {}
    for row in rows:
        if row.kind in current:
            continue
        current[row.kind] = CredentialStatus(
            account_id=account_id,
            kind=row.kind,
            version=row.version,
            versions_kept=sum(1 for r in rows if r.kind == row.kind and r.shredded_at is None),
            set_by=emails[row.set_by_id],
            set_at=row.set_at,
            rotation_due_at=row.rotation_due_at,
            rotation_reason=row.rotation_reason,
        )
    return list(current.values())


def describe(session: Session, *, actor: Actor, row: Credential) -> CredentialStatus:
    """The status line of the kind ``row`` belongs to."""
    [found] = [
        s for s in status(session, actor=actor, account_id=row.account_id) if s.kind == row.kind
    ]
    return found


def _emails(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {p.id or 0: p.email for p in session.exec(select(Person).where(col(Person.id).in_(ids)))}


# ------------------------------------------------------------------------------ rotation


def stale_count(session: Session, keyring: Keyring) -> int:
    """Live credentials not wrapped by the keyring's current master key."""
    return session.exec(
        select(func.count())
        .select_from(Credential)
        .where(
            col(Credential.key_id).is_not(None),
            col(Credential.key_id) != keyring.current_key_id,
        )
    ).one()


def begin_rotation(session: Session, *, keyring: Keyring, actor: Actor) -> tuple[str, int]:
    """Make a new master key current, unless an earlier rotation is unfinished.

    Returns ``(current key id, values to rewrap)``. Resuming: when values still wait under an
    older key, no new key is added and the rewrap simply continues.
    """
    if not permissions.can_rotate_keys(actor):
        raise permissions.refusal(
            actor, permissions.ADMINISTRATORS, to="rotate the vault's master key"
        )
    pending = stale_count(session, keyring)
    if pending == 0:
        info = keyring.add_key()
        pending = stale_count(session, keyring)
        audit.record(
            session,
            actor=actor,
            action="vault.key_added",
            entity_type="vault",
            entity_id=info.id,
            details={"to_rewrap": pending},
        )
    return keyring.current_key_id, pending


def rewrap_batch(session: Session, *, keyring: Keyring, actor: Actor, limit: int = 200) -> int:
    """Rewrap up to ``limit`` stale data keys under the current master key (not the secrets).

    Each batch is its own transaction at the edge, so a crash loses at most one batch of work
    and leaves every value readable: rewrapped and not-yet-rewrapped values both decrypt.
    """
    if not permissions.can_rotate_keys(actor):
        raise permissions.refusal(
            actor, permissions.ADMINISTRATORS, to="rotate the vault's master key"
        )
    rows = session.exec(
        select(Credential)
        .where(
            col(Credential.key_id).is_not(None),
            col(Credential.key_id) != keyring.current_key_id,
        )
        .order_by(col(Credential.id))
        .limit(limit)
    ).all()
    for row in rows:
        sealed = rewrap(keyring, row.sealed, context=context(row.account_id, row.kind, row.version))
        row.sealed = sealed.dumps()
        row.key_id = sealed.key_id
        session.add(row)
    session.flush()
    return len(rows)


def finish_rotation(session: Session, *, keyring: Keyring, actor: Actor) -> list[str]:
    """Retire every old master key that no stored value uses any more."""
    if not permissions.can_rotate_keys(actor):
        raise permissions.refusal(
            actor, permissions.ADMINISTRATORS, to="rotate the vault's master key"
        )
    if stale_count(session, keyring):
        raise InvalidTransition("Some credentials still use an old key; run rotate-key again.")
    in_use = set(
        session.exec(
            select(Credential.key_id).where(col(Credential.key_id).is_not(None)).distinct()
        )
    )
    retired = [
        info.id
        for info in keyring.keys
        if not info.retired and info.id != keyring.current_key_id and info.id not in in_use
    ]
    for key_id in retired:
        keyring.retire(key_id)
    audit.record(
        session,
        actor=actor,
        action="vault.rotation_finished",
        entity_type="vault",
        entity_id=keyring.current_key_id,
        details={"retired": retired},
    )
    return retired


# ------------------------------------------------------------------------------ purge


@dataclass(frozen=True)
class Purged:
    account_id: int
    kind: str
    versions: int


def purge(
    session: Session, *, settings: Settings, actor: Actor, now: dt.datetime | None = None
) -> list[Purged]:
    """Shred the credentials of accounts decommissioned longer than the retention period."""
    if not permissions.can_purge_credentials(actor):
        raise permissions.refusal(actor, permissions.PURGERS, to="purge credentials")
    now = now or utcnow()
    cutoff = now - dt.timedelta(days=settings.credential_retention_days)
    rows = session.exec(
        select(Credential.account_id, Credential.kind, func.count())
        .join(Account, col(Account.id) == Credential.account_id)
        .where(
            Account.status == AccountStatus.decommissioned.value,
            col(Account.decommissioned_at) <= cutoff,
            col(Credential.shredded_at).is_(None),
        )
        .group_by(col(Credential.account_id), col(Credential.kind))
        .order_by(col(Credential.account_id), col(Credential.kind))
    ).all()
    report = [Purged(account_id=a, kind=k, versions=n) for a, k, n in rows]
    account_ids = sorted({p.account_id for p in report})
    if account_ids:
        session.execute(
            update(Credential)
            .where(
                col(Credential.account_id).in_(account_ids),
                col(Credential.shredded_at).is_(None),
            )
            .values(sealed=SHREDDED, key_id=None, shredded_at=now)
        )
        kinds: dict[int, dict[str, int]] = {}
        for p in report:
            kinds.setdefault(p.account_id, {})[p.kind] = p.versions
        audit.record_many(
            session,
            actor=actor,
            action="credential.purged",
            entity_type="account",
            items=((a, {"kinds": kinds[a]}) for a in account_ids),
        )
    return report
