"""``registry audit``: read and verify the audit log, checkpoint and seal it, and the
compliance report."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from cli.common import (
    AllOption,
    AsOption,
    JsonOption,
    LimitOption,
    emit_json,
    emit_table,
    fail,
    json_escaped,
    printable,
    read_pages,
    stderr,
    stdout,
    work,
)
from registry.defaults import PAGE_LIMIT
from registry.errors import InvalidInput
from registry.validation import parse_time

app = typer.Typer(help="The audit log and the compliance report.", no_args_is_help=True)

# The command that fixes a finding, by its ``fix`` (the console links the same to its form);
# shown after the finding's own sentence, which says what to do in plain words.
FIX_COMMANDS = {
    "add_holder": "registry access grant {account} EMAIL",
    "remove_holder": "registry handover LEAVER --to SUCCESSOR, or registry access revoke "
    "{account} LEAVER",
    "store_credential": "registry vault put {account} --kind password",
    "rotate_credential": "registry vault put {account} --kind KIND",
    "record_review": "registry accounts review {account}",
    "decide_request": "registry request approve {request}, or reject it",
}


def with_command(message: str, fix: str | None, account: int | None, request: int | None) -> str:
    """A finding's sentence and, when something fixes it, the command that does."""
    command = FIX_COMMANDS.get(fix or "")
    if command is None:
        return message
    return f"{message} ({command.format(account=account, request=request)})"


def _when(value: str | None, what: str) -> dt.datetime | None:
    if value is None:
        return None
    try:
        return parse_time(value, what=what)
    except InvalidInput as exc:
        fail(exc.message)


@app.command("log")
def audit_log(
    account: Annotated[int | None, typer.Option(help="Only events about this account.")] = None,
    actor: Annotated[
        str | None, typer.Option("--actor", help="Only events by this e-mail.")
    ] = None,
    action: Annotated[
        str | None, typer.Option(help="Only this action, e.g. credential.revealed.")
    ] = None,
    since: Annotated[str | None, typer.Option(help="From this date/time (UTC).")] = None,
    until: Annotated[str | None, typer.Option(help="Before this date/time (UTC).")] = None,
    limit: LimitOption = PAGE_LIMIT,
    all_: AllOption = False,
    as_: AsOption = None,
    json_: Annotated[bool, typer.Option("--json", help="JSON Lines, one event a line.")] = False,
) -> None:
    """Read the audit log (CED, administrators, auditors)."""
    from registry.models import AuditEventPublic
    from registry.paging import Key, Page
    from registry.services import audit

    start, end = _when(since, "--since"), _when(until, "--until")

    def page(n: int, after: Key | None) -> Page[AuditEventPublic]:
        events = audit.list_events(
            w.session,
            actor=w.actor,
            account_id=account,
            by=actor,
            action=action,
            since=start,
            until=end,
            after_seq=after[0] if after else 0,
            limit=n + 1,  # one more: is there a next page?
        )
        return Page(events[:n], next=(events[n - 1].seq,) if len(events) > n else None)

    with work(as_) as w:
        events = read_pages(page, limit=limit, every=all_)
    if json_:
        for event in events:
            sys.stdout.write(json_escaped(event.model_dump_json()) + "\n")
        return
    emit_table(
        "Audit log",
        ["seq", "at (UTC)", "actor", "action", "entity", "details"],
        [
            (
                e.seq,
                f"{e.at:%Y-%m-%d %H:%M:%S}",
                e.actor or "system",
                e.action,
                f"{e.entity_type} {e.entity_id}",
                json.dumps(e.details, ensure_ascii=False),
            )
            for e in events
        ],
    )


@app.command("verify")
def audit_verify(
    checkpoint: Annotated[
        Path | None, typer.Option(help="A signed checkpoint to check the log against.")
    ] = None,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Recompute the chain; exit 0 only when the log is whole."""
    from registry.services import audit

    data = None
    if checkpoint is not None:
        try:
            data = checkpoint.read_bytes()
        except OSError as exc:
            fail(f"Cannot read {checkpoint}: {exc.strerror or exc}.")
    with work(as_) as w:
        verdict = audit.verify_log(w.session, keyring=w.keyring(), actor=w.actor, checkpoint=data)
    if json_:
        emit_json({**dataclasses.asdict(verdict), "message": verdict.message})
    else:
        (stdout if verdict.whole else stderr).print(verdict.message, markup=False)
    if not verdict.whole:
        raise typer.Exit(1)


@app.command("checkpoint")
def audit_checkpoint(
    out: Annotated[Path, typer.Option("--out", help="Where to write the signed checkpoint.")],
    as_: AsOption = None,
) -> None:
    """Write the chain's head, signed, to keep somewhere the database's writers cannot reach."""
    from registry.files import write_private
    from registry.services import audit

    with work(as_) as w:
        mark = audit.make_checkpoint(w.session, keyring=w.keyring(), actor=w.actor)
    try:
        write_private(out, json.dumps(mark, indent=2) + "\n")
    except OSError as exc:
        fail(f"Cannot write {out}: {exc.strerror or exc}.")
    stdout.print(f"Checkpoint at sequence {mark['seq']} written to {out}.", markup=False)


@app.command("seal")
def audit_seal(as_: AsOption = None) -> None:
    """Chain events written while the keyring was unavailable."""
    from registry.services import audit

    with work(as_) as w:
        count = audit.seal(w.session, keyring=w.keyring(), actor=w.actor)
    stdout.print(f"Sealed {count} event(s).", markup=False)


@app.command("report")
def audit_report(
    format_: Annotated[str, typer.Option("--format", help="table, json or csv.")] = "table",
    department: Annotated[str | None, typer.Option(help="Only this department.")] = None,
    fail_on_violation: Annotated[
        bool, typer.Option("--fail-on-violation", help="Exit 1 when there is any finding.")
    ] = False,
    as_: AsOption = None,
) -> None:
    """The compliance report: every finding, waiting requests, totals per department."""
    from registry.services import compliance

    if format_ not in ("table", "json", "csv"):
        fail(f"--format must be table, json or csv, not {format_!r}.")
    with work(as_) as w:
        found = compliance.report(
            w.session, settings=w.settings, actor=w.actor, department=department
        )
    if format_ == "json":
        emit_json(found)
    elif format_ == "csv":
        sys.stdout.write(printable(compliance.to_csv(found)))
    else:
        emit_table(
            f"Compliance findings ({len(found.findings)})",
            ["department", "account", "request", "rule", "severity", "finding"],
            [
                (
                    f.department,
                    f.account_id,
                    f.request_id,
                    f.rule,
                    f.severity,
                    with_command(f.message, f.fix, f.account_id, f.request_id),
                )
                for f in found.findings
            ],
        )
        emit_table(
            "Totals per department",
            ["department", "active accounts", "findings", "high", "medium", "no platform id"],
            [
                (
                    t.department,
                    t.active_accounts,
                    t.findings,
                    t.high,
                    t.medium,
                    t.without_platform_id,
                )
                for t in found.totals
            ],
        )
    if fail_on_violation and found.findings:
        raise typer.Exit(1)
