"""The JSON API: routes per resource (``routes``), refusals as ``ErrorBody`` (``errors``).

It shares ``registry.http.deps`` with the console and never imports the console.
"""

from __future__ import annotations

from fastapi import FastAPI

from registry.http.api import errors
from registry.http.api.routes import router
from registry.http.api.routes import verify as verify_routes


def install(app: FastAPI) -> None:
    """The API's routes and refusal handlers on ``app`` (the top-level application, so the
    OpenAPI document describes them)."""
    errors.install(app)
    app.include_router(verify_routes.router)  # first, and alone: see ``registry.http.api.routes``
    app.include_router(router)
