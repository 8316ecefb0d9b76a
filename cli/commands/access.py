"""``registry access``: grant and revoke a person's hold on an account."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

from cli.common import AsOption, JsonOption, emit_json, stdout, work
from registry.validation import MAX_ID

if TYPE_CHECKING:
    from registry.models import AccessGrantPublic

app = typer.Typer(help="Who holds an account.", no_args_is_help=True)


def _change_access(
    operation: Callable[..., AccessGrantPublic], account_id: int, email: str, as_: str | None
) -> AccessGrantPublic:
    with work(as_) as w:
        return operation(
            w.session, settings=w.settings, actor=w.actor, account_id=account_id, email=email
        )


@app.command("grant")
def access_grant(
    account_id: Annotated[int, typer.Argument(min=1, max=MAX_ID)],
    email: Annotated[str, typer.Argument()],
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Give a person access to an account (CED or administrators)."""
    from registry.services import access

    public = _change_access(access.grant, account_id, email, as_)
    if json_:
        emit_json(public)
    else:
        stdout.print(f"{public.holder} now holds account {account_id}.", markup=False)


@app.command("revoke")
def access_revoke(
    account_id: Annotated[int, typer.Argument(min=1, max=MAX_ID)],
    email: Annotated[str, typer.Argument()],
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Take a person's access away (CED or administrators); refused if rule 3 would break."""
    from registry.services import access

    public = _change_access(access.revoke, account_id, email, as_)
    if json_:
        emit_json(public)
    else:
        stdout.print(f"{public.holder} no longer holds account {account_id}.", markup=False)
