from __future__ import annotations

import datetime as dt

from sqlmodel import Field, SQLModel

from registry.models.base import UTCDateTime, utcnow


class WebSession(SQLModel, table=True):
    """A signed-in browser: the cookie holds a random value, only its SHA-256 is stored."""

    __tablename__ = "web_session"

    id: int | None = Field(default=None, primary_key=True)
    session_hash: str = Field(max_length=64, unique=True)
    csrf: str = Field(max_length=64)
    token_id: int = Field(foreign_key="api_token.id", index=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    expires_at: dt.datetime = Field(sa_type=UTCDateTime, nullable=False)
    ended_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)

    def __repr__(self) -> str:
        return f"WebSession(id={self.id}, person_id={self.person_id}, session_hash=***, csrf=***)"
