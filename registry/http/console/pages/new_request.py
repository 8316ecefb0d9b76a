"""Asking for a new account: the form, and its refusals shown next to the fields they name.

Its routes come before ``requests``' in the console (``/console/requests/new`` would otherwise
be taken for a request id).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from registry import permissions
from registry.config import Settings
from registry.errors import RegistryError
from registry.http.console import render
from registry.http.console.deps import attempt, posted, signed_in
from registry.http.deps import SessionDep, SettingsDep
from registry.models import Category, RequestPublic, WebSession
from registry.permissions import Actor
from registry.platforms import PLATFORMS, read_profile_url
from registry.services import departments
from registry.services import requests as account_requests

router = APIRouter(prefix="/console")

NEW_TITLE = "New account request"
LANGUAGES = (("en", "English"), ("fr", "French"), ("bilingual", "Bilingual"), ("other", "Other"))

# The form's fields, in order: name (the service's keyword and the input's id) and label.
FIELDS: tuple[tuple[str, str], ...] = (
    ("url", "Profile link"),
    ("platform", "Platform"),
    ("handle", "Handle"),
    ("category", "Category"),
    ("department", "Department"),
    ("login_email", "Login e-mail"),
    ("purpose", "Purpose"),
    ("holders", "Holders"),
    ("display_name", "Display name (optional)"),
    ("platform_id", "Account id on the platform (optional)"),
    ("language", "Language"),
)

# Beside a field, the sentence of the Manitoba Social Media Policy its rule comes from
# (registry.rules names the same sentences).
POLICY: dict[str, str] = {
    "category": "“An employee's personal LinkedIn account is not an employment-related "
    "account.” Only official and employment-related accounts are registered.",
    "department": "“Seek and obtain approval from department executive and the Communications "
    "and Engagement Division before opening any social media account for official or "
    "employment-related purposes.”",
    "login_email": "“Employment-related social media accounts should be associated with a "
    "government email address”: the account belongs to the government, not to you.",
    "holders": "“… steps should be taken to ensure more than one employee, including "
    "Communications and Engagement Division, has access to the account”: name at least two "
    "people; CED adds its holder when it approves.",
    "purpose": "“Official Social Media Use: refers to use of social media for the purpose of "
    "communicating on behalf of a Manitoba government program area.”",
}

# How a refusal names the field it is about: the words it begins with (validate_draft's,
# the rules' and resolve_holders' sentences, which name their field first).
_NAMED_BY_START: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("platform", ("Unknown platform",)),
    ("category", ("A personal account", "Unknown category")),
    ("department", ("No department with code",)),
    ("purpose", ("Purpose ",)),
    ("display_name", ("Display name ",)),
    ("login_email", ("Login e-mail ",)),
    ("holders", ("Holder ", "Holders ", "At most ")),
    ("url", ("Profile URL ", "The profile URL ")),
    ("language", ("Unknown language",)),
)


@dataclass
class NewRequestForm:
    """What was typed, kept as typed, to show again with a refusal."""

    platform: str = ""
    handle: str = ""
    url: str = ""
    category: str = ""
    department: str = ""
    login_email: str = ""
    purpose: str = ""
    holders: str = ""
    display_name: str = ""
    platform_id: str = ""
    language: str = "en"

    def holder_emails(self) -> list[str]:
        """One field, e-mails separated by commas, semicolons, spaces or new lines."""
        return [e for e in re.split(r"[\s,;]+", self.holders) if e]

    def filled_from_link(self) -> tuple[str, str]:
        """Platform and handle, each taken from the profile link when left empty. A link that
        cannot be read is refused here when it was to name them (the service reads it again)."""
        platform, handle = self.platform.strip(), self.handle.strip()
        if (platform and handle) or not self.url.strip():
            return platform, handle
        link = read_profile_url(self.url.strip())
        return platform or link.platform.name, handle or link.handle


def field_of(error: RegistryError, form: NewRequestForm) -> str | None:
    """The form field a refusal is about, or None when it names none (it is then shown only
    in the summary at the top)."""
    message = error.message
    for name, starts in _NAMED_BY_START:
        if message.startswith(starts):
            return name
    if "may only submit requests for their own department" in message:
        return "department"
    if message.startswith("E-mail address "):  # a malformed address: which field has it
        login = form.login_email.strip()
        return "login_email" if login and repr(login[:77])[:-1] in message else "holders"
    if " handle (" in message or "is already registered" in message:
        return "handle"
    if "one looks like" in message or (message.startswith("The ") and " id " in message):
        return "platform_id"
    if "is already requested in request" in message:
        return "handle"
    url = form.url.strip()
    if url and repr(url[:100])[:-1] in message:  # read_profile_url quotes the link first
        return "url"
    return None


def _new_form_page(
    request: Request,
    session: Session,
    web: WebSession,
    actor: Actor,
    form: NewRequestForm,
    error: RegistryError | None = None,
) -> HTMLResponse:
    field = field_of(error, form) if error is not None else None
    return render.page(
        request,
        "requests/new.html",
        title=NEW_TITLE,
        actor=actor,
        csrf=web.csrf,
        status_code=200 if error is None else error.status_code,
        form=form,
        labels=dict(FIELDS),
        policy=POLICY,
        platforms=PLATFORMS,
        categories=[c.value for c in Category],
        languages=LANGUAGES,
        departments=[
            d for d in departments.all_public(session) if permissions.can_submit_for(actor, d.id)
        ],
        refusal=None if error is None else {"field": field, **render.error_context(error)},
    )


@router.get("/requests/new", response_class=HTMLResponse)
def new_request_form(request: Request, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    web, actor = signed_in(request, session, settings)
    form = NewRequestForm(category="official", department=actor.department_code)
    return _new_form_page(request, session, web, actor, form)


def _submit(
    session: Session, settings: Settings, actor: Actor, form: NewRequestForm
) -> RequestPublic:
    """``submit_new_account`` with the form's fields, as ``POST /requests`` calls it."""
    platform, handle = form.filled_from_link()
    return account_requests.submit_new_account(
        session,
        settings=settings,
        actor=actor,
        platform=platform,
        handle=handle,
        url=form.url,
        category=form.category,
        department=form.department,
        purpose=form.purpose,
        login_email=form.login_email,
        holders=form.holder_emails(),
        display_name=form.display_name,
        platform_id=form.platform_id.strip() or None,
        language=form.language,
    )


@router.post("/requests/new", response_class=HTMLResponse)
def submit_new_request(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    csrf: Annotated[str, Form(max_length=100)] = "",
    platform: Annotated[str, Form(max_length=100)] = "",
    handle: Annotated[str, Form(max_length=200)] = "",
    url: Annotated[str, Form(max_length=2000)] = "",
    category: Annotated[str, Form(max_length=64)] = "",
    department: Annotated[str, Form(max_length=64)] = "",
    login_email: Annotated[str, Form(max_length=320)] = "",
    purpose: Annotated[str, Form(max_length=4000)] = "",
    holders: Annotated[str, Form(max_length=20000)] = "",
    display_name: Annotated[str, Form(max_length=400)] = "",
    platform_id: Annotated[str, Form(max_length=300)] = "",
    language: Annotated[str, Form(max_length=16)] = "en",
) -> Response:
    web, actor = posted(request, session, settings, csrf)
    form = NewRequestForm(
        platform=platform,
        handle=handle,
        url=url,
        category=category,
        department=department,
        login_email=login_email,
        purpose=purpose,
        holders=holders,
        display_name=display_name,
        platform_id=platform_id,
        language=language,
    )
    submitted, error = attempt(request, session, lambda: _submit(session, settings, actor, form))
    if error is not None:
        return _new_form_page(request, session, web, actor, form, error)
    assert submitted is not None  # attempt returns a result or a refusal
    return render.back(f"/console/requests/{submitted.id}", "request_submitted")
