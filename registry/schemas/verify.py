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
    # The platform's permanent id of the account, when the registry knows it.
    platform_id: str | None = None
    display_name: str | None = None
    department: str | None = None
    category: str | None = None
    since: dt.datetime | None = None
    status: str | None = None
    # The account's language (en, fr, bilingual, other), for an official answer.
    language: str | None = None
    # After a rename: the handle the account was renamed to (``status`` is then "renamed").
    renamed_to: str | None = None
    message: str
    # The language of ``message``: en or fr (``lang``, then ``Accept-Language``).
    lang: str = "en"
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
    # The account's language (en, fr, bilingual, other) and its name in the page's language.
    language: str = "en"
    language_label: str = "English"
    # Its twin in the other official language, shown with it as one entry.
    twin: DirectoryEntry | None = None
