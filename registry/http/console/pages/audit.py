"""The audit log for those who may read it (administrators, CED, auditors): the newest event
first, a page at a time, filtered by who, action, account and dates; the chain checked on
demand; every matching event downloaded as JSON Lines.

Checking the chain recomputes the seal of every event (a million take seconds), so the page
shows the head of the chain as it stands and checks it only when asked, at
``/console/audit/verify``. The download streams the events in batches, each read in a short
transaction of its own, so a long log is never held in memory.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from registry import permissions
from registry.db import session_scope
from registry.errors import InvalidInput, RegistryError
from registry.http.console import render
from registry.http.console.deps import attempt, signed_in
from registry.http.console.paging import CONSOLE_PAGE, CursorParam, Pager, cursor_of, pager
from registry.http.deps import SessionDep, SettingsDep, VaultOpenerDep
from registry.models import AuditEventPublic, WebSession
from registry.paging import Page
from registry.permissions import Actor
from registry.services import audit
from registry.validation import MAX_ID

router = APIRouter(prefix="/console/audit")

EXPORT_BATCH = 2000  # events read per transaction while streaming the download
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

WhoParam = Annotated[str, Query(max_length=254)]
ActionParam = Annotated[str, Query(max_length=64)]
AccountParam = Annotated[str, Query(max_length=32)]
FromParam = Annotated[str, Query(alias="from", max_length=32)]
ToParam = Annotated[str, Query(alias="to", max_length=32)]


@dataclass(frozen=True)
class Filters:
    """The filters as typed (shown back in the form, kept in links)."""

    who: str = ""
    action: str = ""
    account: str = ""
    since: str = ""  # the From date
    until: str = ""  # the To date

    def query(self) -> str:
        """``?who=...&from=...`` of the filters that are set ('' for none)."""
        pairs = (
            ("who", self.who),
            ("action", self.action),
            ("account", self.account),
            ("from", self.since),
            ("to", self.until),
        )
        kept = [(k, v) for k, v in pairs if v]
        return "?" + urlencode(kept) if kept else ""

    def arguments(self) -> dict[str, Any]:
        """The filters as ``audit.list_events`` takes them; InvalidInput in one sentence for
        a value that is not one (an account that is no number, a date that is no date)."""
        found: dict[str, Any] = {}
        if self.who.strip():
            found["by"] = self.who
        if self.action.strip():
            found["action"] = self.action
        if self.account.strip():
            number = self.account.strip()
            if not number.isdigit() or not 1 <= int(number) <= MAX_ID:
                raise InvalidInput(
                    f"Account must be an account number, such as 42, not {number!r}."
                )
            found["account_id"] = int(number)
        since = _day(self.since, "From")
        until = _day(self.until, "To")
        if since and until and since > until:
            raise InvalidInput("The From date must be on or before the To date.")
        if since:  # from the start of the From day (UTC) ...
            found["since"] = dt.datetime.combine(since, dt.time(), tzinfo=dt.UTC)
        if until:  # ... to the end of the To day: both days included
            next_day = until + dt.timedelta(days=1)
            found["until"] = dt.datetime.combine(next_day, dt.time(), tzinfo=dt.UTC)
        return found


def _day(text: str, name: str) -> dt.date | None:
    value = text.strip()
    if not value:
        return None
    try:
        if not _DATE.fullmatch(value):
            raise ValueError
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"{name} must be a date written as YYYY-MM-DD, such as 2025-01-31, not {value!r}."
        ) from None


def _details(event: AuditEventPublic) -> str:
    """An event's details as one line of JSON (shown as text: the page escapes it)."""
    return json.dumps(event.details, ensure_ascii=False, sort_keys=True)


def _refused(request: Request, web: WebSession, actor: Actor) -> HTMLResponse:
    """The refusal page for someone who may not read the audit log."""
    return render.error_page(
        request,
        permissions.refusal(actor, permissions.READERS, to="read the audit log"),
        title="Not available",
        actor=actor,
        csrf=web.csrf,
    )


def _log_page(
    request: Request,
    session: SessionDep,
    web: WebSession,
    actor: Actor,
    filters: Filters,
    cursor: str,
    *,
    verdict: audit.Verdict | None = None,
    refusal: RegistryError | None = None,
) -> HTMLResponse:
    """The log's page: filters, the chain's status (or the ``verdict`` of a check), a page
    of events and its Previous/Next links (to ``/console/audit``, whichever path asked)."""
    events: Page[AuditEventPublic] = Page()
    error = refusal

    def read() -> Page[AuditEventPublic]:
        return audit.event_page(
            session,
            actor=actor,
            limit=CONSOLE_PAGE,
            after=cursor_of(audit.NEWEST_FIRST, cursor),
            **filters.arguments(),
        )

    shown, problem = attempt(request, session, read)
    if shown is not None:
        events = shown
    error = error or problem
    links = Pager() if problem is not None else pager(request, audit.NEWEST_FIRST, events)
    if request.url.path != "/console/audit":  # the check's page pages through the log
        links = Pager(
            prev_url=_to_log(request, links.prev_url), next_url=_to_log(request, links.next_url)
        )
    head = audit.head(session, actor=actor)
    actions = audit.actions(session, actor=actor)
    if filters.action and filters.action not in actions:
        actions = sorted([*actions, filters.action])
    return render.page(
        request,
        "audit/audit.html",
        title="Audit log",
        status_code=200 if error is None else error.status_code,
        actor=actor,
        csrf=web.csrf,
        filters=filters,
        actions=actions,
        events=[(event, _details(event)) for event in events],
        pager=links,
        head=head,
        verdict=verdict,
        jsonl_url="/console/audit.jsonl" + filters.query(),
        **render.error_context(error),
    )


def _to_log(request: Request, url: str | None) -> str | None:
    if url is None:
        return None
    return "/console/audit" + url[len(request.url.path) :]


@router.get("", response_class=HTMLResponse)
def audit_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    who: WhoParam = "",
    action: ActionParam = "",
    account: AccountParam = "",
    since: FromParam = "",
    until: ToParam = "",
    cursor: CursorParam = "",
) -> HTMLResponse:
    """The newest events first (filtered), with the head of the chain."""
    web, actor = signed_in(request, session, settings)
    if not permissions.can_read_audit(actor):
        return _refused(request, web, actor)
    filters = Filters(who, action, account, since, until)
    return _log_page(request, session, web, actor, filters, cursor)


# Fixed paths: "/console/audit.jsonl" and "/console/audit/verify" name no page of the log.
@router.get(".jsonl", response_class=Response)
def audit_jsonl(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    who: WhoParam = "",
    action: ActionParam = "",
    account: AccountParam = "",
    since: FromParam = "",
    until: ToParam = "",
) -> Response:
    """Every event of the filters, oldest first, one JSON object a line: streamed in
    batches up to the last event written when the download began."""
    web, actor = signed_in(request, session, settings)
    if not permissions.can_read_audit(actor):
        return _refused(request, web, actor)
    filters = Filters(who, action, account, since, until)
    try:
        arguments = filters.arguments()
    except InvalidInput as exc:
        return _log_page(request, session, web, actor, filters, "", refusal=exc)
    last = audit.head(session, actor=actor).last_seq
    engine, info = request.app.state.engine, request.app.state.session_info

    def lines() -> Iterator[str]:
        after = 0
        while True:
            with session_scope(engine, info, writes=False) as own:
                batch = audit.list_events(
                    own,
                    actor=actor,
                    after_seq=after,
                    before_seq=last + 1,
                    limit=EXPORT_BATCH,
                    **arguments,
                )
            if batch:
                yield "".join(event.model_dump_json() + "\n" for event in batch)
            if len(batch) < EXPORT_BATCH:
                return
            after = batch[-1].seq

    return StreamingResponse(
        lines(),
        media_type="application/x-ndjson",
        headers={
            "Content-Disposition": 'attachment; filename="audit.jsonl"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/verify", response_class=HTMLResponse)
def audit_verify(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    open_keyring: VaultOpenerDep,
    who: WhoParam = "",
    action: ActionParam = "",
    account: AccountParam = "",
    since: FromParam = "",
    until: ToParam = "",
) -> HTMLResponse:
    """Recompute the chain (``registry audit verify``) and show what it found above the log
    (the same filters); the keyring holds the key the seals are made with."""
    web, actor = signed_in(request, session, settings)
    if not permissions.can_read_audit(actor):
        return _refused(request, web, actor)
    verdict, error = attempt(
        request,
        session,
        lambda: audit.verify_log(session, keyring=open_keyring(), actor=actor),
    )
    filters = Filters(who, action, account, since, until)
    return _log_page(request, session, web, actor, filters, "", verdict=verdict, refusal=error)
