"""Single sign-on: who a person is at the identity provider, and sign-ins under way."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from registry.models.base import UTCDateTime, utcnow


class PersonIdentity(SQLModel, table=True):
    """A person's subject at an OpenID provider (``iss``, ``sub``), bound at their first
    single sign-on: afterwards the subject, not the e-mail address, says who signs in."""

    __tablename__ = "person_identity"
    __table_args__ = (
        UniqueConstraint("issuer", "subject"),  # one person per subject
        UniqueConstraint("person_id", "issuer"),  # one subject per person and provider
    )

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    issuer: str = Field(max_length=500)
    subject: str = Field(max_length=255)
    email: str = Field(max_length=254, description="The address the provider last gave.")
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    last_seen_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class SsoLogin(SQLModel, table=True):
    """A single sign-on started in a browser: what its callback must find again (once). The
    browser's cookie holds a random value; only its SHA-256 is stored, to tie each sign-in to
    the browser that started it."""

    __tablename__ = "sso_login"

    id: int | None = Field(default=None, primary_key=True)
    browser_hash: str = Field(max_length=64, index=True)
    state: str = Field(max_length=64, unique=True)
    nonce: str = Field(max_length=64)
    code_verifier: str = Field(max_length=128)
    next_path: str = Field(max_length=500)
    created_at: dt.datetime = Field(
        default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=True
    )
    used_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)

    def __repr__(self) -> str:
        return f"SsoLogin(id={self.id}, browser_hash=***, state=***, nonce=***, code_verifier=***)"
