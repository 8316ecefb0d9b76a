"""``registry verify``: the public question, a top-level command that needs no ``--as``."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import JsonOption, database, emit_json, fail, stdout


def verify_command(
    platform: Annotated[str | None, typer.Option(help="facebook, instagram, x, ...")] = None,
    handle: Annotated[str | None, typer.Option(help="The handle, with or without @.")] = None,
    platform_id: Annotated[
        str | None,
        typer.Option("--id", help="The platform's permanent id of the account, with --platform."),
    ] = None,
    url: Annotated[
        str | None, typer.Option(help="A profile link instead of platform+handle.")
    ] = None,
    lang: Annotated[
        str, typer.Option("--lang", help="The language of the answer's message: en or fr.")
    ] = "en",
    json_: JsonOption = False,
) -> None:
    """Is this an official government account? Exit 0 when it is, 1 when it is not."""
    from registry.db import read_only
    from registry.i18n import LANGUAGES
    from registry.services import verify

    if lang not in LANGUAGES:
        fail(f"--lang must be en or fr, not {lang!r}.")
    # One statement: an autocommit read, which on SQLite takes no write lock (as the API).
    with database() as (_, engine), read_only(engine) as connection:
        answer = verify.answer(
            connection,
            platform=platform,
            handle=handle,
            url=url,
            platform_id=platform_id,
            lang=lang,
        )
    if json_:
        emit_json(answer)
    else:
        stdout.print(answer.message, markup=False)
    if not answer.official:
        raise typer.Exit(1)
