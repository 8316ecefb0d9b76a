from __future__ import annotations

import datetime as dt

from sqlmodel import Field, SQLModel

from registry.models.base import UTCDateTime, utcnow


class ApiToken(SQLModel, table=True):
    """A bearer token for the HTTP API. Only the SHA-256 of the token is stored."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    prefix: str = Field(max_length=16)
    created_by_id: int | None = Field(default=None, foreign_key="person.id")
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    expires_at: dt.datetime = Field(sa_type=UTCDateTime, nullable=False)
    revoked_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)


class TokenPublic(SQLModel):
    id: int
    person: str
    prefix: str
    created_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None


class TokenCreated(TokenPublic):
    token: str
