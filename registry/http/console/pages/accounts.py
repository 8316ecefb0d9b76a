"""The accounts the signed-in person may see (a page at a time, or every one as CSV), one
account, and what may be done with it: adding and removing holders, storing (rotating) a
credential, revealing one, showing the current TOTP code, recording a review, asking for it to
be decommissioned. Each form calls the service the API and the CLI call, and is offered only to
whom ``registry.permissions`` allows it (the service refuses anyone else anyway)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import SecretStr
from sqlmodel import Session

from registry import permissions
from registry.config import Settings
from registry.csvsafe import csv_text
from registry.errors import InvalidInput, RegistryError
from registry.http.console import render
from registry.http.console.deps import attempt, posted, signed_in
from registry.http.console.paging import CONSOLE_PAGE, CursorParam, cursor_of, pager
from registry.http.deps import RowId, SessionDep, SettingsDep, VaultOpenerDep
from registry.models import (
    Account,
    AccountPublic,
    AccountStatus,
    CredentialKind,
    CredentialStatus,
    PersonStatus,
    WebSession,
)
from registry.paging import Key, Page
from registry.permissions import Actor
from registry.platforms import PLATFORMS
from registry.services import (
    access,
    account_details,
    accounts,
    audit,
    compliance,
    credentials,
    renames,
)
from registry.services import requests as account_requests
from registry.validation import MAX_ID
from vault import Secret

router = APIRouter(prefix="/console/accounts")

# The CSV export: the import's columns (so a sheet of it reads like the one CED imported),
# then what the registry adds; holders separated by ";" as in the import.
EXPORT_COLUMNS = (
    "id",
    *accounts.IMPORT_COLUMNS,
    *accounts.OPTIONAL_IMPORT_COLUMNS,
    "status",
    "created_at",
    "activated_at",
    "decommissioned_at",
    "next_review_on",
    "last_reviewed_at",
)
EXPORT_BATCH = 1000  # accounts read per query while writing the CSV (keyset, as the pages)
# Longer than the vault keeps (credentials.MAX_SECRET_LENGTH), so that the service, not the
# form's parser, refuses an over-long secret, in its own words, on the account page.
SECRET_FORM_LENGTH = 2 * credentials.MAX_SECRET_LENGTH


# ------------------------------------------------------------------------------ the list


@router.get("", response_class=HTMLResponse)
def accounts_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    department: str = "",
    status: str = "",
    platform: str = "",
    cursor: CursorParam = "",
) -> HTMLResponse:
    web, actor = signed_in(request, session, settings)
    listed, error = attempt(
        request,
        session,
        lambda: accounts.list_accounts(
            session,
            actor=actor,
            department=department or None,
            status=status or None,
            platform=platform or None,
            limit=CONSOLE_PAGE,
            after=cursor_of(accounts.ORDER, cursor),
        ),
    )
    rows: Page[AccountPublic] = listed if listed is not None else Page()
    filters = {"department": department, "status": status, "platform": platform}
    return render.page(
        request,
        "accounts/accounts.html",
        title="Accounts",
        actor=actor,
        csrf=web.csrf,
        status_code=200 if error is None else error.status_code,
        accounts=rows,
        badges=_badges(session, settings, actor, rows),
        pager=pager(request, accounts.ORDER, rows),
        csv_url="/console/accounts.csv" + _query(filters),
        department=department,
        status=status,
        platform=platform,
        platforms=PLATFORMS,
        **render.error_context(error),
    )


def _query(params: dict[str, str]) -> str:
    """``?a=1&b=2`` of the parameters that are set ('' for none)."""
    kept = {k: v for k, v in params.items() if v}
    return "?" + urlencode(kept) if kept else ""


def _badges(
    session: Session, settings: Settings, actor: Actor, rows: list[AccountPublic]
) -> dict[int, list[compliance.Finding]]:
    """The findings of each listed active account: one report narrowed to the page's rows, so
    a page costs the same in a department of ten accounts or of fifty thousand."""
    ids = [row.id for row in rows if row.status == AccountStatus.active]
    if not ids:
        return {}
    found = compliance.report(session, settings=settings, actor=actor, account_ids=ids)
    badges: dict[int, list[compliance.Finding]] = {}
    for finding in found.findings:
        if finding.account_id is not None:
            badges.setdefault(finding.account_id, []).append(finding)
    return badges


# Declared before "/{account_id}" (which it does not match, but a reader should not wonder).
@router.get(".csv", response_class=Response)
def accounts_csv(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    department: str = "",
    status: str = "",
    platform: str = "",
) -> Response:
    """Every account of the list's filters the signed-in person may see, as a CSV file a
    spreadsheet opens safely (``registry.csvsafe``)."""
    web, actor = signed_in(request, session, settings)

    def every_row() -> Iterator[AccountPublic]:
        after: Key | None = None
        while True:
            batch = accounts.list_accounts(
                session,
                actor=actor,
                department=department or None,
                status=status or None,
                platform=platform or None,
                limit=EXPORT_BATCH,
                after=after,
            )
            yield from batch
            if batch.next is None:
                return
            after = batch.next

    text, error = attempt(
        request,
        session,
        lambda: csv_text(EXPORT_COLUMNS, (_export_row(a) for a in every_row())),
    )
    if error is not None:
        return render.error_page(request, error, title="Accounts", actor=actor, csrf=web.csrf)
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="accounts.csv"',
            "Cache-Control": "no-store",
        },
    )


def _export_row(account: AccountPublic) -> list[object]:
    values = account.model_dump(mode="json")  # times in ISO 8601
    values["holders"] = ";".join(account.holders)
    return [values[column] for column in EXPORT_COLUMNS]


# ------------------------------------------------------------------------------ one account


def _account_page(
    request: Request,
    session: Session,
    settings: Settings,
    web: WebSession,
    actor: Actor,
    account_id: int,
    refusal: RegistryError | None = None,
    **extra: Any,
) -> HTMLResponse:
    """The account with what the actor may do on it; with ``refusal``, the page shows why an
    action on it was refused, with the refusal's status (alone, when the account itself is not
    shown to the actor: a refusal by role says nothing about the account). ``failed`` names
    the form refused (its id), whose field then shows the refusal too."""
    shown, error = attempt(
        request, session, lambda: accounts.show_account(session, actor=actor, account_id=account_id)
    )
    if error is not None:
        return render.error_page(
            request, refusal or error, title="Not available", actor=actor, csrf=web.csrf
        )
    assert shown is not None  # attempt returns a result or a refusal
    # The row show_account has just loaded (from the session, no second query): the
    # permissions answer on it what the services would allow.
    row = session.get(Account, account_id)
    assert row is not None
    live = shown.status != AccountStatus.decommissioned
    report = compliance.report(session, settings=settings, actor=actor, account_id=account_id)
    events = (
        audit.list_events(session, actor=actor, account_id=account_id, limit=None)
        if permissions.can_read_audit(actor)
        else None
    )
    creds = credentials.status(session, actor=actor, account_id=account_id)
    readable = [c for c in creds if c.versions_kept > 0]  # a shredded one opens no more
    people = access.active_holders(session, account_id)
    holds = any(p.id == actor.id for p in people)  # credentials.holds, from the rows read
    ced_id = accounts.ced_department_id(session, settings)
    holders = [
        {
            "email": p.email,
            "from_ced": p.department_id == ced_id,
            "left": p.status != PersonStatus.active,
        }
        for p in people
    ]
    may_store = live and permissions.can_store_credentials(actor, holds=holds)
    return render.page(
        request,
        "accounts/account.html",
        title=f"{shown.platform} @{shown.handle}",
        status_code=200 if refusal is None else refusal.status_code,
        actor=actor,
        csrf=web.csrf,
        a=shown,
        live=live,
        findings=report.findings,
        fixes={f.fix for f in report.findings if f.fix is not None},
        events=events,
        creds=creds,
        holders=holders,
        may_manage_access=permissions.can_manage_access(actor),
        may_store=may_store,
        store_kinds=_store_kinds(creds) if may_store else [],
        revealable=[c for c in readable if permissions.can_reveal(actor, c.kind, holds=holds)],
        may_totp=any(c.kind == CredentialKind.totp_seed for c in readable)
        and permissions.can_get_totp(actor, holds=holds),
        may_review=live and permissions.can_review(actor),
        may_rename=shown.status in renames.RENAMABLE and permissions.can_rename(actor),
        may_edit_details=live and permissions.can_rename(actor),
        twin=session.get(Account, row.twin_id) if row.twin_id else None,
        earlier=renames.history(session, actor=actor, account_id=account_id),
        may_decommission=shown.status == AccountStatus.active
        and permissions.can_submit_for(actor, row.department_id),
        **render.error_context(refusal),
        **extra,
    )


def _store_kinds(creds: list[CredentialStatus]) -> list[dict[str, Any]]:
    """The kinds of the "Store a credential" form: each says whether storing it rotates one on
    file; the one chosen first is a kind due for rotation, else the password (rule 5's)."""
    on_file = {c.kind: c for c in creds}
    due = [c.kind for c in creds if c.rotation_due_at is not None]
    chosen = (due or [CredentialKind.password.value])[0]
    return [
        {
            "value": kind.value,
            "name": kind.value.replace("_", " "),
            "version": on_file[kind.value].version if kind.value in on_file else None,
            "chosen": kind.value == chosen,
        }
        for kind in CredentialKind
    ]


@router.get("/{account_id}", response_class=HTMLResponse)
def account_page(
    request: Request,
    account_id: RowId,
    session: SessionDep,
    settings: SettingsDep,
    notice: str = "",
) -> HTMLResponse:
    web, actor = signed_in(request, session, settings)
    return _account_page(
        request, session, settings, web, actor, account_id, notice=render.notice(notice)
    )


# ------------------------------------------------------------------------------ holders


@router.post("/{account_id}/holders", response_class=HTMLResponse)
def add_holder(
    request: Request,
    account_id: RowId,
    session: SessionDep,
    settings: SettingsDep,
    csrf: Annotated[str, Form(max_length=100)] = "",
    email: Annotated[str, Form(max_length=254)] = "",
) -> Response:
    """CED or an administrator gives a person access to the account (rules 2, 3 and 6)."""
    web, actor = posted(request, session, settings, csrf)
    _, error = attempt(
        request,
        session,
        lambda: access.grant(
            session, settings=settings, actor=actor, account_id=account_id, email=email
        ),
    )
    if error is not None:
        return _account_page(
            request,
            session,
            settings,
            web,
            actor,
            account_id,
            refusal=error,
            failed="add-holder",
            holder_email=email,
        )
    return render.back(f"/console/accounts/{account_id}", "holder_added")


@router.post("/{account_id}/holders/remove", response_class=HTMLResponse)
def remove_holder(
    request: Request,
    account_id: RowId,
    session: SessionDep,
    settings: SettingsDep,
    csrf: Annotated[str, Form(max_length=100)] = "",
    email: Annotated[str, Form(max_length=254)] = "",
) -> Response:
    """CED or an administrator ends a holder's access; refused when rule 3 would break."""
    web, actor = posted(request, session, settings, csrf)
    _, error = attempt(
        request,
        session,
        lambda: access.revoke(
            session, settings=settings, actor=actor, account_id=account_id, email=email
        ),
    )
    if error is not None:
        return _account_page(
            request, session, settings, web, actor, account_id, refusal=error, failed="holders"
        )
    return render.back(f"/console/accounts/{account_id}", "holder_removed")


# ------------------------------------------------------------------------------ credentials


@router.post("/{account_id}/credentials", response_class=HTMLResponse)
def store_credential(
    request: Request,
    account_id: RowId,
    session: SessionDep,
    settings: SettingsDep,
    open_keyring: VaultOpenerDep,
    csrf: Annotated[str, Form(max_length=100)] = "",
    kind: Annotated[str, Form(max_length=32)] = "",
    secret: Annotated[SecretStr, Form(max_length=SECRET_FORM_LENGTH)] = SecretStr(""),
) -> Response:
    """Store a new version of a credential (rotating the one on file). The value goes to the
    vault and nowhere else: not back in the page (even refused), the URL, a log or the audit."""
    web, actor = posted(request, session, settings, csrf)
    _, error = attempt(
        request,
        session,
        lambda: credentials.put(
            session,
            keyring=open_keyring(),
            actor=actor,
            account_id=account_id,
            kind=kind,
            value=Secret(secret.get_secret_value()),
        ),
    )
    if error is not None:
        return _account_page(
            request,
            session,
            settings,
            web,
            actor,
            account_id,
            refusal=error,
            failed="store-credential",
            store_kind=kind,
        )
    return render.back(f"/console/accounts/{account_id}", "credential_stored")


@router.post("/{account_id}/reveal", response_class=HTMLResponse)
def reveal(
    request: Request,
    account_id: RowId,
    session: SessionDep,
    settings: SettingsDep,
    open_keyring: VaultOpenerDep,
    csrf: Annotated[str, Form(max_length=100)] = "",
    kind: Annotated[str, Form(max_length=32)] = "password",
    reason: Annotated[str, Form(max_length=500)] = "",
) -> HTMLResponse:
    """The value is shown once, in this response only, which no cache may keep."""
    web, actor = posted(request, session, settings, csrf)
    revealed, error = attempt(
        request,
        session,
        lambda: credentials.reveal(
            session,
            keyring=open_keyring(),
            actor=actor,
            account_id=account_id,
            kind=kind,
            reason=reason,
        ),
    )
    shown = _account_page(
        request,
        session,
        settings,
        web,
        actor,
        account_id,
        refusal=error,
        failed="reveal" if error is not None else "",
        revealed=revealed.public() if revealed else None,
    )
    shown.headers["Pragma"] = "no-cache"  # render.page already says Cache-Control: no-store
    return shown


@router.post("/{account_id}/totp", response_class=HTMLResponse)
def current_code(
    request: Request,
    account_id: RowId,
    session: SessionDep,
    settings: SettingsDep,
    open_keyring: VaultOpenerDep,
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> HTMLResponse:
    """The account's current TOTP code for a holder or CED, shown once in this response (the
    seed never); every code shown is in the audit log, hence a form and not a link."""
    web, actor = posted(request, session, settings, csrf)
    code, error = attempt(
        request,
        session,
        lambda: credentials.totp(
            session, keyring=open_keyring(), actor=actor, account_id=account_id
        ),
    )
    shown = _account_page(
        request, session, settings, web, actor, account_id, refusal=error, totp=code
    )
    shown.headers["Pragma"] = "no-cache"  # render.page already says Cache-Control: no-store
    return shown


# ------------------------------------------------------------------------------ review, end


@router.post("/{account_id}/review", response_class=HTMLResponse)
def review(
    request: Request,
    account_id: RowId,
    session: SessionDep,
    settings: SettingsDep,
    csrf: Annotated[str, Form(max_length=100)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """CED records the periodic review of the account (rule 7)."""
    web, actor = posted(request, session, settings, csrf)
    _, error = attempt(
        request,
        session,
        lambda: accounts.review(
            session, settings=settings, actor=actor, account_id=account_id, note=note
        ),
    )
    if error is not None:
        return _account_page(request, session, settings, web, actor, account_id, refusal=error)
    return render.back(f"/console/accounts/{account_id}", "review_recorded")


@router.post("/{account_id}/details", response_class=HTMLResponse)
def public_details(
    request: Request,
    account_id: RowId,
    session: SessionDep,
    settings: SettingsDep,
    csrf: Annotated[str, Form(max_length=100)] = "",
    platform_id: Annotated[str, Form(max_length=300)] = "",
    language: Annotated[str, Form(max_length=16)] = "en",
    twin: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    """CED records the platform's id of the account, its language and its twin (the form
    shows the current values: an emptied field clears it)."""
    web, actor = posted(request, session, settings, csrf)

    def save() -> object:
        twin_text = twin.strip().removeprefix("#")
        if twin_text and not (twin_text.isdigit() and 0 < int(twin_text) <= MAX_ID):
            raise InvalidInput(f"The twin must be an account number, not {twin_text[:20]!r}.")
        return account_details.update(
            session,
            actor=actor,
            account_id=account_id,
            platform_id=platform_id.strip() or None,
            clear_platform_id=not platform_id.strip(),
            language=language,
            twin_id=int(twin_text) if twin_text else None,
            clear_twin=not twin_text,
        )

    _, error = attempt(request, session, save)
    if error is not None:
        return _account_page(request, session, settings, web, actor, account_id, refusal=error)
    return render.back(f"/console/accounts/{account_id}", "details_saved")


@router.post("/{account_id}/rename", response_class=HTMLResponse)
def rename(
    request: Request,
    account_id: RowId,
    session: SessionDep,
    settings: SettingsDep,
    csrf: Annotated[str, Form(max_length=100)] = "",
    handle: Annotated[str, Form(max_length=200)] = "",
    url: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """CED records that the platform renamed the account: its new handle and profile link."""
    web, actor = posted(request, session, settings, csrf)
    _, error = attempt(
        request,
        session,
        lambda: renames.rename(
            session,
            actor=actor,
            account_id=account_id,
            handle=handle,
            url=url,
            settings=settings,
        ),
    )
    if error is not None:
        return _account_page(request, session, settings, web, actor, account_id, refusal=error)
    return render.back(f"/console/accounts/{account_id}", "account_renamed")


@router.post("/{account_id}/decommission", response_class=HTMLResponse)
def request_decommission(
    request: Request,
    account_id: RowId,
    session: SessionDep,
    settings: SettingsDep,
    csrf: Annotated[str, Form(max_length=100)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Ask for the account to be decommissioned; the request then goes through both approvals."""
    web, actor = posted(request, session, settings, csrf)
    submitted, error = attempt(
        request,
        session,
        lambda: account_requests.submit_decommission(
            session, settings=settings, actor=actor, account_id=account_id, reason=reason
        ),
    )
    if error is not None:
        return _account_page(request, session, settings, web, actor, account_id, refusal=error)
    assert submitted is not None  # attempt returns a result or a refusal
    return render.back(f"/console/requests/{submitted.id}", "request_submitted")
