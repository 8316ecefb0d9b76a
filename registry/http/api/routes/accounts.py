"""Registered accounts: the list, one account, CED's import and CED's periodic review."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from registry.defaults import PAGE_LIMIT
from registry.errors import UnsupportedMediaType
from registry.http.api.errors import error_responses
from registry.http.api.paging import CursorQuery, LimitQuery, link_page
from registry.http.deps import ActorDep, RowId, SessionDep, SettingsDep, raw_body
from registry.models import AccountPublic, AccountRenamePublic
from registry.schemas.api import AccountDetailsBody, ImportSummary, RenameBody, ReviewBody
from registry.services import account_details, accounts, renames

router = APIRouter(prefix="/accounts", tags=["accounts"])
# Included after every other router (see routes/__init__.py): /openapi.json has always listed
# the review last, and the document stays byte-for-byte what clients have.
reviews = APIRouter(prefix="/accounts", tags=["accounts"])

CSV_MEDIA_TYPES = frozenset({"text/csv", "application/csv", "text/plain"})


@router.get(
    "",
    response_model=list[AccountPublic],
    responses=error_responses(401, 403, 404, 422),  # 404: no such ``department``
)
def list_accounts(
    request: Request,
    response: Response,
    session: SessionDep,
    actor: ActorDep,
    department: Annotated[str | None, Query(max_length=32)] = None,
    status: Annotated[str | None, Query(max_length=32)] = None,
    platform: Annotated[str | None, Query(max_length=32)] = None,
    limit: LimitQuery = PAGE_LIMIT,
    cursor: CursorQuery = None,
) -> list[AccountPublic]:
    """The accounts you may see, by id, a page at a time (the next in the ``Link`` header)."""
    page = accounts.list_accounts(
        session,
        actor=actor,
        department=department,
        status=status,
        platform=platform,
        limit=limit,
        after=accounts.ORDER.decode(cursor),
    )
    link_page(request, response, accounts.ORDER, page)
    return page


@router.get("/{account_id}", response_model=AccountPublic, responses=error_responses(401, 404, 422))
def show_account(account_id: RowId, session: SessionDep, actor: ActorDep) -> AccountPublic:
    return accounts.show_account(session, actor=actor, account_id=account_id)


@router.post(
    "/import",
    response_model=ImportSummary,
    status_code=status.HTTP_201_CREATED,
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


@reviews.post(
    "/{account_id}/review",
    response_model=AccountPublic,
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
    return accounts.review(
        session,
        settings=settings,
        actor=actor,
        account_id=account_id,
        note=(body or ReviewBody()).note,
    )


@reviews.post(
    "/{account_id}/rename",
    response_model=AccountPublic,
    responses=error_responses(401, 403, 404, 409, 422),
)
def rename_account(
    account_id: RowId,
    body: RenameBody,
    session: SessionDep,
    settings: SettingsDep,
    actor: ActorDep,
) -> AccountPublic:
    """The platform renamed the account (CED): the new handle and profile link. The old
    handle then answers public verification with ``official: false`` and "renamed to"."""
    return renames.rename(
        session,
        actor=actor,
        account_id=account_id,
        handle=body.handle,
        url=body.url,
        settings=settings,
    )


@reviews.get(
    "/{account_id}/renames",
    response_model=list[AccountRenamePublic],
    responses=error_responses(401, 404, 422),
)
def account_renames(
    account_id: RowId, session: SessionDep, actor: ActorDep
) -> list[AccountRenamePublic]:
    """The account's earlier handles, newest first."""
    return renames.history(session, actor=actor, account_id=account_id)


@reviews.patch(
    "/{account_id}",
    response_model=AccountPublic,
    responses=error_responses(401, 403, 404, 409, 422),
)
def update_account(
    account_id: RowId, body: AccountDetailsBody, session: SessionDep, actor: ActorDep
) -> AccountPublic:
    """Change what the public sees of an account (CED): its platform id, language, twin and
    name. Only the fields sent change; ``null`` clears the platform id or the twin."""
    sent = body.model_fields_set
    return account_details.update(
        session,
        actor=actor,
        account_id=account_id,
        platform_id=body.platform_id,
        clear_platform_id="platform_id" in sent and body.platform_id is None,
        language=body.language,
        twin_id=body.twin_id,
        clear_twin="twin_id" in sent and body.twin_id is None,
        display_name=body.display_name,
    )
