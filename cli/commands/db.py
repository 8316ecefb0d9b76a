"""``registry db``: the database's migrations (Alembic, loaded only when a command runs)."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import database, fail, stdout

app = typer.Typer(help="Database migrations (Alembic).", no_args_is_help=True)


@app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    _migrate("upgrade", revision)


@app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument()] = "-1") -> None:
    """Undo migrations down to REVISION (default: one step)."""
    _migrate("downgrade", revision)


@app.command("current")
def db_current() -> None:
    """Print the database's migration revision and the newest one available."""
    from registry import migrate

    with database() as (_, engine):
        revision = migrate.current(engine)
    head = migrate.head()
    state = "up to date" if revision == head else f"newest is {head}"
    stdout.print(f"{revision or 'none (empty database)'} ({state})", markup=False)


def _migrate(action: str, revision: str) -> None:
    from alembic.util import CommandError

    from registry import migrate

    with database() as (_, engine):
        try:
            getattr(migrate, action)(engine, revision)
        except CommandError as exc:
            fail(f"{str(exc).rstrip('.')}; nothing changed.")
        now = migrate.current(engine)
    stdout.print(f"Database is at revision {now or 'none'}.", markup=False)
