"""The public check: is this an official government account? No token needed.

The hot path of the service, and its one handler: documented in the OpenAPI schema like any
route, answered without FastAPI's dependency machinery (see ``PlainRoute``).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import Receive, Scope, Send

from registry import i18n
from registry.db import read_only
from registry.http.api.errors import error_responses
from registry.models import utcnow
from registry.services import signing, verify


class PlainRoute(APIRoute):
    """A route described in the OpenAPI schema like any other, whose endpoint takes the
    Starlette request and returns its response itself: no dependencies to solve, no answer
    to validate a second time. Answers HEAD as it answers GET, as a plain Starlette route
    does (and without a ``head`` operation in the schema)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        return self.endpoint

    @property
    def _answers_get(self) -> bool:
        return "GET" in (self.methods or ())

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if match == Match.PARTIAL and scope.get("method") == "HEAD" and self._answers_get:
            return Match.FULL, child
        return match, child

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("method") == "HEAD" and self._answers_get:
            await self.app(scope, receive, send)
        else:
            await super().handle(scope, receive, send)


router = APIRouter(tags=["public"], route_class=PlainRoute)

PARAMETERS = [
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
    {
        "name": "id",
        "in": "query",
        "description": "The platform's permanent id of the account (with ``platform``).",
        "schema": {"type": "string", "maxLength": 300},
        "example": "123456789012345",
    },
    {"name": "url", "in": "query", "schema": {"type": "string", "maxLength": 2000}},
    {
        "name": "lang",
        "in": "query",
        "description": (
            "The language of ``message``: en or fr (any other value is ignored); without it, "
            "``Accept-Language`` decides, else English."
        ),
        "schema": {"type": "string", "maxLength": 16},
        "example": "fr",
    },
]


@router.get(
    "/verify",
    response_model=verify.VerifyAnswer,
    responses={
        **error_responses(422, 503),
        200: {
            "description": "The answer; with `Accept: application/jose`, the same answer plus "
            "`iat` and `exp` as a compact JWS signed with a key from /.well-known/jwks.json.",
            "content": {"application/jose": {"schema": {"type": "string"}}},
        },
    },
    openapi_extra={"parameters": PARAMETERS},
)
async def verify_account(request: Request) -> Response:
    """Is this an official government account? Ask with ``platform`` and ``handle``, with
    ``platform`` and the platform's permanent account ``id``, or with a profile ``url``. No
    token needed; public fields only.

    The hot path of the service: the query string is read directly, then one indexed read on
    an autocommit connection, run on the event loop (a sub-millisecond query costs less than
    the hand-off to a worker thread). The connection is the loop's own (``loop_engine``):
    the loop never waits for a pooled connection that worker threads hold, the read takes no
    lock a writer holds, and a statement is bounded (see ``registry.db.make_loop_engine``).
    """
    query = request.query_params
    # The parameter wins; the header is read only when it is there (see ``registry.i18n``).
    lang = i18n.supported(query.get("lang")) or i18n.negotiate(
        accept_language=request.headers.get("accept-language")
    )
    with read_only(request.app.state.loop_engine) as connection:
        answer = verify.answer(
            connection,
            platform=query.get("platform"),
            handle=query.get("handle"),
            url=query.get("url"),
            platform_id=query.get("id"),
            lang=lang,
        )
    # Already a validated model: sent as it is rather than validated a second time.
    body = answer.model_dump(mode="json")
    response: Response
    if signing.wants_jose(request.headers.get("accept")):
        # Signed (see ``registry.services.signing``): the keyring is read in a worker thread.
        token = await run_in_threadpool(
            signing.sign,
            request.app.state.answer_keys.get(),
            body,
            now=utcnow(),
            valid_for=signing.VERIFY_VALID_FOR,
        )
        response = Response(token, media_type=signing.MEDIA_TYPE)
    else:
        response = JSONResponse(body)
    response.headers["Content-Language"] = lang
    response.headers.append("Vary", "Accept, Accept-Language")
    return response
