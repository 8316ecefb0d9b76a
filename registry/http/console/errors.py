"""The console's refusals are pages: the same meanings as the API's (``registry.http.errors``),
rendered in HTML, whatever the page's path; a browser that is not signed in goes to sign-in."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from registry.errors import RegistryError
from registry.http import errors
from registry.http.console.deps import SignInRequired
from registry.http.console.render import error_page

UNREADABLE_FORM = "Invalid input: the form cannot be read."


def refuse(request: Request, exc: RegistryError, headers: dict[str, str] | None) -> Response:
    response = error_page(request, exc)
    response.headers.update(headers or {})
    return response


def install(console: FastAPI) -> None:
    errors.install(console, refuse, unreadable=UNREADABLE_FORM)

    @console.exception_handler(SignInRequired)
    async def _sign_in(_request: Request, _exc: SignInRequired) -> RedirectResponse:
        return RedirectResponse("/login", status_code=303)
