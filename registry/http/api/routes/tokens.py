"""API tokens: issued by administrators, listed and revoked."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Request, Response, status

from registry.defaults import PAGE_LIMIT
from registry.http.api.errors import error_responses
from registry.http.api.paging import CursorQuery, LimitQuery, link_page
from registry.http.deps import ActorDep, RowId, SessionDep
from registry.models import TokenCreated, TokenPublic
from registry.schemas.api import TokenRequest
from registry.services import tokens

router = APIRouter(prefix="/tokens", tags=["tokens"])


@router.post(
    "",
    response_model=TokenCreated,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(401, 403, 404, 422),
)
def create_token(
    body: Annotated[TokenRequest, Body()], session: SessionDep, actor: ActorDep
) -> TokenCreated:
    return tokens.create_token(session, actor=actor, email=body.email, days=body.days).created()


@router.get(
    "",
    response_model=list[TokenPublic],
    responses=error_responses(401, 403, 404, 422),  # 404: no person has the ``email`` asked for
)
def list_tokens(
    request: Request,
    response: Response,
    session: SessionDep,
    actor: ActorDep,
    email: Annotated[str | None, Query(max_length=254)] = None,
    limit: LimitQuery = PAGE_LIMIT,
    cursor: CursorQuery = None,
) -> list[TokenPublic]:
    """Tokens (never their secrets), by id, a page at a time (the next in the ``Link`` header)."""
    page = tokens.list_tokens(
        session, actor=actor, email=email, limit=limit, after=tokens.ORDER.decode(cursor)
    )
    link_page(request, response, tokens.ORDER, page)
    return page


@router.delete("/{token_id}", response_model=TokenPublic, responses=error_responses(401, 404, 422))
def revoke_token(token_id: RowId, session: SessionDep, actor: ActorDep) -> TokenPublic:
    return tokens.revoke_token(session, actor=actor, token_id=token_id)
