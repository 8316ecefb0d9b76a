"""``registry backup FILE`` and ``registry restore FILE``.

Operator commands, like ``registry init`` and ``registry db upgrade``: they need direct access
to the database (and, to restore, the keyring), not a role in the registry, so they take no
``--as``. Importing this module is cheap (Typer and ``cli.common``); the work
(``registry.jobs.backup``) is imported when a command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cli.common import JsonOption, database, emit_json, stderr, stdout

BackupFile = Annotated[
    Path, typer.Argument(help="The new backup file (never overwritten; written mode 0600).")
]
RestoreFile = Annotated[Path, typer.Argument(help="A file written by `registry backup`.")]
SkipKeyringChecks = Annotated[
    bool,
    typer.Option(
        "--skip-keyring-checks",
        help=(
            "Restore although the keyring lacks a credential's master key or the audit chain "
            "does not verify with it (a lost keyring): the rest comes back, those secrets "
            "stay unreadable."
        ),
    ),
]


def backup(file: BackupFile, json_: JsonOption = False) -> None:
    """Write a consistent snapshot of the whole registry to FILE; secrets stay encrypted."""
    from sqlalchemy.exc import SQLAlchemyError

    from registry.db import session_scope
    from registry.jobs import backup as job
    from registry.keys import session_info

    problem = None
    with database() as (settings, engine):
        manifest = job.backup(engine=engine, path=file)
        try:
            with session_scope(engine, session_info(settings)) as session:
                recorded = job.record_backup(session, manifest=manifest, path=file)
        except SQLAlchemyError as exc:
            recorded, problem = False, str(getattr(exc, "orig", None) or exc).splitlines()[0]
    if problem:
        stderr.print(
            f"The backup is written, but its audit event could not be recorded: {problem}",
            markup=False,
        )
    if json_:
        emit_json({"file": str(file), **manifest.as_dict(), "audit_recorded": recorded})
        return
    stdout.print(
        f"Backed up {manifest.rows} rows of {len(manifest.tables)} tables (schema revision "
        f"{manifest.revision}) to {file}, mode 0600. Credentials in it are still encrypted: "
        "keep the keyring apart from it (docs/backup.md).",
        markup=False,
    )


def restore(
    file: RestoreFile, skip_keyring_checks: SkipKeyringChecks = False, json_: JsonOption = False
) -> None:
    """Restore FILE into an empty registry (one without tables is migrated first), all at once."""
    from registry.db import session_scope
    from registry.jobs import backup as job
    from registry.keys import open_keyring, session_info

    with database() as (settings, engine):
        keyring = None if skip_keyring_checks else open_keyring(settings)
        plan = job.prepare_restore(engine=engine, path=file)
        with session_scope(engine, session_info(settings)) as session:
            result = job.restore(session, plan=plan, keyring=keyring)
    manifest = result.manifest
    verdict = result.audit
    if json_:
        body: dict[str, Any] = {
            "file": str(file),
            "target": result.target,
            "migrated": result.migrated,
            "keyring_checked": result.keyring_checked,
            "audit": None
            if verdict is None
            else {"whole": verdict.whole, "events": verdict.events, "message": verdict.message},
            **manifest.as_dict(),
        }
        emit_json(body)
        return
    lines = [
        f"Restored {manifest.rows} rows of {len(manifest.tables)} tables from {file} (taken "
        f"{manifest.taken_at}, schema revision {manifest.revision}) into {result.target}; "
        "every table holds the backup's row count."
    ]
    if result.migrated:
        lines.append(f"The empty database was first migrated to revision {manifest.revision}.")
    if verdict is not None:
        lines.append(f"Every credential's master key is in the keyring. {verdict.message}")
    elif result.keyring_checked:
        lines.append(
            "Every credential's master key is in the keyring; run `registry db upgrade`, then "
            "`registry audit verify`."
        )
    else:
        lines.append(
            "The keyring was not checked: secrets sealed under a missing key stay unreadable; "
            "`registry audit verify` says whether the audit log verifies."
        )
    for line in lines:
        stdout.print(line, markup=False)
