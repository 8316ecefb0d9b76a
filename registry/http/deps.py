"""What the API and the console both depend on: the settings, the session (one transaction
per request, committed at the edge), the signed-in actor, the vault's keyring, a row id."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from registry.config import Settings
from registry.db import session_scope
from registry.errors import Unauthenticated
from registry.keys import open_keyring
from registry.permissions import Actor
from registry.services import tokens
from registry.validation import MAX_ID
from vault import Keyring


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


READING_METHODS = frozenset({"GET", "HEAD"})


def writes_on_read(request: Request) -> None:
    """A route dependency for the rare GET that writes (an audited TOTP code): its transaction
    takes the write lock like any other change."""
    request.state.writes = True


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request: committed when the endpoint returns, else rolled back.

    A GET only reads, so its transaction takes no write lock: anonymous readers and callers
    with a bad token never queue behind, or hold up, the people changing things.
    """
    writes = request.method not in READING_METHODS or getattr(request.state, "writes", False)
    with session_scope(
        request.app.state.engine, request.app.state.session_info, writes=writes
    ) as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session, scope="function")]

_bearer = HTTPBearer(auto_error=False, description="A token from `registry tokens create`.")


def get_actor(
    session: SessionDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("Send an API token as 'Authorization: Bearer TOKEN'.")
    return tokens.authenticate(session, settings=settings, token=credentials.credentials)


ActorDep = Annotated[Actor, Depends(get_actor)]


def get_keyring(settings: SettingsDep) -> Keyring:
    """The vault's keyring; 503 with a reason when it cannot be opened."""
    return open_keyring(settings)


VaultDep = Annotated[Keyring, Depends(get_keyring)]


def get_keyring_opener(settings: SettingsDep) -> Callable[[], Keyring]:
    """The keyring opened only when called: for a page that shows a refusal to open it (503
    with its reason) in place, next to the form that asked."""
    return partial(open_keyring, settings)


VaultOpenerDep = Annotated[Callable[[], Keyring], Depends(get_keyring_opener)]


async def raw_body(request: Request) -> bytes:
    """The request body, read on the event loop (the only asynchronous part of an upload)."""
    return await request.body()


RowId = Annotated[int, Path(ge=1, le=MAX_ID, description="A row id.")]
"""A path id: a positive number a database can hold (anything else is 422, not a 500)."""
