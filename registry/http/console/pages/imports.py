"""CED's import of its existing list by upload: the same service as ``POST /accounts/import``
(every line checked against every rule, all lines or none), its refusals shown line by line.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse
from sqlmodel import Session

from registry import permissions
from registry.config import Settings
from registry.errors import InvalidInput, RegistryError
from registry.http.console import render
from registry.http.console.deps import attempt, posted, signed_in
from registry.http.deps import SessionDep, SettingsDep
from registry.models import WebSession
from registry.permissions import Actor
from registry.services import accounts, awaiting

router = APIRouter(prefix="/console/import")

TITLE = "Import accounts"
DONE_TITLE = "Accounts imported"
# Room in the request body for the multipart framing and the form's other fields: a file up
# to the body limit less this is read, and refused here with a sentence when larger.
ENVELOPE_BYTES = 16 * 1024
SHOWN_ACCOUNTS = 100  # imported accounts listed on the result (the rest are in Accounts)
SHOWN_PROBLEMS = 500  # refused lines listed in the table (the sentence counts them all)


class UploadTooLarge(InvalidInput):
    """The uploaded file is larger than an import reads."""

    status_code = 413


@dataclass(frozen=True)
class LineProblem:
    """One refused line of the file: its number, the column at fault (None when the whole line
    is), and what is wrong."""

    line: int | None
    column: str | None
    problem: str


# How a refusal names the column it is about: the words it begins with (the sentences of
# validate_draft, the rules and resolve_holders name their field first).
_COLUMN_BY_START: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("platform", ("Unknown platform",)),
    ("category", ("A personal account", "Unknown category")),
    ("department", ("No department with code",)),
    ("purpose", ("Purpose ",)),
    ("display_name", ("Display name ",)),
    ("program_area", ("Program area ",)),
    ("login_email", ("Login e-mail ",)),
    ("holders", ("Holder ", "Holders ", "it needs at least")),
    ("url", ("Profile URL ", "The profile URL ")),
)
# Otherwise the column whose value the sentence quotes, in this order (an address in a
# sentence about an address is the login e-mail's or a holder's: whichever holds it).
_QUOTED_ORDER = ("url", "handle", "login_email", "holders", "platform", "category", "department")
_LINE = re.compile(r"line (\d+): (.*)", re.S)


def column_of(message: str, row: dict[str, str] | None) -> str | None:
    """The column of the file a line's refusal is about, or None when it names none."""
    for column, starts in _COLUMN_BY_START:
        if message.startswith(starts):
            return column
    if "is already registered as account" in message or "is repeated from line" in message:
        return "handle"
    for column in _QUOTED_ORDER:
        cell = (row or {}).get(column, "")
        values = cell.split(";") if column == "holders" else [cell]
        for value in values:
            if value.strip() and (
                repr(value.strip()) in message or repr(value.strip().lower()) in message
            ):
                return column
    return None


def _rows_by_line(data: bytes) -> dict[int, dict[str, str]]:
    """The file's rows by the line number the import names them by (its last physical line),
    as far as the file can be read; only to tell which column a refusal is about."""
    rows: dict[int, dict[str, str]] = {}
    try:
        reader = csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), strict=True)
        names = [h.strip().lower() for h in next(reader, [])]
        for record in reader:
            rows[reader.line_num] = dict(zip(names, record, strict=False))
    except (UnicodeDecodeError, csv.Error):
        pass  # the rows read so far
    return rows


def line_problems(problems: list[str], data: bytes) -> list[LineProblem]:
    """The refusal's problems ("line 3: ...") as rows of a table."""
    rows = _rows_by_line(data)
    found = []
    for text in problems:
        match = _LINE.fullmatch(text)
        line = int(match.group(1)) if match else None
        message = match.group(2) if match else text
        column = column_of(message, rows.get(line) if line is not None else None)
        found.append(LineProblem(line=line, column=column, problem=_sentence(message)))
    return found


def _sentence(text: str) -> str:
    text = text.strip()
    return (text[:1].upper() + text[1:]).rstrip(".") + "." if text else text


def _may_import(actor: Actor) -> None:
    """The form only for those the service lets import (it refuses anyway)."""
    if not permissions.can_import(actor):
        raise permissions.refusal(actor, permissions.IMPORTERS, to="import accounts")


def _page(
    request: Request,
    web: WebSession,
    actor: Actor,
    *,
    error: RegistryError | None = None,
    **context: Any,
) -> HTMLResponse:
    return render.page(
        request,
        "imports/import.html",
        title=TITLE if "imported" not in context else DONE_TITLE,
        actor=actor,
        csrf=web.csrf,
        status_code=200 if error is None else error.status_code,
        columns=accounts.IMPORT_COLUMNS,
        optional_columns=accounts.OPTIONAL_IMPORT_COLUMNS,
        max_rows=accounts.MAX_IMPORT_ROWS,
        # The sentence only: the lines it lists are shown in a table of their own.
        error=error.message if error is not None else None,
        **context,
    )


@router.get("", response_class=HTMLResponse)
def import_form(request: Request, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    web, actor = signed_in(request, session, settings)
    _may_import(actor)
    return _page(request, web, actor)


def read_upload(upload: UploadFile | None, settings: Settings) -> bytes:
    """The uploaded file's bytes, read from its spooled file on this worker thread, never more
    than an import accepts; a refusal when there is none or it is too large."""
    cap = max(settings.max_request_bytes - ENVELOPE_BYTES, 1024)
    data = upload.file.read(cap + 1) if upload is not None else b""
    if len(data) > cap:
        raise UploadTooLarge(
            f"The file is larger than the {cap:,} bytes an import accepts; split it into "
            "smaller files and import each."
        )
    if not data:
        raise InvalidInput("Choose the CSV file to import: none was sent, or it is empty.")
    return data


def _import(session: Session, settings: Settings, actor: Actor, data: bytes) -> list[int]:
    return accounts.import_accounts(session, settings=settings, actor=actor, data=data).account_ids


@router.post("", response_class=HTMLResponse)
def import_upload(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    csrf: Annotated[str, Form(max_length=100)] = "",
    spreadsheet: Annotated[UploadFile | None, File()] = None,
) -> HTMLResponse:
    """A plain function, so reading the file and the import (seconds for a large file) run on
    a worker thread, never holding up the event loop (as ``POST /accounts/import``)."""
    web, actor = posted(request, session, settings, csrf)
    _may_import(actor)
    data = b""

    def run() -> list[int]:
        nonlocal data
        data = read_upload(spreadsheet, settings)
        return _import(session, settings, actor, data)

    ids, error = attempt(request, session, run)
    if error is not None:
        problems = line_problems(error.problems, data)
        return _page(
            request,
            web,
            actor,
            error=error,
            line_problems=problems[:SHOWN_PROBLEMS],
            problem_count=len(problems),
        )
    assert ids is not None  # attempt returns a result or a refusal
    return _page(
        request,
        web,
        actor,
        imported=len(ids),
        accounts=awaiting.account_lines(session, actor=actor, account_ids=ids[:SHOWN_ACCOUNTS]),
    )
