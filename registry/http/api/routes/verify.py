"""The public check: is this an official government account? No token needed.

The hot path of the service, and its one handler: documented in the OpenAPI schema like any
route, answered without FastAPI's dependency machinery (see ``PlainRoute``).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import Receive, Scope, Send

from registry.db import read_only
from registry.http.api.errors import error_responses
from registry.services import verify


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
    {"name": "url", "in": "query", "schema": {"type": "string", "maxLength": 2000}},
]


@router.get(
    "/verify",
    response_model=verify.VerifyAnswer,
    responses=error_responses(422),
    openapi_extra={"parameters": PARAMETERS},
)
async def verify_account(request: Request) -> Response:
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
    # Already a validated model: sent as it is rather than validated a second time.
    return JSONResponse(answer.model_dump(mode="json"))
