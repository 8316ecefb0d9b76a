"""HTTP hardening around the whole application: a request body limit and security headers.

A plain ASGI middleware rather than Starlette's ``BaseHTTPMiddleware``: it adds a few headers
to the response start and counts body bytes as they arrive, so the public verification (the
hot path) pays almost nothing for it.

- **Body limit.** A request whose ``Content-Length`` exceeds the limit is answered 413 before
  the application sees it. A body sent without a length (chunked) is counted as it is read;
  once it passes the limit the application's reading fails and whatever it would have
  answered is replaced by the same 413. Either way no endpoint has acted on it: endpoints read
  their whole body before doing anything.
- **Headers** on every response that does not set its own: ``nosniff``, no framing, no
  referrer, a same-origin opener, a Content-Security-Policy that allows nothing (JSON needs
  nothing; the console pages set their own, allowing only their stylesheet; the interactive
  API docs get the CDN they load from), ``Cache-Control: no-store`` (registry data names people
  and accounts; the public verification answer is the exception) and, over HTTPS,
  ``Strict-Transport-Security``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024  # a 10,000-row CSV import is about 1 MB

STRICT_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
# FastAPI's /docs and /redoc pages load their scripts and styles from jsDelivr and start them
# with an inline script; they get what they need and nothing more.
DOCS_CSP = (
    "default-src 'none'; script-src 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src https://fonts.gstatic.com; img-src 'self' data: https://fastapi.tiangolo.com "
    "https://cdn.redoc.ly; worker-src blob:; connect-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})
# Answers anyone may cache: the public verification and the published API description.
CACHEABLE_PATHS = frozenset({"/verify", "/openapi.json"})
HSTS = "max-age=31536000; includeSubDomains"

_COMMON = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
)


def _build_headers(kind: str, https: bool) -> tuple[tuple[bytes, bytes], ...]:
    headers = list(_COMMON)
    csp = DOCS_CSP if kind == "docs" else STRICT_CSP
    headers.append((b"content-security-policy", csp.encode()))
    if kind != "public":
        headers.append((b"cache-control", b"no-store"))
    if https:
        headers.append((b"strict-transport-security", HSTS.encode()))
    return tuple(headers)


# Worked out once: the headers for each kind of path, over HTTP and over HTTPS.
_HEADERS = {
    (kind, https): _build_headers(kind, https)
    for kind in ("api", "docs", "public")
    for https in (False, True)
}


def too_large_message(limit: int) -> str:
    return f"The request body is larger than the {limit:,} bytes this registry accepts."


class _BodyTooLarge(Exception):
    """Raised from ``receive`` once a body without a declared length passes the limit."""


class SecurityMiddleware:
    """Wraps an ASGI application with the body limit and the default security headers."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_body_bytes
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit() or int(value) > limit:
                    status = 413 if value.isdigit() else 400
                    await self._refuse(scope, send, status)
                    return
                break

        extra = self._headers_for(scope)
        received = 0
        overflowed = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, overflowed
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    overflowed = True
                    raise _BodyTooLarge
            return message

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if overflowed:
                return  # the application's answer to a body it could not read is replaced
            if message["type"] == "http.response.start":
                started = True
                present = {name.lower() for name, _ in message.get("headers", ())}
                message["headers"] = [
                    *message.get("headers", ()),
                    *((name, value) for name, value in extra if name not in present),
                ]
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_headers)
        except Exception:
            # Whatever the application made of a body cut short is replaced by the 413.
            if not overflowed:
                raise
        if overflowed and not started:
            await self._refuse(scope, send, 413)

    def _headers_for(self, scope: Scope) -> tuple[tuple[bytes, bytes], ...]:
        path = scope.get("path", "")
        kind = "docs" if path in DOCS_PATHS else "public" if path in CACHEABLE_PATHS else "api"
        return _HEADERS[kind, scope.get("scheme") == "https"]

    async def _refuse(self, scope: Scope, send: Send, status: int) -> None:
        if status == 413:
            body = {"error": "too_large", "detail": too_large_message(self.max_body_bytes)}
        else:
            body = {"error": "invalid_input", "detail": "The Content-Length header is invalid."}
        payload = json.dumps(body).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
            (b"connection", b"close"),
            *self._headers_for(scope),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
