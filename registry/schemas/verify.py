"""The public check's shapes: an answer and a directory entry carry public fields only
(``registry.services.verify`` fills them)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from sqlmodel import SQLModel


class VerifyAnswer(SQLModel):
    official: bool
    platform: str
    handle: str
    display_name: str | None = None
    department: str | None = None
    category: str | None = None
    since: dt.datetime | None = None
    status: str | None = None
    message: str
    # What the answer vouches for: the account, never a post a link points to.
    scope: Literal["account"] = "account"


class DirectoryEntry(SQLModel):
    platform: str
    platform_label: str
    handle: str
    display_name: str
    department: str
    category: str
    url: str
    since: dt.datetime | None
