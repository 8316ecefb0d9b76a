"""Thin routers: parse, call one service function, return its public schema. No SQL here."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, Query, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, BeforeValidator, Field, SecretStr

from registry.api.deps import (
    ActorDep,
    RowId,
    SessionDep,
    SettingsDep,
    VaultDep,
    writes_on_read,
)
from registry.api.errors import error_responses
from registry.db import read_only
from registry.errors import InvalidInput, UnsupportedMediaType
from registry.models import (
    AccessGrantPublic,
    AccountPublic,
    AuditEventPublic,
    CredentialKind,
    CredentialStatus,
    DecommissionRequest,
    DepartmentBase,
    DepartmentPublic,
    HandoverCreate,
    HandoverReport,
    NewAccountRequest,
    PersonCreate,
    PersonPublic,
    RequestPublic,
    RevealedCredential,
    TokenCreated,
    TokenPublic,
    TotpPublic,
)
from registry.services import (
    access,
    accounts,
    audit,
    compliance,
    credentials,
    departments,
    handover,
    people,
    requests,
    tokens,
    verify,
)
from registry.validation import MAX_ID, parse_time
from vault import Secret

router = APIRouter()

AUTH = error_responses(401, 403, 422)


@router.get(
    "/departments", response_model=list[DepartmentPublic], tags=["departments"], responses=AUTH
)
def list_departments(session: SessionDep, _signed_in: ActorDep) -> list[DepartmentPublic]:
    return [
        DepartmentPublic.model_validate(d, from_attributes=True)
        for d in departments.list_departments(session)
    ]


@router.post(
    "/departments",
    response_model=DepartmentPublic,
    status_code=status.HTTP_201_CREATED,
    tags=["departments"],
    responses=error_responses(401, 403, 409, 422),
)
def add_department(body: DepartmentBase, session: SessionDep, actor: ActorDep) -> DepartmentPublic:
    dept = departments.add_department(session, actor=actor, code=body.code, name=body.name)
    return DepartmentPublic.model_validate(dept, from_attributes=True)


@router.get(
    "/people",
    response_model=list[PersonPublic],
    tags=["people"],
    responses=error_responses(401, 403, 404, 422),  # 404: no such ``department``
)
def list_people(
    session: SessionDep, actor: ActorDep, department: str | None = Query(None, max_length=32)
) -> list[PersonPublic]:
    return people.list_people(session, actor=actor, department=department)


@router.post(
    "/people",
    response_model=PersonPublic,
    status_code=status.HTTP_201_CREATED,
    tags=["people"],
    responses=error_responses(401, 403, 404, 409, 422),
)
def add_person(
    body: PersonCreate, session: SessionDep, settings: SettingsDep, actor: ActorDep
) -> PersonPublic:
    person = people.add_person(
        session,
        settings=settings,
        actor=actor,
        email=body.email,
        name=body.name,
        department=body.department,
        roles=body.roles,
    )
    return people.to_public(session, [person])[0]


@router.get(
    "/people/{email}",
    response_model=PersonPublic,
    tags=["people"],
    responses=error_responses(401, 404, 422),
)
def show_person(email: str, session: SessionDep, actor: ActorDep) -> PersonPublic:
    return people.show_person(session, actor=actor, email=email)


@router.get(
    "/accounts",
    response_model=list[AccountPublic],
    tags=["accounts"],
    responses=error_responses(401, 403, 404, 422),  # 404: no such ``department``
)
def list_accounts(
    session: SessionDep,
    actor: ActorDep,
    department: Annotated[str | None, Query(max_length=32)] = None,
    status: Annotated[str | None, Query(max_length=32)] = None,
    platform: Annotated[str | None, Query(max_length=32)] = None,
) -> list[AccountPublic]:
    return accounts.list_accounts(
        session, actor=actor, department=department, status=status, platform=platform
    )


@router.get(
    "/accounts/{account_id}",
    response_model=AccountPublic,
    tags=["accounts"],
    responses=error_responses(401, 404, 422),
)
def show_account(account_id: RowId, session: SessionDep, actor: ActorDep) -> AccountPublic:
    return accounts.show_account(session, actor=actor, account_id=account_id)


async def raw_body(request: Request) -> bytes:
    """The request body, read on the event loop (the only asynchronous part of an upload)."""
    return await request.body()


class ImportSummary(BaseModel):
    imported: int
    account_ids: list[int]


CSV_MEDIA_TYPES = frozenset({"text/csv", "application/csv", "text/plain"})


@router.post(
    "/accounts/import",
    response_model=ImportSummary,
    status_code=status.HTTP_201_CREATED,
    tags=["accounts"],
    responses=error_responses(401, 403, 413, 415, 422),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    },
)
def import_accounts(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    actor: ActorDep,
    data: Annotated[bytes, Depends(raw_body)],
) -> ImportSummary:
    """Import CED's existing list as CSV (``Content-Type: text/csv``): all rows or none."""
    # A plain function, so the import (seconds for a large file) runs on a worker thread and
    # never holds up the event loop; only reading the body is asynchronous (raw_body).
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in CSV_MEDIA_TYPES:
        raise UnsupportedMediaType(
            f"Send the CSV file as Content-Type: text/csv, not {media_type or 'nothing'}."
        )
    result = accounts.import_accounts(session, settings=settings, actor=actor, data=data)
    return ImportSummary(imported=result.count, account_ids=result.account_ids)


class HolderBody(BaseModel):
    email: str = Field(max_length=254)


@router.post(
    "/accounts/{account_id}/holders",
    response_model=AccessGrantPublic,
    status_code=status.HTTP_201_CREATED,
    tags=["access"],
    responses=error_responses(401, 403, 404, 409, 422),
)
def grant_access(
    account_id: RowId,
    body: HolderBody,
    session: SessionDep,
    settings: SettingsDep,
    actor: ActorDep,
) -> AccessGrantPublic:
    row = access.grant(
        session, settings=settings, actor=actor, account_id=account_id, email=body.email
    )
    return access.grant_to_public(session, row)


@router.delete(
    "/accounts/{account_id}/holders/{email}",
    response_model=AccessGrantPublic,
    tags=["access"],
    responses=error_responses(401, 403, 404, 409, 422),
)
def revoke_access(
    account_id: RowId, email: str, session: SessionDep, settings: SettingsDep, actor: ActorDep
) -> AccessGrantPublic:
    row = access.revoke(session, settings=settings, actor=actor, account_id=account_id, email=email)
    return access.grant_to_public(session, row)


class TokenRequest(BaseModel):
    email: str = Field(max_length=254)
    days: int = Field(default=tokens.DEFAULT_DAYS, ge=1, le=tokens.MAX_DAYS)


@router.post(
    "/tokens",
    response_model=TokenCreated,
    status_code=status.HTTP_201_CREATED,
    tags=["tokens"],
    responses=error_responses(401, 403, 404, 422),
)
def create_token(
    body: Annotated[TokenRequest, Body()], session: SessionDep, actor: ActorDep
) -> TokenCreated:
    issued = tokens.create_token(session, actor=actor, email=body.email, days=body.days)
    public = tokens.to_public(session, [issued.row])[0]
    return TokenCreated(**public.model_dump(), token=issued.token)


@router.get(
    "/tokens",
    response_model=list[TokenPublic],
    tags=["tokens"],
    responses=error_responses(401, 403, 404, 422),  # 404: no person has the ``email`` asked for
)
def list_tokens(
    session: SessionDep, actor: ActorDep, email: Annotated[str | None, Query(max_length=254)] = None
) -> list[TokenPublic]:
    return tokens.list_tokens(session, actor=actor, email=email)


@router.delete(
    "/tokens/{token_id}",
    response_model=TokenPublic,
    tags=["tokens"],
    responses=error_responses(401, 404, 422),
)
def revoke_token(token_id: RowId, session: SessionDep, actor: ActorDep) -> TokenPublic:
    row = tokens.revoke_token(session, actor=actor, token_id=token_id)
    return tokens.to_public(session, [row])[0]


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


@router.post(
    "/requests",
    response_model=RequestPublic,
    status_code=status.HTTP_201_CREATED,
    tags=["requests"],
    responses=error_responses(401, 403, 404, 409, 422),
)
def submit_request(
    body: Annotated[NewRequestBody | DecommissionBody, Body(discriminator="kind")],
    session: SessionDep,
    settings: SettingsDep,
    actor: ActorDep,
) -> RequestPublic:
    """Ask for a new account (``kind: new_account``) or a decommission (``kind: decommission``)."""
    if isinstance(body, DecommissionBody):
        request = requests.submit_decommission(
            session, actor=actor, account_id=body.account_id, reason=body.reason
        )
    else:
        request = requests.submit_new_account(
            session,
            settings=settings,
            actor=actor,
            platform=body.platform,
            handle=body.handle,
            url=body.url,
            category=body.category,
            department=body.department,
            program_area=body.program_area,
            purpose=body.purpose,
            login_email=body.login_email,
            holders=body.holders,
            display_name=body.display_name,
        )
    return requests.to_public(session, [request])[0]


@router.get(
    "/requests",
    response_model=list[RequestPublic],
    tags=["requests"],
    responses=error_responses(401, 403, 404, 422),  # 404: no such ``department``
)
def list_requests(
    session: SessionDep,
    actor: ActorDep,
    state: Annotated[str | None, Query(max_length=32)] = None,
    department: Annotated[str | None, Query(max_length=32)] = None,
    awaiting_me: bool = False,
) -> list[RequestPublic]:
    return requests.list_requests(
        session, actor=actor, state=state, department=department, awaiting_me=awaiting_me
    )


@router.get(
    "/requests/{request_id}",
    response_model=RequestPublic,
    tags=["requests"],
    responses=error_responses(401, 404, 422),
)
def show_request(request_id: RowId, session: SessionDep, actor: ActorDep) -> RequestPublic:
    return requests.show_request(session, actor=actor, request_id=request_id)


DECIDE = error_responses(401, 403, 404, 409, 422)


@router.post(
    "/requests/{request_id}/approve",
    response_model=RequestPublic,
    tags=["requests"],
    responses=DECIDE,
)
def approve_request(
    request_id: RowId,
    session: SessionDep,
    settings: SettingsDep,
    actor: ActorDep,
    body: ApproveBody | None = None,
) -> RequestPublic:
    """Approve the request's current stage; CED may add ``holders`` at the final approval."""
    body = body or ApproveBody()
    request = requests.approve(
        session,
        settings=settings,
        actor=actor,
        request_id=request_id,
        comment=body.comment,
        holders=body.holders,
    )
    return requests.to_public(session, [request])[0]


@router.post(
    "/requests/{request_id}/reject",
    response_model=RequestPublic,
    tags=["requests"],
    responses=DECIDE,
)
def reject_request(
    request_id: RowId, body: RejectBody, session: SessionDep, actor: ActorDep
) -> RequestPublic:
    request = requests.reject(session, actor=actor, request_id=request_id, reason=body.reason)
    return requests.to_public(session, [request])[0]


@router.post(
    "/requests/{request_id}/withdraw",
    response_model=RequestPublic,
    tags=["requests"],
    responses=DECIDE,
)
def withdraw_request(request_id: RowId, session: SessionDep, actor: ActorDep) -> RequestPublic:
    request = requests.withdraw(session, actor=actor, request_id=request_id)
    return requests.to_public(session, [request])[0]


# ------------------------------------------------------------------------------ credentials

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
SECRET_RESPONSES = error_responses(401, 403, 404, 409, 422, 503)


class PutCredentialBody(BaseModel):
    value: SecretStr = Field(description="The secret; stored encrypted, never echoed.")


class RevealBody(BaseModel):
    reason: str = Field(max_length=500, description="Why; kept in the audit log.")
    version: int | None = Field(default=None, ge=1, le=MAX_ID)


@router.put(
    "/accounts/{account_id}/credentials/{kind}",
    response_model=CredentialStatus,
    tags=["credentials"],
    responses=SECRET_RESPONSES,
)
def put_credential(
    account_id: RowId,
    kind: CredentialKind,
    body: PutCredentialBody,
    session: SessionDep,
    keyring: VaultDep,
    actor: ActorDep,
) -> CredentialStatus:
    """Store a new version of a credential (CED and the account's holders)."""
    row = credentials.put(
        session,
        keyring=keyring,
        actor=actor,
        account_id=account_id,
        kind=kind,
        value=Secret(body.value.get_secret_value()),
    )
    return credentials.describe(session, actor=actor, row=row)


@router.get(
    "/accounts/{account_id}/credentials",
    response_model=list[CredentialStatus],
    tags=["credentials"],
    responses=error_responses(401, 404, 422),
)
def list_credentials(
    account_id: RowId, session: SessionDep, actor: ActorDep
) -> list[CredentialStatus]:
    """Which credentials are on file, their versions and who set them; never values."""
    return credentials.status(session, actor=actor, account_id=account_id)


@router.post(
    "/accounts/{account_id}/credentials/{kind}/reveal",
    response_model=RevealedCredential,
    tags=["credentials"],
    responses=SECRET_RESPONSES,
)
def reveal_credential(
    account_id: RowId,
    kind: CredentialKind,
    body: RevealBody,
    response: Response,
    session: SessionDep,
    keyring: VaultDep,
    actor: ActorDep,
) -> RevealedCredential:
    """Reveal a credential to a holder or CED; audited with the reason before decryption."""
    revealed = credentials.reveal(
        session,
        keyring=keyring,
        actor=actor,
        account_id=account_id,
        kind=kind,
        reason=body.reason,
        version=body.version,
    )
    response.headers.update(NO_STORE)
    return revealed.public()


@router.get(
    "/accounts/{account_id}/totp",
    response_model=TotpPublic,
    tags=["credentials"],
    responses=SECRET_RESPONSES,
    dependencies=[Depends(writes_on_read)],  # every code shown is audited
)
def current_totp(
    account_id: RowId, response: Response, session: SessionDep, keyring: VaultDep, actor: ActorDep
) -> TotpPublic:
    """The current TOTP code for the account's holders and CED (never the seed)."""
    code = credentials.totp(session, keyring=keyring, actor=actor, account_id=account_id)
    response.headers.update(NO_STORE)
    return TotpPublic(account_id=account_id, code=code.code, seconds_left=code.seconds_left)


# ------------------------------------------------------------------------------ handovers


@router.post(
    "/handovers",
    response_model=HandoverReport,
    tags=["handovers"],
    responses={
        201: {"model": HandoverReport, "description": "Done; a `dry_run` preview answers 200."},
        **error_responses(401, 403, 404, 409, 422),
    },
)
def run_handover(
    body: HandoverCreate,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    actor: ActorDep,
) -> HandoverReport:
    """Hand everything a leaver holds to a successor in one step; ``dry_run`` previews it."""
    report = handover.handover(
        session,
        settings=settings,
        actor=actor,
        departing=body.departing,
        successor=body.successor,
        mapping=body.map,
        dry_run=body.dry_run,
    )
    response.status_code = status.HTTP_200_OK if body.dry_run else status.HTTP_201_CREATED
    return report


@router.get("/handovers", response_model=list[HandoverReport], tags=["handovers"], responses=AUTH)
def list_handovers(session: SessionDep, actor: ActorDep) -> list[HandoverReport]:
    return handover.list_handovers(session, actor=actor)


@router.get(
    "/handovers/{handover_id}",
    response_model=HandoverReport,
    tags=["handovers"],
    responses=error_responses(401, 403, 404, 422),
)
def show_handover(handover_id: RowId, session: SessionDep, actor: ActorDep) -> HandoverReport:
    return handover.show_handover(session, actor=actor, handover_id=handover_id)


# ---------------------------------------------------------------------- audit and compliance


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


@router.get(
    "/audit/events",
    response_model=EventPage,
    tags=["audit"],
    responses=error_responses(401, 403, 422),
)
def audit_events(
    session: SessionDep,
    actor: ActorDep,
    account_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    by: Annotated[str | None, Query(max_length=254, description="Actor e-mail.")] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    since: Annotated[
        IsoTime | None, Query(description="From this time (UTC if no offset).")
    ] = None,
    until: Annotated[
        IsoTime | None, Query(description="Before this time (UTC if no offset).")
    ] = None,
    after_seq: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> EventPage:
    """The audit log in order, a page at a time (CED, administrators, auditors)."""
    events = audit.list_events(
        session,
        actor=actor,
        account_id=account_id,
        by=by,
        action=action,
        since=since,
        until=until,
        after_seq=after_seq,
        limit=limit,
    )
    return EventPage(events=events, next_after_seq=events[-1].seq if len(events) == limit else None)


@router.get(
    "/compliance",
    response_model=compliance.ComplianceReport,
    tags=["audit"],
    responses=error_responses(401, 403, 404, 422),
)
def compliance_report(
    session: SessionDep,
    settings: SettingsDep,
    actor: ActorDep,
    department: Annotated[str | None, Query(max_length=32)] = None,
) -> compliance.ComplianceReport:
    """Findings per active account and rule, waiting requests, totals per department."""
    return compliance.report(session, settings=settings, actor=actor, department=department)


class ReviewBody(BaseModel):
    note: str = Field(default="", max_length=2000)


@router.post(
    "/accounts/{account_id}/review",
    response_model=AccountPublic,
    tags=["accounts"],
    responses=error_responses(401, 403, 404, 422),
)
def review_account(
    account_id: RowId,
    session: SessionDep,
    settings: SettingsDep,
    actor: ActorDep,
    body: ReviewBody | None = None,
) -> AccountPublic:
    """Record CED's periodic review; the next one falls due a review interval later."""
    accounts.review(
        session,
        settings=settings,
        actor=actor,
        account_id=account_id,
        note=(body or ReviewBody()).note,
    )
    return accounts.show_account(session, actor=actor, account_id=account_id)


# ------------------------------------------------------------------------------ public


# The public check is the hot path: its router is mounted first, so a request for it is
# matched before the sixty-odd routes of the authenticated API are tried.
public_router = APIRouter()


VERIFY_PARAMETERS = [
    {
        "name": "platform",
        "in": "query",
        "schema": {"type": "string", "maxLength": 32},
        "example": "facebook",
    },
    {
        "name": "handle",
        "in": "query",
        "schema": {"type": "string", "maxLength": 200},
        "example": "ManitobaAg",
    },
    {"name": "url", "in": "query", "schema": {"type": "string", "maxLength": 2000}},
]


@public_router.get(
    "/verify",
    response_model=verify.VerifyAnswer,
    tags=["public"],
    responses=error_responses(422),
    openapi_extra={"parameters": VERIFY_PARAMETERS},
)
async def verify_account(request: Request) -> verify.VerifyAnswer:
    """Is this an official government account? Ask with ``platform`` and ``handle``, or with
    a profile ``url``. No token needed; public fields only.

    The hot path of the service: the query string is read directly, then one indexed read on
    an autocommit connection, run on the event loop (a sub-millisecond query costs less than
    the hand-off to a worker thread). The connection is the loop's own (``loop_engine``):
    the loop never waits for a pooled connection that worker threads hold, the read takes no
    lock a writer holds, and a statement is bounded (see ``registry.db.make_loop_engine``).
    """
    query = request.query_params
    with read_only(request.app.state.loop_engine) as connection:
        answer = verify.answer(
            connection,
            platform=query.get("platform"),
            handle=query.get("handle"),
            url=query.get("url"),
        )
    # Already a validated model: send it as it is rather than validating it a second time.
    return JSONResponse(answer.model_dump(mode="json"))  # type: ignore[return-value]
