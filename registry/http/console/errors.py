"""The console's refusals are pages: the same meanings as the API's (``registry.http.errors``),
rendered in HTML, whatever the page's path; a browser that is not signed in goes to sign-in."""

from __future__ import annotations

from urllib.parse import urlencode

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
    async def _sign_in(request: Request, _exc: SignInRequired) -> RedirectResponse:
        # After signing in, the browser goes on to the page it asked for (checked there).
        wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.method != "GET" or wanted == "/console":
            return RedirectResponse("/login", status_code=303)
        return RedirectResponse("/login?" + urlencode({"next": wanted}), status_code=303)
