"""``registry tokens``: create, list and revoke API tokens."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from cli.common import (
    AllOption,
    AsOption,
    JsonOption,
    LimitOption,
    emit_json,
    emit_table,
    read_pages,
    stderr,
    stdout,
    work,
)
from registry.defaults import PAGE_LIMIT, TOKEN_DAYS
from registry.validation import MAX_ID

app = typer.Typer(help="API tokens.", no_args_is_help=True)


@app.command("create")
def tokens_create(
    email: Annotated[str, typer.Argument(help="Whose token.")],
    days: Annotated[int, typer.Option(help="Days until it expires.")] = TOKEN_DAYS,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Create an API token (administrators). It is printed once and never again."""
    from registry.services import tokens

    with work(as_) as w:
        issued = tokens.create_token(w.session, actor=w.actor, email=email, days=days)
    if json_:
        emit_json(issued.created())
    else:
        public = issued.public
        stderr.print(
            f"Token {public.id} for {public.person}, expires {public.expires_at:%Y-%m-%d}. "
            "It is shown only now:",
            markup=False,
        )
        sys.stdout.write(issued.token + "\n")


@app.command("list")
def tokens_list(
    email: Annotated[str | None, typer.Option(help="Whose tokens (administrators).")] = None,
    limit: LimitOption = PAGE_LIMIT,
    all_: AllOption = False,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """List tokens (never their secrets)."""
    from registry.services import tokens

    with work(as_) as w:
        rows = read_pages(
            lambda n, after: tokens.list_tokens(
                w.session, actor=w.actor, email=email, limit=n, after=after
            ),
            limit=limit,
            every=all_,
        )
    if json_:
        emit_json(rows)
    else:
        emit_table(
            "API tokens",
            ["id", "person", "prefix", "created", "expires", "revoked"],
            [
                (
                    t.id,
                    t.person,
                    t.prefix + "...",
                    f"{t.created_at:%Y-%m-%d}",
                    f"{t.expires_at:%Y-%m-%d}",
                    t.revoked_at and f"{t.revoked_at:%Y-%m-%d}",
                )
                for t in rows
            ],
        )


@app.command("revoke")
def tokens_revoke(
    token_id: Annotated[int, typer.Argument(min=1, max=MAX_ID, help="The token's id.")],
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Revoke a token (your own, or any as an administrator)."""
    from registry.services import tokens

    with work(as_) as w:
        public = tokens.revoke_token(w.session, actor=w.actor, token_id=token_id)
    if json_:
        emit_json(public)
    else:
        stdout.print(f"Token {public.id} of {public.person} is revoked.", markup=False)
