"""``registry init`` and ``registry serve``: set-up and serving, top-level commands.

Operator commands: ``init`` creates the database, the keyring and the first administrator;
``serve`` starts the HTTP API. Only these load Alembic (``init``) and the web stack (``serve``).
"""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import JsonOption, database, emit_json, fail, stdout


def init(
    admin: Annotated[str, typer.Option("--admin", help="E-mail of the first administrator.")],
    name: Annotated[str, typer.Option("--name", help="Their name.")],
    json_: JsonOption = False,
) -> None:
    """Create the database (migrations), the CED department and its first administrator."""
    from registry import migrate
    from registry.db import session_scope
    from registry.keys import ensure_keyring, session_info
    from registry.services import setup

    with database() as (settings, engine):
        # Refuse a bad --admin or --name before the keyring or the database is touched.
        setup.check_admin(settings=settings, admin_email=admin, admin_name=name)
        keyring, keyring_created = ensure_keyring(settings)
        migrate.upgrade(engine)
        with session_scope(engine, session_info(settings)) as session:
            result = setup.initialise(
                session, settings=settings, admin_email=admin, admin_name=name
            )
    keyring_note = (
        f"Created the keyring {keyring.path}: back it up apart from the database; "
        "losing it loses every stored credential."
        if keyring_created
        else f"Using the existing keyring {keyring.path}."
    )
    if json_:
        emit_json(
            {
                "created": result.created,
                "message": result.message,
                "keyring": str(keyring.path),
                "keyring_created": keyring_created,
                "admin": result.admin.model_dump(mode="json"),
            }
        )
    else:
        stdout.print(result.message, markup=False)
        stdout.print(keyring_note, markup=False)


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    proxy_headers: Annotated[
        bool | None,
        typer.Option(
            "--proxy-headers/--no-proxy-headers",
            help="Believe X-Forwarded-Proto/-For from --forwarded-allow-ips, so HTTPS at a TLS "
            "proxy gets HSTS and Secure cookies [default: REGISTRY_PROXY_HEADERS, or yes].",
            show_default=False,
        ),
    ] = None,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            "--forwarded-allow-ips",
            help="Comma-separated addresses or networks of the trusted proxies "
            "[default: REGISTRY_FORWARDED_ALLOW_IPS, or 127.0.0.1].",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve the HTTP API (OpenAPI at /openapi.json, docs at /docs)."""
    import uvicorn

    from registry.config import trusted_proxies

    with database() as (settings, _):
        pass  # a bad setting or database URL is refused here, not as a traceback per worker
    if forwarded_allow_ips is None:
        forwarded_allow_ips = settings.forwarded_allow_ips
    else:
        try:
            forwarded_allow_ips = trusted_proxies(forwarded_allow_ips)
        except ValueError as exc:
            fail(f"--forwarded-allow-ips is not usable: {exc}.")
    uvicorn.run(
        "registry.http.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        proxy_headers=settings.proxy_headers if proxy_headers is None else proxy_headers,
        forwarded_allow_ips=forwarded_allow_ips,
    )
