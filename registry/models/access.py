from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, text
from sqlmodel import Field, SQLModel

from registry.models.base import UTCDateTime, utcnow

NOT_REVOKED = text("revoked_at IS NULL")


class AccessGrant(SQLModel, table=True):
    """A person's access to one account, from granted_at until revoked_at (open while NULL)."""

    __tablename__ = "access_grant"
    __table_args__ = (
        Index(
            "uq_access_grant_account_person_live",
            "account_id",
            "person_id",
            unique=True,
            sqlite_where=NOT_REVOKED,
            postgresql_where=NOT_REVOKED,
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    granted_by_id: int | None = Field(default=None, foreign_key="person.id")
    granted_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    revoked_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_by_id: int | None = Field(default=None, foreign_key="person.id")


class AccessGrantPublic(SQLModel):
    id: int
    account_id: int
    holder: str
    granted_by: str | None
    granted_at: dt.datetime
    revoked_at: dt.datetime | None
    revoked_by: str | None
