"""``registry notify``: deliver the e-mail outbox over SMTP (a worker, or once from cron) and
list it. Administrators and CED only.

``registry notify run`` is a long-running worker: it sends what is due, retries failures with
back-off, and stops cleanly on SIGTERM or Ctrl-C (run it under systemd). ``--once`` tries every
message still queued, due or not, and exits: 0 when every message it tried was sent, 1 when
something could not be sent (the relay unreachable, or messages it refused, which stay queued
and are retried), so cron reports a failure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from cli.common import (
    AllOption,
    AsOption,
    JsonOption,
    LimitOption,
    database,
    emit_json,
    emit_table,
    fail,
    read_pages,
    stderr,
    stdout,
    work,
)
from registry.defaults import PAGE_LIMIT

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from registry.config import Settings
    from registry.jobs.delivery import Delivery

app = typer.Typer(help="E-mail notifications: deliver and list the outbox.", no_args_is_help=True)


def _queued(settings: Settings, engine: Engine, as_: str | None) -> int:
    """Refuse anyone but administrators and CED; how many messages are queued."""
    from registry.db import session_scope
    from registry.enums import OutboxStatus
    from registry.keys import session_info
    from registry.services import outbox
    from registry.services.actors import actor_by_email

    with session_scope(engine, session_info(settings), writes=False) as session:
        actor = actor_by_email(session, settings, as_)
        outbox.require_operator(actor, to="deliver e-mail")
        return outbox.counts(session)[OutboxStatus.queued.value]


def _messages(count: int) -> str:
    return f"{count} message{'' if count == 1 else 's'}"


def _stay(count: int) -> str:
    return f"{_messages(count)} {'stays' if count == 1 else 'stay'} queued"


def _summary(done: Delivery) -> str:
    return f"Sent {done.sent}, {done.retrying} to retry, {done.failed} given up"


@app.command("run")
def notify_run(
    once: Annotated[
        bool,
        typer.Option(
            "--once",
            help="Try every message still queued now (due or not), then exit: 1 if any could "
            "not be sent.",
        ),
    ] = False,
    as_: AsOption = None,
    json_: Annotated[
        bool, typer.Option("--json", help="With --once: print the counts as JSON alone.")
    ] = False,
) -> None:
    """Deliver queued e-mail over SMTP (a worker; --once: one pass, for cron).

    The worker retries failures with back-off and stops on SIGTERM or Ctrl-C.
    """
    from registry.jobs import delivery

    if json_ and not once:
        fail("--json goes with --once; the worker writes what it does to stderr.")
    with database() as (settings, engine):
        queued = _queued(settings, engine, as_)
        if not settings.smtp_host:
            fail(f"{_stay(queued)} because REGISTRY_SMTP_HOST is not set.")
        relay = f"{settings.smtp_host}:{settings.smtp_port}"
        if not once:
            _work(settings, engine, relay)
            return
        _quiet()
        done = delivery.deliver(engine=engine, settings=settings, everything=True)
        left = _queued(settings, engine, as_)
    if json_:
        emit_json(
            {
                "sent": done.sent,
                "retrying": done.retrying,
                "failed": done.failed,
                "queued": left,
                "unreachable": done.unreachable,
            }
        )
    else:
        stdout.print(f"{_summary(done)}; {left} still queued.", markup=False)
    if done.unreachable is not None:
        fail(
            f"The mail relay could not be reached ({done.unreachable}); "
            f"{_stay(left)} for the next run."
        )
    if done.retrying or done.failed:
        problem = _messages(done.retrying + done.failed)
        fail(f"{problem} could not be sent; `registry notify list` shows why.")


def _quiet() -> None:
    """No log lines from a single pass (its summary and the sentence on stderr say it all),
    unless logging was set up by whoever runs it."""
    import logging

    jobs = logging.getLogger("registry.jobs")
    if not logging.getLogger().handlers and not jobs.handlers:
        jobs.addHandler(logging.NullHandler())


def _work(settings: Settings, engine: Engine, relay: str) -> None:
    """Run the worker until SIGTERM or SIGINT, logging each round on stderr."""
    import logging
    import signal
    import threading

    from registry.jobs import delivery

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    log = logging.getLogger("registry.notify")
    stop = threading.Event()

    def _stop(signum: int, _frame: object) -> None:
        log.info("stopping (%s)", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        stderr.print(
            f"Delivering e-mail through {relay} ({settings.smtp_security}); "
            "stop with SIGTERM or Ctrl-C.",
            markup=False,
        )
        delivery.run_forever(
            engine=engine,
            settings=settings,
            stop=stop,
            report=lambda done: log.info("%s.", _summary(done)),
        )
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    stderr.print("Stopped.", markup=False)


@app.command("list")
def notify_list(
    status: Annotated[str | None, typer.Option(help="queued, sent or failed.")] = None,
    limit: LimitOption = PAGE_LIMIT,
    all_: AllOption = False,
    as_: AsOption = None,
    json_: JsonOption = False,
) -> None:
    """List the e-mail outbox, newest first (administrators and CED)."""
    from registry.services import outbox

    with work(as_) as w:
        rows = read_pages(
            lambda n, after: outbox.list_messages(
                w.session, actor=w.actor, status=status, limit=n, after=after
            ),
            limit=limit,
            every=all_,
        )
    if json_:
        emit_json(rows)
        return
    emit_table(
        "E-mail outbox",
        ["id", "status", "attempts", "recipient", "subject", "created", "last error"],
        [
            (
                m.id,
                m.status,
                m.attempts,
                m.recipient,
                m.subject,
                f"{m.created_at:%Y-%m-%d %H:%M}",
                m.last_error,
            )
            for m in rows
        ],
    )
