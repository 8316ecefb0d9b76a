from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Index, text
from sqlmodel import Field, SQLModel

from registry.models.base import AccountStatus, Category, Language, UTCDateTime, sql_in, utcnow

NOT_DECOMMISSIONED = text("status <> 'decommissioned'")
LIVE_PLATFORM_ID = text("status <> 'decommissioned' AND platform_id IS NOT NULL")


class Account(SQLModel, table=True):
    """One official or employment-related social media account."""

    __tablename__ = "account"
    __table_args__ = (
        CheckConstraint(f"status IN ({sql_in(AccountStatus)})", name="status"),
        CheckConstraint(f"category IN ({sql_in(Category)})", name="category"),
        CheckConstraint(f"language IN ({sql_in(Language)})", name="language"),
        # Every account with a handle, decommissioned ones included: public verification
        # answers for those too.
        Index("ix_account_platform_handle", "platform", "handle_normalized"),
        # A handle belongs to one live account per platform; a decommissioned account keeps
        # its history but frees the handle.
        Index(
            "uq_account_platform_handle_live",
            "platform",
            "handle_normalized",
            unique=True,
            sqlite_where=NOT_DECOMMISSIONED,
            postgresql_where=NOT_DECOMMISSIONED,
        ),
        # The platform's permanent id names one live account per platform (a decommissioned
        # one keeps it in its history); public verification by id reads this index.
        Index(
            "uq_account_platform_id_live",
            "platform",
            "platform_id",
            unique=True,
            sqlite_where=LIVE_PLATFORM_ID,
            postgresql_where=LIVE_PLATFORM_ID,
        ),
        Index("ix_account_platform_platform_id", "platform", "platform_id"),
        # The reviews due soonest among the active accounts (the console's home): a range of
        # this index read in order, never every account.
        Index("ix_account_status_next_review", "status", "next_review_on"),
    )

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=32)
    handle: str = Field(max_length=200)
    handle_normalized: str = Field(max_length=200)
    display_name: str = Field(default="", max_length=200)
    url: str = Field(max_length=500)
    # The platform's permanent id for the account (page id, user id, channel id, DID, ...),
    # in the canonical form ``registry.platforms.normalize_platform_id`` gives; it survives
    # renames, where the handle does not.
    platform_id: str | None = Field(default=None, max_length=300)
    language: str = Field(default=Language.en.value, max_length=16)
    # Its twin in the other official language (an ``en`` account's ``fr`` one and back).
    twin_id: int | None = Field(default=None, foreign_key="account.id")
    category: str = Field(max_length=32)
    department_id: int = Field(foreign_key="department.id", index=True)
    program_area: str = Field(default="", max_length=200)
    purpose: str = Field(max_length=2000)
    login_email: str = Field(max_length=254)
    status: str = Field(default=AccountStatus.pending.value, max_length=16, index=True)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    activated_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    decommissioned_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    next_review_on: dt.date | None = Field(default=None)
    last_reviewed_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_reviewed_by_id: int | None = Field(default=None, foreign_key="person.id")


class AccountPublic(SQLModel):
    id: int
    platform: str
    handle: str
    display_name: str
    url: str
    platform_id: str | None = None
    language: str = Language.en.value
    twin_id: int | None = None
    category: str
    department: str
    program_area: str
    purpose: str
    login_email: str
    status: str
    holders: list[str]
    created_at: dt.datetime
    activated_at: dt.datetime | None
    decommissioned_at: dt.datetime | None
    next_review_on: dt.date | None
    last_reviewed_at: dt.datetime | None = None


class AccountRename(SQLModel, table=True):
    """The platform renamed an account: its handle (and profile link) before and after.

    The old handle keeps answering public verification with ``official: false`` and "renamed
    to @NEW on DATE", so whoever registers the released handle is never vouched for.
    """

    __tablename__ = "account_rename"
    __table_args__ = (Index("ix_account_rename_old_handle", "platform", "old_handle_normalized"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    platform: str = Field(max_length=32)
    old_handle: str = Field(max_length=200)
    old_handle_normalized: str = Field(max_length=200)
    old_url: str = Field(max_length=500)
    new_handle: str = Field(max_length=200)
    new_url: str = Field(max_length=500)
    renamed_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    renamed_by_id: int = Field(foreign_key="person.id")


class AccountRenamePublic(SQLModel):
    old_handle: str
    old_url: str
    new_handle: str
    new_url: str
    renamed_at: dt.datetime
    renamed_by: str
