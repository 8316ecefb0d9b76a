from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Index, text
from sqlmodel import Field, SQLModel

from registry.models.base import AccountStatus, Category, UTCDateTime, sql_in, utcnow

NOT_DECOMMISSIONED = text("status <> 'decommissioned'")


class Account(SQLModel, table=True):
    """One official or employment-related social media account."""

    __tablename__ = "account"
    __table_args__ = (
        CheckConstraint(f"status IN ({sql_in(AccountStatus)})", name="status"),
        CheckConstraint(f"category IN ({sql_in(Category)})", name="category"),
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
