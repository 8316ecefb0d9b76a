"""Benchmark: ``registry notify run --once`` delivering 5,000 queued e-mails, against plain
``smtplib`` sending the same messages over one connection to the same server.

Run from the repository root (it needs ``aiosmtpd``, from the dev extras)::

    .venv/bin/python bench/notify.py [--messages N] [--repeat K]

For each backend a fresh registry (migrations, a keyring, the test cast from
``tests/factories.py``) gets N messages queued through ``registry.services.notify.queue``, as
the services queue them (rendered from the mail templates, one recipient each, 500 per
transaction; untimed). A local SMTP server (``aiosmtpd`` on 127.0.0.1, no TLS, no login) runs
in a process of its own, as a relay would, and only counts each message by its
``Message-ID``, so that it costs both sides the same and as little as it can.

Timed, alternating, ``--repeat`` times each (default 3; medians reported):

- the baseline: the N queued messages, read from the database beforehand (untimed), each
  built as the registry builds it (``registry.jobs.delivery.compose``: the same headers, text
  and HTML parts, so both sides send the same bytes) and sent with
  ``smtplib.SMTP.send_message`` over one connection;
- the registry: the installed ``registry notify run --once`` as a real subprocess (its
  start-up included), acting as the administrator, with ``REGISTRY_SMTP_*`` pointing at the
  server; it claims the messages in batches and marks each one sent in its own transaction.
  Between its runs the outbox is put back as it was (every message queued again; untimed).

Both rates are printed with their ratio (registry / baseline; the goal is at least 0.5).
After every run, untimed, the server must have received each Message-ID exactly once and the
outbox must hold N sent messages. It runs on SQLite (a temporary file) and, when
``REGISTRY_TEST_DATABASE_URL`` starts with ``postgresql``, on PostgreSQL too, in a fresh
schema dropped afterwards. The last line printed is a JSON summary (``ratio``: the lowest of
the backends); the exit status is non-zero when the verification fails."""

from __future__ import annotations

# ruff: noqa: E402 -- the import path is fixed before the imports that depend on it
import sys
from pathlib import Path

# Run as ``bench/notify.py``, this file's folder comes first on the import path and
# ``bench/vault.py`` would shadow the ``vault`` package; put the repository root there instead
# (it also makes ``tests.factories`` importable).
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:] = [
    str(ROOT),
    *(entry for entry in sys.path if Path(entry or ".").resolve() not in (HERE, ROOT)),
    str(HERE),
]

import argparse
import importlib.util
import json
import os
import smtplib
import socket
import statistics
import subprocess
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field

from _support import PG_ENV, BenchError, fresh_database, pg_url, positive
from sqlalchemy import func, select, update

import vault
from registry import migrate
from registry.config import Settings
from registry.db import make_engine, session_scope
from registry.jobs.delivery import OUTBOX, Claimed, compose
from registry.keys import session_info
from registry.services import notify
from registry.services.notify import Mail, Recipient
from tests.factories import CAST, World

GOAL_RATIO = 0.5
DEFAULT_MESSAGES = 5_000
DEFAULT_REPEAT = 3
PER_TRANSACTION = 500
ADMIN = CAST["admin"][0]


# ------------------------------------------------------------------------------ the server

# The SMTP server, in a process of its own (as a relay is): it counts what it receives by
# Message-ID, and answers ``take`` on stdin with those counts (JSON), starting afresh.
SERVER = r"""
import json, re, sys, threading
from collections import Counter
from aiosmtpd.controller import Controller

FOUND = re.compile(rb"^Message-ID:\s*(\S+)", re.IGNORECASE | re.MULTILINE)
counts, lock = Counter(), threading.Lock()


class Counting:
    async def handle_DATA(self, server, session, envelope):
        found = FOUND.search(envelope.original_content or b"")
        with lock:
            counts[found.group(1).decode() if found else "?"] += 1
        return "250 OK"


server = Controller(Counting(), hostname="127.0.0.1", port=int(sys.argv[1]))
server.start()
print("ready", flush=True)
for line in sys.stdin:
    with lock:
        print(json.dumps(counts), flush=True)
        counts.clear()
server.stop()
"""


class Server:
    """The counting SMTP server on 127.0.0.1 in a subprocess."""

    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port: int = probe.getsockname()[1]
        self.process = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(self.port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.stdin, self.stdout = self.process.stdin, self.process.stdout
        if self.stdout.readline().strip() != "ready":
            self.process.kill()
            raise BenchError("the SMTP server did not start (is aiosmtpd installed?)")

    def take(self) -> Counter[str]:
        """What arrived since the last call, by Message-ID."""
        self.stdin.write("take\n")
        self.stdin.flush()
        return Counter(json.loads(self.stdout.readline()))

    def stop(self) -> None:
        self.stdin.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


# ------------------------------------------------------------------------------ set-up


def build_registry(url: str, directory: Path, count: int) -> Settings:
    """A migrated registry with the cast and ``count`` queued messages."""
    keyring = directory / "registry.keyring"
    keyring.unlink(missing_ok=True)
    vault.Keyring.create(keyring)
    settings = Settings(database_url=url, keyring=str(keyring))
    engine = make_engine(url)
    try:
        migrate.upgrade(engine)
        with session_scope(engine, session_info(settings)) as session:
            World.build(session, settings)
        for start in range(0, count, PER_TRANSACTION):
            numbers = range(start + 1, min(count, start + PER_TRANSACTION) + 1)
            with session_scope(engine, session_info(settings)) as session:
                for n in numbers:
                    notify.queue(
                        session,
                        settings=settings,
                        event="request_submitted",
                        mail=_mail(n),
                        to=[
                            Recipient(
                                email=f"executive{n}@gov.mb.ca",
                                why="You receive this as a department executive "
                                "(dept_approver) of AGR.",
                            )
                        ],
                    )
    finally:
        engine.dispose()
    return settings


def _mail(n: int) -> Mail:
    return Mail(
        subject=f"Request {n} awaits your approval: Facebook @MBAgNews{n}",
        paragraphs=[
            f"Request {n} asks to register a new official account for AGR.",
            "Approve it or reject it with a reason; CED decides after you.",
        ],
        facts=[
            ("Request", str(n)),
            ("What", "A new official account"),
            ("Account", f"Facebook @MBAgNews{n}"),
            ("Department", "AGR (Agriculture)"),
            ("Requested by", "rita.requester@gov.mb.ca"),
        ],
        action=("Review the request", f"/console/requests/{n}"),
    )


def queued(url: str) -> list[Claimed]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(
                    OUTBOX.c.id,
                    OUTBOX.c.recipient,
                    OUTBOX.c.subject,
                    OUTBOX.c.body_text,
                    OUTBOX.c.body_html,
                    OUTBOX.c.message_id,
                    OUTBOX.c.attempts,
                    OUTBOX.c.created_at,
                ).order_by(OUTBOX.c.id)
            ).all()
    finally:
        engine.dispose()
    return [Claimed(*row) for row in rows]


def sent_count(url: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            found = conn.execute(
                select(func.count()).select_from(OUTBOX).where(OUTBOX.c.status == "sent")
            ).scalar()
    finally:
        engine.dispose()
    return int(found or 0)


# ------------------------------------------------------------------------------ the runs


def baseline(messages: list[Claimed], settings: Settings, port: int) -> float:
    """Seconds for plain smtplib to build and send ``messages`` over one connection."""
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        for message in messages:
            smtp.send_message(
                compose(settings, message),
                from_addr=settings.mail_from,
                to_addrs=[message.recipient],
            )
    return time.perf_counter() - started


def registry_command() -> list[str]:
    """The installed console script next to this Python, else ``python -m cli.main``."""
    script = Path(sys.executable).parent / "registry"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "cli.main"]


def registry_run(settings: Settings, port: int, directory: Path) -> tuple[float, str]:
    """Seconds for ``registry notify run --once`` to deliver the outbox; what it printed."""
    env = {
        **os.environ,
        "REGISTRY_DATABASE_URL": settings.database_url,
        "REGISTRY_KEYRING": settings.keyring,
        "REGISTRY_ACTOR": ADMIN,
        "REGISTRY_SMTP_HOST": "127.0.0.1",
        "REGISTRY_SMTP_PORT": str(port),
        "REGISTRY_SMTP_SECURITY": "none",
    }
    for name in ("REGISTRY_SMTP_USERNAME", "REGISTRY_SMTP_PASSWORD"):
        env.pop(name, None)
    started = time.perf_counter()
    done = subprocess.run(
        [*registry_command(), "notify", "run", "--once"],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise BenchError(f"registry notify run --once exited {done.returncode}: {done.stderr}")
    return seconds, done.stdout.strip()


@dataclass
class Result:
    backend: str
    messages: int
    baseline_seconds: list[float] = field(default_factory=list)
    registry_seconds: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def baseline_rate(self) -> float:
        return self.messages / statistics.median(self.baseline_seconds)

    @property
    def registry_rate(self) -> float:
        return self.messages / statistics.median(self.registry_seconds)

    @property
    def ratio(self) -> float:
        return self.registry_rate / self.baseline_rate


def requeue(url: str) -> None:
    """Every message queued again, as it was before its delivery (untimed)."""
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                update(OUTBOX).values(
                    status="queued",
                    attempts=0,
                    sent_at=None,
                    claimed_until=None,
                    last_error=None,
                    next_attempt_at=OUTBOX.c.created_at,
                )
            )
    finally:
        engine.dispose()


def run_backend(backend: str, count: int, repeat: int, server: Server) -> Result:
    result = Result(backend, count)
    with tempfile.TemporaryDirectory(prefix="notify-bench-") as folder:
        directory = Path(folder)
        with fresh_database(backend, directory) as url:
            started = time.perf_counter()
            settings = build_registry(url, directory, count)
            messages = queued(url)
            print(
                f"{backend:10s} queued {len(messages)} messages in "
                f"{time.perf_counter() - started:.1f} s (untimed)"
            )
            expected = {f"<{m.message_id}@gov.mb.ca>" for m in messages}
            server.take()
            for run in range(1, repeat + 1):
                result.baseline_seconds.append(baseline(messages, settings, server.port))
                _check(f"baseline run {run}", server.take(), expected, result.problems)
                if run > 1:
                    requeue(url)
                seconds, said = registry_run(settings, server.port, directory)
                result.registry_seconds.append(seconds)
                _check(f"registry run {run}", server.take(), expected, result.problems)
                if (sent := sent_count(url)) != count:
                    result.problems.append(f"registry run {run}: {sent} of {count} marked sent")
                print(
                    f"{backend:10s} run {run}/{repeat}: baseline "
                    f"{result.baseline_seconds[-1]:.2f} s, registry {seconds:.2f} s ({said})"
                )
    return result


def _check(label: str, got: Counter[str], expected: set[str], problems: list[str]) -> None:
    if set(got) != expected or any(n != 1 for n in got.values()):
        twice = sum(1 for n in got.values() if n > 1)
        problems.append(
            f"{label}: {len(set(got) & expected)} of {len(expected)} Message-IDs arrived, "
            f"{twice} more than once, {len(set(got) - expected)} unexpected"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--messages",
        type=positive,
        default=DEFAULT_MESSAGES,
        help=f"messages to queue and deliver (default {DEFAULT_MESSAGES})",
    )
    parser.add_argument(
        "--repeat",
        type=positive,
        default=DEFAULT_REPEAT,
        help=f"timed runs of each side, alternating (default {DEFAULT_REPEAT}; medians)",
    )
    args = parser.parse_args(argv)
    try:  # the server's, in a process of its own
        found = importlib.util.find_spec("aiosmtpd") is not None
    except ModuleNotFoundError:
        found = False
    if not found:
        raise BenchError("aiosmtpd is not installed: pip install -e '.[dev]' (make bench does)")

    backends = ["sqlite"] + (["postgresql"] if pg_url() else [])
    if len(backends) == 1:
        print(f"backends: sqlite only ({PG_ENV} does not name a PostgreSQL database)")
    server = Server()
    try:
        results = [run_backend(b, args.messages, args.repeat, server) for b in backends]
    finally:
        server.stop()

    for r in results:
        verdict = "met" if r.ratio >= GOAL_RATIO else "NOT met"
        print(
            f"{r.backend:10s} baseline {r.baseline_rate:6.0f} msg/s, registry "
            f"{r.registry_rate:6.0f} msg/s (medians): ratio {r.ratio:.2f} "
            f"(goal at least {GOAL_RATIO:g}: {verdict})"
        )
        for problem in r.problems:
            print(f"  verification failed: {problem}")
    failed = any(r.problems for r in results)
    print("verification: FAILED" if failed else "verification: ok (each message once, all sent)")
    ratio = min(r.ratio for r in results)
    summary = {
        "benchmark": "notify",
        "messages": args.messages,
        "repeat": args.repeat,
        "results": [
            {
                "backend": r.backend,
                "baseline_per_s": round(r.baseline_rate, 1),
                "registry_per_s": round(r.registry_rate, 1),
                "baseline_seconds": [round(x, 3) for x in r.baseline_seconds],
                "registry_seconds": [round(x, 3) for x in r.registry_seconds],
                "ratio": round(r.ratio, 3),
            }
            for r in results
        ],
        "ratio": round(ratio, 3),
        "goal_ratio": GOAL_RATIO,
        "goal_met": ratio >= GOAL_RATIO,
        "verified": not failed,
    }
    print(json.dumps(summary))
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        print(json.dumps({"benchmark": "notify", "error": str(exc)[:500]}))
        sys.exit(2)
