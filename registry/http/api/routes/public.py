"""What anyone may fetch and keep: the public keys that check signed answers, and the
directory feed (plain JSON, or signed with ``Accept: application/jose``). No token needed."""

from __future__ import annotations

import hashlib
from email.utils import format_datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.responses import Response

from registry.db import read_only
from registry.http.api.errors import error_responses
from registry.models import utcnow
from registry.services import feed, signing

router = APIRouter(tags=["public"])

CACHE = "public, max-age=300"


@router.get(
    "/.well-known/jwks.json",
    responses=error_responses(503),
    response_model=dict[str, list[dict[str, Any]]],
)
def public_keys(request: Request) -> JSONResponse:
    """The Ed25519 public keys (JWK, ``kty: OKP``) that check the registry's signed answers:
    the current key and any retired one whose signatures may still be valid."""
    keys = signing.jwks(request.app.state.answer_keys.get(), now=utcnow())
    return JSONResponse(keys, headers={"Cache-Control": CACHE})


@router.get(
    "/directory.json",
    responses={
        **error_responses(503),
        200: {
            "description": "Every active account, and those withdrawn or renamed in the last "
            "year. With `Accept: application/jose`, the same document signed (compact JWS).",
            "content": {"application/jose": {"schema": {"type": "string"}}},
        },
        304: {"description": "Unchanged since the `If-None-Match` or `If-Modified-Since` given."},
    },
    response_model=dict[str, Any],
)
def directory_feed(request: Request) -> Response:
    """The public directory as one document, with ``ETag`` and ``Last-Modified`` so a client
    can poll cheaply. Read in a worker thread (a plain ``def``), never on the event loop."""
    now = utcnow()
    with read_only(request.app.state.engine) as connection:
        built = request.app.state.feed.get(connection, now=now)
    current = built.feed
    signed = signing.wants_jose(request.headers.get("accept"))
    # The signed form has its own tag: the same version, another representation.
    etag = current.etag
    if signed:
        etag = '"' + hashlib.sha256(b"jose" + current.etag.encode()).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": CACHE, "Vary": "Accept"}
    if current.updated_at is not None:
        headers["Last-Modified"] = format_datetime(current.updated_at, usegmt=True)
    if feed.not_modified(etag, current.updated_at, request.headers):
        return Response(status_code=304, headers=headers)
    if signed:
        keys = request.app.state.answer_keys.get()
        # Signed once per version and key: signing serializes the whole document again.
        key_id = signing.current_kid(keys)
        token = built.signed.get(key_id)
        if token is None:
            token = built.signed[key_id] = signing.sign(
                keys, current.document, now=now, valid_for=signing.FEED_VALID_FOR
            )
        return Response(token, media_type=signing.MEDIA_TYPE, headers=headers)
    return Response(current.body, media_type="application/json", headers=headers)
