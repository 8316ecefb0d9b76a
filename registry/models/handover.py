from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON
from sqlmodel import Field, SQLModel

from registry.models.base import UTCDateTime, utcnow


class Handover(SQLModel, table=True):
    """What happened when someone left: kept for HR and audit. ``report`` holds the details."""

    __tablename__ = "handover"

    id: int | None = Field(default=None, primary_key=True)
    run_by_id: int = Field(foreign_key="person.id")
    leaver_id: int = Field(foreign_key="person.id", index=True)
    successor_id: int = Field(foreign_key="person.id")
    at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    report: dict[str, Any] = Field(default_factory=dict, sa_type=JSON, nullable=False)


class HandoverAccount(SQLModel):
    account_id: int
    platform: str
    handle: str
    department: str
    status: str
    successor: str
    successor_added: bool
    holders_after: list[str]


class DueCredential(SQLModel):
    account_id: int
    kind: str
    version: int
    why: str


class MovedRequest(SQLModel):
    request_id: int
    state: str
    to: str


class HandoverReport(SQLModel):
    """The report a handover prints, identical for a preview (``dry_run``) and the real run."""

    id: int | None
    dry_run: bool
    run_by: str
    leaver: str
    successor: str
    at: dt.datetime
    accounts: list[HandoverAccount]
    credentials_due: list[DueCredential]
    login_email_flags: list[int]
    requests_moved: list[MovedRequest]
    tokens_revoked: int
    roles_removed: list[str]


class HandoverCreate(SQLModel):
    departing: str = Field(max_length=254)
    successor: str = Field(max_length=254)
    dry_run: bool = False
    map: dict[int, str] = Field(
        default_factory=dict,
        description="Per-account successors: account id -> e-mail.",
        schema_extra={"json_schema_extra": {"propertyNames": {"pattern": "^[0-9]+$"}}},
    )
