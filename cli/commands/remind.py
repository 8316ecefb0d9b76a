"""``registry remind``: queue the reminders that are due, a top-level command for cron."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import AsOption, JsonOption, emit_json, stdout, work


def remind_command(
    digest: Annotated[
        bool,
        typer.Option("--digest", help="Also queue the weekly compliance digest to CED."),
    ] = False,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """Queue the reminders due now: reviews, credentials to rotate, waiting requests and
    their escalation (admin or CED). Each goes at most once a day: safe to run hourly."""
    from registry.services import reminders

    with work(as_) as w:
        done = reminders.remind(w.session, settings=w.settings, actor=w.actor, digest=digest)
    if json_:
        emit_json(done.as_dict())
        return
    digest_part = f", {done.digests} digest" if digest else ""
    stdout.print(
        f"Queued {done.total} reminder(s): {done.reviews} review, {done.rotations} rotation, "
        f"{done.requests} waiting request, {done.escalations} escalation{digest_part}.",
        markup=False,
    )
