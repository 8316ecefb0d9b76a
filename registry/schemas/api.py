"""The JSON API's request bodies and the answers of its own that are not tables.

Shapes only: the routes in ``registry.http.api.routes`` read them, the services never see
them (they take plain keyword arguments).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, Field, SecretStr

from registry.defaults import TOKEN_DAYS, TOKEN_MAX_DAYS
from registry.errors import InvalidInput
from registry.models import AuditEventPublic, DecommissionRequest, NewAccountRequest
from registry.validation import MAX_ID, parse_time

# ------------------------------------------------------------------------------ accounts


class ImportSummary(BaseModel):
    imported: int
    account_ids: list[int]


class ReviewBody(BaseModel):
    note: str = Field(default="", max_length=2000)


class AccountDetailsBody(BaseModel):
    """Only the fields sent change; ``null`` clears ``platform_id`` and ``twin_id``."""

    platform_id: str | None = Field(default=None, max_length=300)
    language: str | None = Field(default=None, max_length=16)
    twin_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    display_name: str | None = Field(default=None, max_length=200)


class RenameBody(BaseModel):
    handle: str = Field(min_length=1, max_length=200)
    url: str = Field(min_length=1, max_length=500)


class HolderBody(BaseModel):
    email: str = Field(max_length=254)


# ------------------------------------------------------------------------------ tokens


class TokenRequest(BaseModel):
    email: str = Field(max_length=254)
    days: int = Field(default=TOKEN_DAYS, ge=1, le=TOKEN_MAX_DAYS)


# ------------------------------------------------------------------------------ requests


class NewRequestBody(NewAccountRequest):
    kind: Literal["new_account"] = "new_account"


class DecommissionBody(DecommissionRequest):
    kind: Literal["decommission"]


class ApproveBody(BaseModel):
    comment: str | None = Field(default=None, max_length=2000)
    holders: list[str] = Field(default_factory=list, max_length=50)


class RejectBody(BaseModel):
    reason: str = Field(max_length=2000)


# ------------------------------------------------------------------------------ credentials


class PutCredentialBody(BaseModel):
    value: SecretStr = Field(description="The secret; stored encrypted, never echoed.")


class RevealBody(BaseModel):
    reason: str = Field(max_length=500, description="Why; kept in the audit log.")
    version: int | None = Field(default=None, ge=1, le=MAX_ID)


# ------------------------------------------------------------------------------ audit


def _iso_time(value: object) -> object:
    """An ISO 8601 date or time converted to UTC, UTC when it names no offset (as on the
    command line).

    Pydantic alone would also take a number of seconds since 1970 ("0.5") and keep a time
    without an offset naive, which no UTC column can be compared with.
    """
    if not isinstance(value, str):
        return value
    try:
        return parse_time(value, what="the value")
    except InvalidInput as exc:
        # A ValueError, for pydantic to report against the parameter's name (a 422).
        raise ValueError(exc.message.removesuffix(".")) from None


IsoTime = Annotated[dt.datetime, BeforeValidator(_iso_time)]


class EventPage(BaseModel):
    events: list[AuditEventPublic]
    next_after_seq: int | None = Field(description="Pass as after_seq for the next page.")
