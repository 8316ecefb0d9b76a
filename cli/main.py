"""``registry``: the command line over the same services as the HTTP API.

This module assembles the commands of ``cli.commands`` (one module per group) into one Typer
app. Each command imports the services and models it uses when it runs, so that ``registry
--help`` (and a command's help) loads little beyond Typer; only ``serve`` loads the web stack
and only ``init``, ``demo`` and ``db`` load Alembic. ``tests/test_cli_startup.py`` checks it.

The order of registration is the order the help lists the commands in.
"""

from __future__ import annotations

import os
import sys

import typer

from cli.commands import (
    access,
    accounts,
    audit,
    backup,
    db,
    demo,
    departments,
    export,
    handover,
    notify,
    people,
    remind,
    request,
    setup,
    tokens,
    vault,
    verify,
)
from cli.common import stderr

app = typer.Typer(
    name="registry",
    help="The registry of official government social media accounts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

app.command("init")(setup.init)
app.command("serve")(setup.serve)
app.command("demo")(demo.demo)
app.command("backup")(backup.backup)
app.command("restore")(backup.restore)
app.command("handover")(handover.handover_command)
app.command("verify")(verify.verify_command)
app.command("remind")(remind.remind_command)
app.command("export")(export.export_command)

app.add_typer(db.app, name="db")
app.add_typer(departments.app, name="departments")
app.add_typer(people.app, name="people")
app.add_typer(tokens.app, name="tokens")
app.add_typer(accounts.app, name="accounts")
app.add_typer(access.app, name="access")
app.add_typer(request.app, name="request")
app.add_typer(vault.app, name="vault")
app.add_typer(audit.app, name="audit")
app.add_typer(notify.app, name="notify")


def main() -> None:
    """The ``registry`` console script."""
    for position, argument in enumerate(sys.argv[1:], start=1):
        try:
            argument.encode("utf-8")
        except UnicodeEncodeError:
            # Bytes that are not UTF-8 reach Python as lone surrogates, which no database,
            # JSON document or terminal takes: refuse them before any command runs.
            shown = os.fsencode(argument)[:60].decode("utf-8", "backslashreplace")
            stderr.print(
                f"Argument {position} ({shown}) is not valid UTF-8 text; nothing was done.",
                markup=False,
            )
            raise SystemExit(1) from None
    app()


if __name__ == "__main__":
    main()
