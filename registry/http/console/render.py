"""Pages as responses: the templates, the page's headers, and the notices a redirect may name."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from registry import i18n, permissions
from registry.errors import RegistryError

TEMPLATES = Path(__file__).parent / "templates"
templates = Jinja2Templates(directory=str(TEMPLATES))


def _style_hash() -> str:
    """The CSP hash of the layout's one inline stylesheet (static text, no template tags)."""
    text = (TEMPLATES / "layout" / "base.html").read_text(encoding="utf-8")
    start = text.index("<style>") + len("<style>")
    style = text[start : text.index("</style>", start)]
    digest = hashlib.sha256(style.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


# Pages may load nothing but their own stylesheet, post forms only here, never be framed.
PAGE_CSP = (
    f"default-src 'none'; style-src {_style_hash()}; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


def page(
    request: Request,
    template: str,
    *,
    title: str,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """``template`` rendered with ``context``; the navigation asks the permissions what the
    signed-in ``actor`` (if any) may reach. The page speaks ``context["lang"]`` (the public
    pages negotiate it; the console is English): its ``_`` comes with this render's context,
    never installed on the environment the worker threads share."""
    lang = context.pop("lang", i18n.DEFAULT)
    actor = context.get("actor")
    may_hand_over = actor is not None and permissions.can_run_handover(actor)
    may_manage_people = actor is not None and permissions.can_manage_people(actor)
    may_import = actor is not None and permissions.can_import(actor)
    may_read_audit = actor is not None and permissions.can_read_audit(actor)
    may_operate_mail = actor is not None and permissions.can_operate_mail(actor)
    response = templates.TemplateResponse(
        request,
        template,
        {
            "title": title,
            "lang": lang,
            "_": i18n.translator(lang),
            "gettext": i18n.translator(lang),
            "may_hand_over": may_hand_over,
            "may_manage_people": may_manage_people,
            "may_import": may_import,
            "may_read_audit": may_read_audit,
            "may_operate_mail": may_operate_mail,
            **context,
        },
        status_code=status_code,
    )
    # Pages name people and accounts: never kept in a browser's or a proxy's cache.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = PAGE_CSP
    return response


def error_context(error: RegistryError | None) -> dict[str, Any]:
    """What a page shows of a refusal: its sentence and the problems it lists."""
    if error is None:
        return {}
    return {"error": error.message, "problems": error.problems}


def error_page(
    request: Request, exc: RegistryError, *, title: str = "That did not work", **context: Any
) -> HTMLResponse:
    """A refusal as a page of its own (a stale form, a bad CSRF token, a page not shown)."""
    return page(
        request,
        "layout/base.html",
        title=title,
        status_code=exc.status_code,
        **context,
        **error_context(exc),
    )


# What a page may announce after a redirect: ``?notice=KEY`` shows the sentence of a key in
# this list and nothing else, so a link cannot make the console say anything in its name.
NOTICES: dict[str, str] = {
    "signed_out": "You are signed out.",
    "department_approved": "The request is approved by the department; it now awaits CED.",
    "account_opened": "The request is approved; the account is active.",
    "account_decommissioned": "The request is approved; the account is decommissioned.",
    "rejected": "The request is rejected.",
    "request_submitted": "Your request is submitted; it now awaits your department's executive.",
    "request_withdrawn": "The request is withdrawn.",
    "review_recorded": "The review is recorded; the next review date is set.",
    "details_saved": "The account's public details are saved.",
    "account_renamed": "The account is renamed; its old handle no longer verifies.",
    "holder_added": "The holder is added; they may now reveal the account's credentials.",
    "holder_removed": "The holder is removed; change any credential they knew and store it.",
    "credential_stored": "The credential is stored as a new version; it was not shown back.",
    "person_added": "The person is added.",
    "person_updated": "The person's roles and department are saved.",
    "department_added": "The department is added.",
    "identity_unbound": "The single sign-on identity is unbound; the next sign-in binds again.",
    "token_revoked": "The token is revoked; it no longer signs anyone in.",
}


def notice(key: str) -> str:
    """The fixed sentence of a notice key; an unknown key (or free text) shows nothing."""
    return NOTICES.get(key, "")


def back(path: str, key: str) -> RedirectResponse:
    """A redirect to ``path`` announcing the notice ``key`` (a key, never a sentence)."""
    assert key in NOTICES, key
    return RedirectResponse(f"{path}?notice={key}", status_code=303)
