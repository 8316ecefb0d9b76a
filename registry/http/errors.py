"""What both edges refuse the same way, whatever shape their answer takes.

The JSON API and the console render a refusal differently (``ErrorBody`` or a page), but they
agree on what each failure means: a unique-constraint race is a conflict, a value the
database will not store is bad input, a locked database or a full pool is a 503 with a
``Retry-After``, and a 405 lists every method of the resource. ``install`` registers those
handlers on an application, given how that application renders a refusal.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from registry.errors import (
    CONCURRENT_CHANGE,
    DATA_REFUSED,
    DATABASE_UNAVAILABLE,
    Conflict,
    InvalidInput,
    RegistryError,
)

Refuse = Callable[[Request, RegistryError, dict[str, str] | None], Response]
"""How an application answers a refusal: the request, the refusal, extra headers."""

HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
RETRY_AFTER_SECONDS = "2"


class DatabaseUnavailable(RegistryError):
    """The edge's refusal when the database cannot be reached or is locked."""

    status_code = 503
    kind = "unavailable"


class MethodNotAllowed(RegistryError):
    status_code = 405
    kind = "method_not_allowed"


def allowed_methods(request: Request) -> list[str]:
    """Every method the application routes at the request's path.

    Starlette's 405 names only the methods of the first route matching the path, and here a
    resource is often two routes (``GET /departments`` and ``POST /departments``).
    """
    routes = request.app.router.routes
    return [
        method
        for method in HTTP_METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes
        )
    ]


def describe(errors: Sequence[Any]) -> str:
    """Pydantic's validation errors as one sentence naming the first few fields."""
    parts = []
    for err in errors[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
        parts.append(f"{where or 'input'}: {err.get('msg', 'invalid')}")
    return "Invalid input: " + "; ".join(parts) + "."


def install(app: FastAPI, refuse: Refuse, *, unreadable: str) -> None:
    """The handlers both edges share; ``unreadable`` is the sentence for a body that cannot
    be decoded (JSON for the API, a form for the console)."""

    @app.exception_handler(RegistryError)
    async def _registry_error(request: Request, exc: RegistryError) -> Response:
        return refuse(request, exc, None)

    @app.exception_handler(IntegrityError)
    async def _integrity_error(request: Request, _exc: IntegrityError) -> Response:
        return refuse(request, Conflict(CONCURRENT_CHANGE), None)

    @app.exception_handler(DataError)
    async def _data_error(request: Request, _exc: DataError) -> Response:
        # Input validation should refuse such values first; this is the net beneath it.
        return refuse(request, InvalidInput(DATA_REFUSED), None)

    @app.exception_handler(OperationalError)
    @app.exception_handler(PoolTimeout)
    async def _database_unavailable(request: Request, _exc: Exception) -> Response:
        # A locked or unreachable database, or every pooled connection in use for longer
        # than the pool's timeout: a moment's overload, so say when to try again.
        return refuse(
            request,
            DatabaseUnavailable(DATABASE_UNAVAILABLE),
            {"Retry-After": RETRY_AFTER_SECONDS},
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        return refuse(request, InvalidInput(describe(exc.errors())), None)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        """The framework's own refusals, in the registry's shape where they mean one of its own.

        FastAPI answers 400 to a body it cannot decode (bytes that are not UTF-8): malformed
        input like any other, so 422. A 405 lists every method of the resource in ``Allow``.
        """
        if exc.status_code == 400:
            return refuse(request, InvalidInput(unreadable), None)
        if exc.status_code == 405:
            methods = allowed_methods(request)
            choices = " or ".join(
                [", ".join(methods[:-1]), *methods[-1:]] if methods[1:] else methods
            )
            return refuse(
                request,
                MethodNotAllowed(f"{request.method} is not allowed here; use {choices}."),
                {"Allow": ", ".join(methods)},
            )
        return await http_exception_handler(request, exc)
