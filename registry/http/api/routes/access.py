"""Who holds an account: CED grants and revokes."""

from __future__ import annotations

from fastapi import APIRouter, status

from registry.http.api.errors import error_responses
from registry.http.deps import ActorDep, RowId, SessionDep, SettingsDep
from registry.models import AccessGrantPublic
from registry.schemas.api import HolderBody
from registry.services import access

router = APIRouter(prefix="/accounts/{account_id}/holders", tags=["access"])


@router.post(
    "",
    response_model=AccessGrantPublic,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(401, 403, 404, 409, 422),
)
def grant_access(
    account_id: RowId,
    body: HolderBody,
    session: SessionDep,
    settings: SettingsDep,
    actor: ActorDep,
) -> AccessGrantPublic:
    return access.grant(
        session, settings=settings, actor=actor, account_id=account_id, email=body.email
    )


@router.delete(
    "/{email}", response_model=AccessGrantPublic, responses=error_responses(401, 403, 404, 409, 422)
)
def revoke_access(
    account_id: RowId, email: str, session: SessionDep, settings: SettingsDep, actor: ActorDep
) -> AccessGrantPublic:
    return access.revoke(
        session, settings=settings, actor=actor, account_id=account_id, email=email
    )
