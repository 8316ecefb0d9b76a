"""One shape for every refusal: ``{"error": kind, "detail": sentence}`` with its status."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel
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


class ErrorBody(BaseModel):
    error: str
    detail: str
    problems: list[str] | None = None


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries for a route that may refuse with these statuses."""
    meaning = {
        401: "No token, or an unknown, expired or revoked one.",
        403: "The caller's roles do not allow this.",
        404: "Not found, or not visible to the caller.",
        409: "A rule or the current state forbids this.",
        413: "The request body is larger than the registry accepts.",
        415: "The request body is not in the format this endpoint reads.",
        422: "The input is malformed or unacceptable.",
        503: "The vault's keyring or the database is unavailable.",
    }
    return {s: {"model": ErrorBody, "description": meaning[s]} for s in statuses}


def _describe(errors: Any) -> str:
    parts = []
    for err in errors[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
        parts.append(f"{where or 'input'}: {err.get('msg', 'invalid')}")
    return "Invalid input: " + "; ".join(parts) + "."


UNREADABLE_BODY = "Invalid input: the request body is not UTF-8 JSON."
UNREADABLE_FORM = "Invalid input: the form cannot be read."
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


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


WEB_PREFIXES = ("/console", "/login", "/logout", "/directory")


def is_page(request: Request) -> bool:
    """Whether the request is for a web page (answered in HTML) rather than the JSON API."""
    return request.url.path.startswith(WEB_PREFIXES)


RETRY_AFTER_SECONDS = "2"


class DatabaseUnavailable(RegistryError):
    """The edge's refusal when the database cannot be reached or is locked."""

    status_code = 503
    kind = "unavailable"


class MethodNotAllowed(RegistryError):
    status_code = 405
    kind = "method_not_allowed"


def install(app: FastAPI) -> None:
    from registry.web.routes import SignInRequired, error_page

    def refuse(
        request: Request, exc: RegistryError, headers: dict[str, str] | None = None
    ) -> Response:
        """The refusal as a page for the console and the directory, as ErrorBody otherwise."""
        if is_page(request):
            page = error_page(request, exc)
            page.headers.update(headers or {})
            return page
        body = ErrorBody(error=exc.kind, detail=exc.message, problems=exc.problems or None)
        if exc.status_code == 401:
            headers = {**(headers or {}), "WWW-Authenticate": "Bearer"}
        return JSONResponse(
            body.model_dump(exclude_none=True), status_code=exc.status_code, headers=headers
        )

    @app.exception_handler(SignInRequired)
    async def _sign_in(_request: Request, _exc: SignInRequired) -> RedirectResponse:
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(RegistryError)
    async def _registry_error(request: Request, exc: RegistryError) -> Response:
        return refuse(request, exc)

    @app.exception_handler(IntegrityError)
    async def _integrity_error(request: Request, _exc: IntegrityError) -> Response:
        return refuse(request, Conflict(CONCURRENT_CHANGE))

    @app.exception_handler(DataError)
    async def _data_error(request: Request, _exc: DataError) -> Response:
        # Input validation should refuse such values first; this is the net beneath it.
        return refuse(request, InvalidInput(DATA_REFUSED))

    @app.exception_handler(OperationalError)
    @app.exception_handler(PoolTimeout)
    async def _database_unavailable(request: Request, _exc: Exception) -> Response:
        # A locked or unreachable database, or every pooled connection in use for longer
        # than the pool's timeout: a moment's overload, so say when to try again.
        return refuse(
            request,
            DatabaseUnavailable(DATABASE_UNAVAILABLE),
            headers={"Retry-After": RETRY_AFTER_SECONDS},
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        return refuse(request, InvalidInput(_describe(exc.errors())))  # on a page: a bad form

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        """The framework's own refusals, in the registry's shape where they mean one of its own.

        FastAPI answers 400 to a body it cannot decode (bytes that are not UTF-8): malformed
        input like any other, so 422. A 405 lists every method of the resource in ``Allow``.
        """
        if exc.status_code == 400:
            unreadable = UNREADABLE_FORM if is_page(request) else UNREADABLE_BODY
            return refuse(request, InvalidInput(unreadable))
        if exc.status_code == 405:
            methods = allowed_methods(request)
            choices = " or ".join(
                [", ".join(methods[:-1]), *methods[-1:]] if methods[1:] else methods
            )
            return refuse(
                request,
                MethodNotAllowed(f"{request.method} is not allowed here; use {choices}."),
                headers={"Allow": ", ".join(methods)},
            )
        return await http_exception_handler(request, exc)
