"""An account's credentials in the vault: stored, listed (never values), revealed, TOTP."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from registry.http.api.errors import error_responses
from registry.http.deps import ActorDep, RowId, SessionDep, VaultDep, writes_on_read
from registry.models import CredentialKind, CredentialStatus, RevealedCredential, TotpPublic
from registry.schemas.api import PutCredentialBody, RevealBody
from registry.services import credentials
from vault import Secret

router = APIRouter(prefix="/accounts/{account_id}", tags=["credentials"])

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
SECRET_RESPONSES = error_responses(401, 403, 404, 409, 422, 503)


@router.put("/credentials/{kind}", response_model=CredentialStatus, responses=SECRET_RESPONSES)
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
    "/credentials",
    response_model=list[CredentialStatus],
    responses=error_responses(401, 404, 422),
)
def list_credentials(
    account_id: RowId, session: SessionDep, actor: ActorDep
) -> list[CredentialStatus]:
    """Which credentials are on file, their versions and who set them; never values."""
    return credentials.status(session, actor=actor, account_id=account_id)


@router.post(
    "/credentials/{kind}/reveal", response_model=RevealedCredential, responses=SECRET_RESPONSES
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
    "/totp",
    response_model=TotpPublic,
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
