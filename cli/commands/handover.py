"""``registry handover``: hand a leaver's accounts to a successor, a top-level command."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli.common import (
    AsOption,
    JsonOption,
    database_errors,
    emit_json,
    emit_table,
    fail,
    get_settings,
    stdout,
    work,
)

if TYPE_CHECKING:
    from registry.files import PrivateFile
    from registry.models import HandoverReport


def handover_command(
    departing: Annotated[str, typer.Argument(help="E-mail of the person leaving government.")],
    to: Annotated[str, typer.Option("--to", help="E-mail of the successor.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the report; change nothing.")
    ] = False,
    map_file: Annotated[
        Path | None,
        typer.Option("--map", help="CSV account_id,successor_email: per-account successors."),
    ] = None,
    csv_file: Annotated[
        Path | None, typer.Option("--csv", help="Also write the report as CSV (for HR).")
    ] = None,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Hand every account a leaver holds to a successor, in one step (admin or CED)."""
    from registry.services import handover

    mapping: dict[int, str] = {}
    if map_file is not None:
        try:
            data = map_file.read_bytes()
        except OSError as exc:
            fail(f"Cannot read {map_file}: {exc.strerror or exc}.")
        with database_errors(get_settings()):
            mapping = handover.parse_map(data)
    with _output_file(csv_file) as hr:
        with work(as_) as w:
            report = handover.handover(
                w.session,
                settings=w.settings,
                actor=w.actor,
                departing=departing,
                successor=to,
                mapping=mapping,
                dry_run=dry_run,
            )
        # The report first: it lists the credentials to rotate, which must not be lost when
        # the CSV cannot be written.
        if json_:
            emit_json(report)
        else:
            _print_handover(report)
        if hr is not None:
            try:
                hr.write(handover.report_csv(report))
                hr.commit()
            except OSError as exc:
                done = "Nothing changed (a preview)" if dry_run else "The handover is done"
                fail(f"{done}, but {csv_file} could not be written: {exc.strerror or exc}.")


@contextmanager
def _output_file(path: Path | None) -> Iterator[PrivateFile | None]:
    """A private file for ``path`` (see ``registry.files``), made before the work starts so
    that a path that cannot be written is refused with nothing changed; what is not committed
    is removed again, and an existing file is replaced only by a finished one."""
    from registry.files import PrivateFile

    if path is None:
        yield None
        return
    try:
        output = PrivateFile.create(path)
    except OSError as exc:
        fail(f"Cannot write {path}: {exc.strerror or exc}; nothing changed.")
    try:
        yield output
    finally:
        output.discard()


def _print_handover(report: HandoverReport) -> None:
    title = (
        f"PREVIEW (nothing changed): handover of {report.leaver} to {report.successor}"
        if report.dry_run
        else f"Handover {report.id}: {report.leaver} to {report.successor}, "
        f"run by {report.run_by} at {report.at:%Y-%m-%d %H:%M} UTC"
    )
    emit_table(
        title,
        ["account", "platform", "handle", "department", "status", "successor", "holders after"],
        [
            (
                a.account_id,
                a.platform,
                a.handle,
                a.department,
                a.status,
                a.successor + ("" if a.successor_added else " (already a holder)"),
                ", ".join(a.holders_after),
            )
            for a in report.accounts
        ],
    )
    if report.credentials_due:
        emit_table(
            "Credentials to rotate (known to a holder who left)",
            ["account", "kind", "version", "why"],
            [(c.account_id, c.kind, c.version, c.why) for c in report.credentials_due],
        )
    lines = []
    if report.login_email_flags:
        ids = ", ".join(str(i) for i in report.login_email_flags)
        lines.append(
            f"Accounts whose login e-mail is {report.leaver}'s own address (move them to a "
            f"shared government mailbox): {ids}."
        )
    if report.requests_moved:
        moved = ", ".join(str(m.request_id) for m in report.requests_moved)
        lines.append(f"Open requests moved to {report.successor}: {moved}.")
    lines.append(
        f"API tokens revoked: {report.tokens_revoked}. Roles removed: "
        f"{', '.join(report.roles_removed) or 'none'}."
    )
    for line in lines:
        stdout.print(line, markup=False)
