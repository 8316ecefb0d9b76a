from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import CheckConstraint, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from registry.models.base import UTCDateTime, sql_in, utcnow

ROTATION_MARKED = text("rotation_due_at IS NOT NULL")


class CredentialKind(StrEnum):
    password = "password"  # noqa: S105 (a kind of secret, not a secret)
    totp_seed = "totp_seed"
    recovery_codes = "recovery_codes"


class Credential(SQLModel, table=True):
    """One version of one secret of an account, sealed by the vault (never plaintext).

    ``sealed`` is the vault's stored form, bound to ``{table, account, kind, version}``;
    ``key_id`` repeats the master key that wraps it so rotation can find stale rows in SQL.
    A shredded version keeps its row (who set it, when) but not its ciphertext.
    """

    __tablename__ = "credential"
    __table_args__ = (
        CheckConstraint(f"kind IN ({sql_in(CredentialKind)})", name="kind"),
        UniqueConstraint("account_id", "kind", "version", name="uq_credential_version"),
        # The credentials due for rotation (the console's home), each read on an index with a
        # LIMIT: the few marked for it, and the oldest by the date they were set.
        Index(
            "ix_credential_rotation_due",
            "rotation_due_at",
            sqlite_where=ROTATION_MARKED,
            postgresql_where=ROTATION_MARKED,
        ),
        Index("ix_credential_set_at", "set_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    kind: str = Field(max_length=16)
    version: int
    sealed: str = Field(sa_type=Text)
    key_id: str | None = Field(default=None, max_length=32, index=True)
    set_by_id: int = Field(foreign_key="person.id")
    set_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    shredded_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Set on the newest version when the value must be changed (it became known to someone who
    # left); a new version, stored with `vault put`, is unmarked, which clears it.
    rotation_due_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    rotation_reason: str | None = Field(default=None, max_length=200)

    def __repr__(self) -> str:
        return (
            f"Credential(id={self.id}, account_id={self.account_id}, kind={self.kind!r}, "
            f"version={self.version}, sealed=***)"
        )


class CredentialStatus(SQLModel):
    """What may be shown about a credential: never its value."""

    account_id: int
    kind: str
    version: int
    versions_kept: int
    set_by: str
    set_at: dt.datetime
    rotation_due_at: dt.datetime | None = None
    rotation_reason: str | None = None


class RevealedCredential(SQLModel):
    account_id: int
    kind: str
    version: int
    set_by: str
    set_at: dt.datetime
    value: str


class TotpPublic(SQLModel):
    account_id: int
    code: str
    seconds_left: int
