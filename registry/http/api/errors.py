"""The API's one shape for every refusal: ``{"error": kind, "detail": sentence}``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from registry.errors import RegistryError
from registry.http import errors

UNREADABLE_BODY = "Invalid input: the request body is not UTF-8 JSON."


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


def refuse(request: Request, exc: RegistryError, headers: dict[str, str] | None) -> Response:
    """The refusal as ``ErrorBody``; a 401 says which scheme to use."""
    body = ErrorBody(error=exc.kind, detail=exc.message, problems=exc.problems or None)
    if exc.status_code == 401:
        headers = {**(headers or {}), "WWW-Authenticate": "Bearer"}
    return JSONResponse(
        body.model_dump(exclude_none=True), status_code=exc.status_code, headers=headers
    )


def install(app: FastAPI) -> None:
    errors.install(app, refuse, unreadable=UNREADABLE_BODY)
