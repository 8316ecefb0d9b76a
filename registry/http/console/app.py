"""The console: an application of its own, mounted at the root of the registry's.

It has its own routes (``pages``) and its own refusal handlers (``errors``: pages, not JSON),
so whether an error is a page or JSON follows from who answers the request, not from a list
of URL prefixes. It shares the top-level application's state (settings, engines).
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.datastructures import State
from starlette.routing import Match, Mount
from starlette.types import Scope

from registry.http.console import errors
from registry.http.console.pages import (
    accounts,
    admin,
    audit,
    compliance,
    handover,
    home,
    imports,
    new_request,
    notifications,
    public,
    requests,
    signin,
    tokens,
)


def create_console(state: State) -> FastAPI:
    console = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    console.state = state
    errors.install(console)
    # new_request before requests: /console/requests/new is no request id.
    for area in (
        public,
        signin,
        home,
        new_request,
        requests,
        accounts,
        compliance,
        audit,
        notifications,
        handover,
        admin,
        tokens,
        imports,
    ):
        console.include_router(area.router)
    return console


class ConsoleMount(Mount):
    """The console mounted at the root, answering only the paths its pages declare (with any
    method, so that a wrong one gets the console's 405 page); every other path goes on to the
    API's routes and their JSON answers, a 404 included."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http" and any(
            route.matches(scope)[0] != Match.NONE for route in self.routes
        ):
            return super().matches(scope)
        return Match.NONE, {}


def mount(state: State) -> ConsoleMount:
    return ConsoleMount("", app=create_console(state), name="console")
