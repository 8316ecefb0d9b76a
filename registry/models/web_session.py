from __future__ import annotations

import datetime as dt

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

from registry.models.base import UTCDateTime, utcnow


class WebSession(SQLModel, table=True):
    """A signed-in browser: the cookie holds a random value, only its SHA-256 is stored.

    Signed in with an API token (``token_id``) or by single sign-on (no token; the ID token is
    kept to name the session when signing out at the provider)."""

    __tablename__ = "web_session"

    id: int | None = Field(default=None, primary_key=True)
    session_hash: str = Field(max_length=64, unique=True)
    csrf: str = Field(max_length=64)
    token_id: int | None = Field(default=None, foreign_key="api_token.id", index=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    expires_at: dt.datetime = Field(sa_type=UTCDateTime, nullable=False)
    last_seen_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    id_token: str | None = Field(default=None, sa_type=Text)
    ended_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)

    def __repr__(self) -> str:
        return (
            f"WebSession(id={self.id}, person_id={self.person_id}, session_hash=***, csrf=***, "
            "id_token=***)"
        )
