"""Notifications: the e-mail outbox for those who run it (administrators and CED), as
``registry notify list`` shows it: how many messages are queued, sent and failed, then the
messages newest first, a page at a time, filtered by status; and each message's text, so an
operator can read what was sent (it holds no secret by construction: services/notify.py).

Subjects, recipients and errors come from what people typed and from the mail relay: the
templates show them as text (autoescaped), and long values wrap.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from registry import permissions
from registry.enums import OutboxStatus
from registry.http.console import render
from registry.http.console.deps import attempt, signed_in
from registry.http.console.paging import CONSOLE_PAGE, CursorParam, Pager, cursor_of, pager
from registry.http.deps import RowId, SessionDep, SettingsDep
from registry.models import OutboxMessagePublic, WebSession
from registry.paging import Page
from registry.permissions import Actor
from registry.services import outbox

router = APIRouter(prefix="/console/notifications")

TITLE = "Notifications"
StatusParam = Annotated[str, Query(max_length=16)]


def _refused(request: Request, web: WebSession, actor: Actor, *, to: str) -> HTMLResponse:
    """The refusal page for someone who may not read the outbox."""
    return render.error_page(
        request,
        permissions.refusal(actor, permissions.MAIL_OPERATORS, to=to),
        title="Not available",
        actor=actor,
        csrf=web.csrf,
    )


@router.get("", response_class=HTMLResponse)
def notifications_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    status: StatusParam = "",
    cursor: CursorParam = "",
) -> HTMLResponse:
    """The counts per status, then a page of messages (newest first, of one status when
    asked); a refused filter or cursor shows its sentence above an empty list."""
    web, actor = signed_in(request, session, settings)
    if not permissions.can_operate_mail(actor):
        return _refused(request, web, actor, to="list the e-mail outbox")
    shown, error = attempt(
        request,
        session,
        lambda: outbox.list_messages(
            session,
            actor=actor,
            status=status.strip() or None,
            limit=CONSOLE_PAGE,
            after=cursor_of(outbox.ORDER, cursor),
        ),
    )
    messages: Page[OutboxMessagePublic] = shown if shown is not None else Page()
    return render.page(
        request,
        "notifications/list.html",
        title=TITLE,
        status_code=200 if error is None else error.status_code,
        actor=actor,
        csrf=web.csrf,
        counts=outbox.counts(session),
        statuses=[s.value for s in OutboxStatus],
        status=status.strip().lower(),
        messages=messages,
        pager=Pager() if error is not None else pager(request, outbox.ORDER, messages),
        relay_set=bool(settings.smtp_host),
        **render.error_context(error),
    )


@router.get("/{message_id}", response_class=HTMLResponse)
def message_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    message_id: RowId,
) -> HTMLResponse:
    """One message: where it stands, and its plain-text body as it is (or was) sent."""
    web, actor = signed_in(request, session, settings)
    if not permissions.can_operate_mail(actor):
        return _refused(request, web, actor, to="read the e-mail outbox")
    found, error = attempt(
        request,
        session,
        lambda: outbox.get_message(session, actor=actor, message_id=message_id),
    )
    if error is not None:
        return render.error_page(request, error, title=TITLE, actor=actor, csrf=web.csrf)
    assert found is not None  # attempt returns a result or a refusal
    return render.page(
        request,
        "notifications/message.html",
        title=f"Message {found.id}",
        actor=actor,
        csrf=web.csrf,
        message=found,
    )
