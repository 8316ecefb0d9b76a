from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import CheckConstraint, Index, text
from sqlmodel import Field, SQLModel

from registry.models.base import UTCDateTime, sql_in, utcnow
from registry.validation import MAX_ID


class RequestKind(StrEnum):
    new_account = "new_account"
    decommission = "decommission"


class RequestState(StrEnum):
    submitted = "submitted"
    department_approved = "department_approved"
    approved = "approved"
    rejected = "rejected"
    withdrawn = "withdrawn"


OPEN_STATES = (RequestState.submitted, RequestState.department_approved)
_OPEN = f"state IN ({', '.join(repr(s.value) for s in OPEN_STATES)})"
OPEN_NEW_ACCOUNT = text(f"kind = 'new_account' AND {_OPEN}")
OPEN_DECOMMISSION = text(f"kind = 'decommission' AND {_OPEN}")


class AccountRequest(SQLModel, table=True):
    """A request to open an account or to decommission one, and its two decisions.

    ``department_*`` records the first stage (the department executive); ``decided_*`` the
    final decision: CED's approval, a rejection by either stage, or the requester's withdrawal.
    """

    __tablename__ = "account_request"
    __table_args__ = (
        CheckConstraint(f"kind IN ({sql_in(RequestKind)})", name="kind"),
        CheckConstraint(f"state IN ({sql_in(RequestState)})", name="state"),
        # One open request per handle, and one open decommission per account.
        Index(
            "uq_account_request_open_handle",
            "platform",
            "handle_normalized",
            unique=True,
            sqlite_where=OPEN_NEW_ACCOUNT,
            postgresql_where=OPEN_NEW_ACCOUNT,
        ),
        Index(
            "uq_account_request_open_decommission",
            "account_id",
            unique=True,
            sqlite_where=OPEN_DECOMMISSION,
            postgresql_where=OPEN_DECOMMISSION,
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)
    state: str = Field(default=RequestState.submitted.value, max_length=24, index=True)
    department_id: int = Field(foreign_key="department.id", index=True)
    requester_id: int = Field(foreign_key="person.id", index=True)
    submitted_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    # new_account: the proposed account; decommission: the account and the reason.
    platform: str | None = Field(default=None, max_length=32)
    handle: str | None = Field(default=None, max_length=200)
    handle_normalized: str | None = Field(default=None, max_length=200)
    display_name: str = Field(default="", max_length=200)
    url: str | None = Field(default=None, max_length=500)
    platform_id: str | None = Field(default=None, max_length=300)
    language: str | None = Field(default=None, max_length=16)
    category: str | None = Field(default=None, max_length=32)
    program_area: str = Field(default="", max_length=200)
    purpose: str | None = Field(default=None, max_length=2000)
    login_email: str | None = Field(default=None, max_length=254)
    reason: str | None = Field(default=None, max_length=2000)
    account_id: int | None = Field(default=None, foreign_key="account.id", index=True)
    department_decided_by_id: int | None = Field(default=None, foreign_key="person.id")
    department_decided_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    department_comment: str | None = Field(default=None, max_length=2000)
    decided_by_id: int | None = Field(default=None, foreign_key="person.id")
    decided_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    decision_comment: str | None = Field(default=None, max_length=2000)


class RequestHolder(SQLModel, table=True):
    """A person proposed (or added by CED at approval) to hold a requested account."""

    __tablename__ = "request_holder"

    request_id: int = Field(foreign_key="account_request.id", primary_key=True)
    person_id: int = Field(foreign_key="person.id", primary_key=True)
    added_by_id: int = Field(foreign_key="person.id")


class NewAccountRequest(SQLModel):
    platform: str = Field(min_length=1, max_length=32)
    handle: str = Field(min_length=1, max_length=200)
    display_name: str = Field(default="", max_length=200)
    url: str = Field(min_length=1, max_length=500)
    platform_id: str | None = Field(default=None, max_length=300)
    language: str = Field(default="en", max_length=16)
    category: str = Field(min_length=1, max_length=32)
    department: str = Field(min_length=1, max_length=32)
    program_area: str = Field(default="", max_length=200)
    purpose: str = Field(min_length=1, max_length=2000)
    login_email: str = Field(min_length=3, max_length=254)
    holders: list[str] = Field(default_factory=list, max_length=50)


class DecommissionRequest(SQLModel):
    account_id: int = Field(ge=1, le=MAX_ID)
    reason: str = Field(min_length=1, max_length=2000)


class Decision(SQLModel):
    who: str
    at: dt.datetime
    comment: str | None


class RequestPublic(SQLModel):
    id: int
    kind: str
    state: str
    department: str
    requester: str
    submitted_at: dt.datetime
    platform: str | None
    handle: str | None
    display_name: str = ""
    url: str | None
    platform_id: str | None = None
    language: str | None = None
    category: str | None
    program_area: str
    purpose: str | None
    login_email: str | None
    holders: list[str]
    reason: str | None
    account_id: int | None
    department_decision: Decision | None
    final_decision: Decision | None
