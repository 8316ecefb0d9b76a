"""Benchmark: ``registry serve`` under a mixed load of public, refused, signed-in and write
requests, over real HTTP.

Run from the repository root::

    .venv/bin/python bench/load.py [--seconds S] [--connections C] [--accounts N]
                                   [--backend all|sqlite|postgresql] [--quick]

For each backend, a fresh registry (a SQLite file in a temporary folder, then, when
``REGISTRY_TEST_DATABASE_URL`` names PostgreSQL, a new schema there) gets the test cast, N
active AGR Facebook accounts held by a CED person and an AGR one (``bench/verify.py``'s
seeding, default 3,000) and N/50 HLT accounts, and two API tokens made through the services:
the administrator's (for the writes) and an HLT requester's (for the signed-in reads, which
see the HLT accounts). Then ``registry serve --workers W`` starts as a subprocess on a free
127.0.0.1 port (SQLite with 1 worker, PostgreSQL with 2), its output in a log file in the
temporary folder (the last lines are printed if it dies).

First, unloaded: one request of each kind must get its expected status (else the benchmark
itself is broken, exit 2), a sample of ``/verify`` answers must be right, and ``/verify``'s
unloaded p50 is taken over a few hundred requests sent one after the other on one
keep-alive connection. Then, for S seconds (default 20), C keep-alive connections (default
64, an asyncio client on raw sockets speaking HTTP/1.1, each connection starting a request
every I seconds, default 0.25, as browsers and checkers do; a late answer is followed at
once; ``--interval 0`` sends back to back and saturates the server) are split between four
kinds of client: half ask ``GET
/verify?url=...`` (rotating through every registered handle and N/4 unknown ones; expect
200), a sixth each ``GET /directory?q=zz`` (200), ``GET /accounts`` with a made-up bearer
token (401) and ``GET /accounts`` signed in (200). One more connection writes once a
second, signed in as the administrator: it grants a CED person access to an AGR account
(``POST /accounts/{id}/holders``, 201), then revokes it (``DELETE
/accounts/{id}/holders/{email}``, 200) the next second, and so on (the account keeps its
two holders, one from CED, so rule 3 always allows the revoke).

Every request has a 10 s timeout. Per endpoint it prints req/s, p50 and p99 (ms; a request
that timed out counts at the time it waited), counts by status and ``server_errors`` (5xx
answers, socket errors and timeouts, summed), with any other unexpected status (a 4xx the
endpoint should not give) listed apart; and ``/verify``'s loaded p99 over its unloaded p50.
Goal: no server errors and ``/verify``'s loaded p99 under 10x its unloaded p50 (printed as
met or not; it does not change the exit status). The last line printed is a JSON summary.
The exit status is 0 unless the benchmark could not run (2), a server died (1), or
``--fail-on-errors`` was given and there were server errors (1; CI runs it so). Loops are
bounded in count and in time: the load stops by itself at S seconds plus one timeout, and a
server that will not stop within 10 s is killed with its whole process group (its workers).

With several workers, uvicorn's sockets lack TCP_NODELAY (Kludex/uvicorn#3149), so every
request after the first on a keep-alive connection waits ~40 ms for the client's delayed ACK:
the unloaded p50 then says so, and the script prints a note.
"""

from __future__ import annotations

# ruff: noqa: E402 -- the import path is fixed before the imports that depend on it
import sys
from pathlib import Path

# As in bench/verify.py: the repository root first (so ``vault`` is the package, not
# bench/vault.py), this folder last (for bench/_support.py and bench/verify.py).
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:] = [
    str(ROOT),
    *(entry for entry in sys.path if Path(entry or ".").resolve() not in (HERE, ROOT)),
    str(HERE),
]

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

from _support import PG_ENV, BenchError, fresh_database, percentile, pg_url, positive
from sqlmodel import col, select
from verify import (
    HOST,
    REQUEST_TIMEOUT,
    Question,
    Server,
    _parse_head,
    build_registry,
    check_answers,
    free_port,
    official_handle,
    verify_path,
    wait_until_ready,
)

import vault
from registry.config import Settings
from registry.db import make_engine, session_scope
from registry.keys import session_info
from registry.models import Account
from registry.services import accounts, tokens
from registry.services.actors import actor_for, find_person

DEFAULT_SECONDS = 20.0
DEFAULT_CONNECTIONS = 64
DEFAULT_INTERVAL = 0.25
DEFAULT_ACCOUNTS = 3_000
QUICK_SECONDS = 5.0
QUICK_ACCOUNTS = 1_000
UNLOADED_REQUESTS = 300  # sequential /verify requests for the unloaded p50
UNLOADED_WARMUP = 50
WRITE_INTERVAL = 1.0  # seconds between two writes
MAX_REQUESTS_PER_CONNECTION = 1_000_000  # a bound on every loop, never reached in practice
STOP_SECONDS = 10.0  # for the server to stop when asked, before it is killed
ERROR_PAUSE = 0.05  # after a socket error, before the connection is opened again
GOAL_ERRORS = 0
GOAL_RATIO = 10.0
WORKERS = {"sqlite": 1, "postgresql": 2}
NAGLE_HINT_MS = 30.0  # an unloaded p50 this slow with several workers: see run_backend

ADMIN = "admin@gov.mb.ca"  # tests/factories.py's cast, as bench/verify.py seeds it
READER = "hana.health@gov.mb.ca"  # an HLT requester: signed in, sees the HLT accounts
GRANTEE = "ced.two@gov.mb.ca"  # granted then revoked; the account keeps its two holders
READER_DEPARTMENT = "HLT"
READER_HOLDERS = ("ced.one@gov.mb.ca", READER)
BAD_TOKEN = "smr_" + "madeUpTokenThatWasNeverIssued0000000000000"

# name -> (share of the connections, expected statuses)
LOADS: dict[str, tuple[int, frozenset[int]]] = {
    "verify": (3, frozenset({200})),
    "directory": (1, frozenset({200})),
    "bad_token": (1, frozenset({401})),
    "signed_in": (1, frozenset({200})),
}
WRITE_EXPECTED = frozenset({200, 201, 204})
ENDPOINTS = (*LOADS, "write")
EXPECTED = {**{name: expected for name, (_, expected) in LOADS.items()}, "write": WRITE_EXPECTED}
LABELS = {
    "verify": "GET /verify?url=",
    "directory": "GET /directory?q=zz",
    "bad_token": "GET /accounts (bad token)",
    "signed_in": "GET /accounts (signed in)",
    "write": "POST+DELETE holders",
}


# ------------------------------------------------------------------------------ set-up


@dataclass(frozen=True)
class Scenario:
    """What the requests need: verify questions, tokens, the account written to."""

    questions: list[Question]
    admin_token: str
    reader_token: str
    account_id: int
    reader_accounts: int


def seed(url: str, settings: Settings, size: int) -> Scenario:
    """bench/verify.py's registry (the cast and ``size`` AGR accounts), ``size // 50`` HLT
    accounts, and two API tokens."""
    build_registry(url, settings, size)
    extra = max(1, size // 50)
    engine = make_engine(url)
    try:
        with session_scope(engine, session_info(settings)) as session:
            by_code = accounts.all_departments(session)
            holders = [find_person(session, email) for email in READER_HOLDERS]
            admin = find_person(session, ADMIN)
            entries = [
                (
                    accounts.validate_draft(
                        settings=settings,
                        departments_by_code=by_code,
                        platform="instagram",
                        handle=f"mbhealth{i}",
                        url=f"https://www.instagram.com/mbhealth{i}",
                        category="official",
                        department=READER_DEPARTMENT,
                        program_area="",
                        purpose="Public health news",
                        login_email=f"hlt.social{i}@gov.mb.ca",
                    ),
                    holders,
                )
                for i in range(extra)
            ]
            accounts.insert_active_accounts(
                session,
                settings=settings,
                actor=actor_for(session, settings, admin),
                entries=entries,
                action="account.created",
            )
            admin_token = tokens.create_token(session, actor=None, email=ADMIN).token
            reader_token = tokens.create_token(session, actor=None, email=READER).token
            account_id = session.exec(
                select(col(Account.id)).where(Account.handle == official_handle(0))
            ).one()
    finally:
        engine.dispose()
    return Scenario(
        questions=verify_questions(size),
        admin_token=admin_token,
        reader_token=reader_token,
        account_id=account_id,
        reader_accounts=extra,
    )


def verify_questions(size: int) -> list[Question]:
    """Every registered handle and size/4 unknown ones, each asked as a profile URL."""
    asked = [Question(verify_path(official_handle(i), as_url=True), True) for i in range(size)]
    asked += [
        Question(verify_path(f"MBUnknown{i}", as_url=True), False) for i in range(max(1, size // 4))
    ]
    random.Random(20240612).shuffle(asked)
    return asked


def http_request(
    method: str, path: str, *, token: str | None = None, body: object | None = None
) -> bytes:
    """One HTTP/1.1 keep-alive request, ready to send."""
    head = [f"{method} {path} HTTP/1.1", f"Host: {HOST}"]
    if token is not None:
        head.append(f"Authorization: Bearer {token}")
    data = b""
    if body is not None:
        data = json.dumps(body).encode()
        head += ["Content-Type: application/json", f"Content-Length: {len(data)}"]
    elif method != "GET":
        head.append("Content-Length: 0")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + data


@dataclass(frozen=True)
class Requests:
    """The raw requests of each kind of client."""

    by_endpoint: dict[str, list[bytes]]
    grant: bytes
    revoke: bytes


def requests_for(scenario: Scenario) -> Requests:
    holders = f"/accounts/{scenario.account_id}/holders"
    return Requests(
        by_endpoint={
            "verify": [http_request("GET", q.path) for q in scenario.questions],
            "directory": [http_request("GET", "/directory?q=zz")],
            "bad_token": [http_request("GET", "/accounts", token=BAD_TOKEN)],
            "signed_in": [http_request("GET", "/accounts", token=scenario.reader_token)],
        },
        grant=http_request("POST", holders, token=scenario.admin_token, body={"email": GRANTEE}),
        revoke=http_request("DELETE", f"{holders}/{GRANTEE}", token=scenario.admin_token),
    )


def split_connections(total: int) -> dict[str, int]:
    """The connections of each kind, in proportion to LOADS' shares (largest remainder),
    at least one each when there are enough."""
    shares = {name: share for name, (share, _) in LOADS.items()}
    whole = sum(shares.values())
    counts = {name: total * share // whole for name, share in shares.items()}
    by_remainder = sorted(shares, key=lambda n: (-(total * shares[n] % whole), -shares[n]))
    for name in by_remainder[: total - sum(counts.values())]:
        counts[name] += 1
    for name in shares:  # take from the largest for any kind left without a connection
        if counts[name] == 0 and total >= len(shares):
            counts[max(counts, key=lambda n: counts[n])] -= 1
            counts[name] = 1
    return counts


@contextmanager
def registry_server(
    directory: Path, env: dict[str, str], workers: int, probe: str
) -> Iterator[Server]:
    """``registry serve --workers W`` on a free port; yielded once ``probe`` answers 200."""
    command = Path(sys.executable).parent / "registry"
    if not command.exists():
        raise BenchError(f"no {command}: install the project first (pip install -e .)")
    port = free_port()
    log = directory / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(command), "serve", "--host", HOST, "--port", str(port), "--workers", str(workers)],
            cwd=directory,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the workers can be ended with it
        )
        server = Server(name="registry", port=port, process=process, log=log)
        try:
            wait_until_ready(server, probe)
            yield server
        finally:
            stop_group(process)


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """Terminate the server and wait STOP_SECONDS; then kill its process group (the
    supervisor's workers too: a worker left running would keep its database transactions
    open, and dropping the benchmark's PostgreSQL schema would wait for them for ever)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            print(f"the server did not stop within {STOP_SECONDS:g} s; killing it")
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # the group this script started, nothing else
    process.wait(timeout=STOP_SECONDS)


# ------------------------------------------------------------------------------ client


@dataclass
class Stats:
    """What one endpoint got: latencies (s), statuses, and socket errors and timeouts."""

    expected: frozenset[int]
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)

    @property
    def server_errors(self) -> int:
        return sum(n for s, n in self.statuses.items() if s >= 500) + sum(self.failures.values())

    @property
    def unexpected(self) -> dict[int, int]:
        return {
            s: n for s, n in sorted(self.statuses.items()) if s < 500 and s not in self.expected
        }


class Connection:
    """One keep-alive HTTP/1.1 connection, opened when first needed and after an error."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def send(self, request: bytes) -> int:
        """The status of the answer to ``request`` (its body read and dropped)."""
        async with asyncio.timeout(REQUEST_TIMEOUT):
            if self.reader is None or self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
            self.writer.write(request)
            await self.writer.drain()
            head = await self.reader.readuntil(b"\r\n\r\n")
            status, length, close = _parse_head(head)
            await self.reader.readexactly(length)
        if close:
            self.close()
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def timed(connection: Connection, request: bytes, stats: Stats) -> int | None:
    """Send one request and record it; the status, or None after a socket error or timeout."""
    start = time.perf_counter()
    try:
        status = await connection.send(request)
    except TimeoutError:
        stats.latencies.append(time.perf_counter() - start)
        stats.failures["timeout"] += 1
    except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
        stats.failures[type(exc).__name__] += 1
    else:
        stats.latencies.append(time.perf_counter() - start)
        stats.statuses[status] += 1
        return status
    connection.close()
    await asyncio.sleep(ERROR_PAUSE)
    return None


async def reader_client(
    port: int,
    requests: Sequence[bytes],
    offset: int,
    stats: Stats,
    until: asyncio.Event,
    interval: float,
) -> None:
    """One keep-alive connection: a request every ``interval`` seconds (as a person's browser
    or a platform's checker sends them; a late answer is followed at once), or back to back
    when ``interval`` is 0."""
    connection = Connection(port)
    start = time.perf_counter() + random.uniform(0, interval)
    try:
        for n in range(MAX_REQUESTS_PER_CONNECTION):
            if until.is_set():
                break
            pause = start + n * interval - time.perf_counter()
            if pause > 0:
                with suppress(TimeoutError):
                    await asyncio.wait_for(until.wait(), timeout=pause)
                if until.is_set():
                    break
            await timed(connection, requests[(offset + n) % len(requests)], stats)
    finally:
        connection.close()


async def writer_client(port: int, requests: Requests, stats: Stats, until: asyncio.Event) -> None:
    """A grant, a second later its revoke, and so on. After a failure the next write follows
    what the server says (409 on a grant: already held; 404 on a revoke: not held)."""
    connection = Connection(port)
    grant_next = True
    start = time.perf_counter()
    try:
        for n in range(MAX_REQUESTS_PER_CONNECTION):
            if until.is_set():
                break
            status = await timed(
                connection, requests.grant if grant_next else requests.revoke, stats
            )
            if grant_next and status in (201, 409):
                grant_next = False
            elif not grant_next and status in (200, 204, 404):
                grant_next = True
            pause = start + (n + 1) * WRITE_INTERVAL - time.perf_counter()
            with suppress(TimeoutError):
                await asyncio.wait_for(until.wait(), timeout=max(0.0, pause))
    finally:
        connection.close()


async def watch(server: Server, seconds: float, until: asyncio.Event) -> None:
    """Set ``until`` after ``seconds``, or earlier if the server exits."""
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline and server.process.poll() is None:
        await asyncio.sleep(min(0.25, max(0.0, deadline - time.perf_counter())))
    until.set()


async def _mixed_load(
    server: Server, requests: Requests, connections: int, seconds: float, interval: float
) -> tuple[dict[str, Stats], float]:
    stats = {name: Stats(EXPECTED[name]) for name in ENDPOINTS}
    until = asyncio.Event()
    clients = []
    for name, count in split_connections(connections).items():
        chosen = requests.by_endpoint[name]
        stride = max(1, len(chosen) // max(1, count))
        clients += [
            reader_client(server.port, chosen, n * stride, stats[name], until, interval)
            for n in range(count)
        ]
    clients.append(writer_client(server.port, requests, stats["write"], until))
    start = time.perf_counter()
    await asyncio.gather(watch(server, seconds, until), *clients)
    return stats, time.perf_counter() - start


def mixed_load(
    server: Server, requests: Requests, connections: int, seconds: float, interval: float
) -> tuple[dict[str, Stats], float]:
    return asyncio.run(_mixed_load(server, requests, connections, seconds, interval))


async def _sequential(port: int, requests: Sequence[bytes], count: int, stats: Stats) -> None:
    connection = Connection(port)
    try:
        for n in range(count):
            await timed(connection, requests[n % len(requests)], stats)
    finally:
        connection.close()


def sequential(port: int, requests: Sequence[bytes], count: int) -> Stats:
    stats = Stats(frozenset({200}))
    asyncio.run(_sequential(port, requests, count, stats))
    return stats


def preflight(server: Server, requests: Requests) -> list[str]:
    """One request of each kind, unloaded, must get its expected status."""
    problems = []
    checks = [(name, chosen[0], EXPECTED[name]) for name, chosen in requests.by_endpoint.items()]
    checks += [("grant", requests.grant, {201}), ("revoke", requests.revoke, {200, 204})]
    for name, request, expected in checks:
        stats = sequential(server.port, [request], 1)
        got = stats.statuses or stats.failures
        if set(stats.statuses) - set(expected) or not stats.statuses:
            problems.append(f"{name}: expected {sorted(expected)}, got {dict(got)}")
    return problems


# ------------------------------------------------------------------------------ one run


@dataclass
class RunResult:
    backend: str
    workers: int
    stats: dict[str, Stats]
    elapsed: float
    unloaded_p50_ms: float
    server_died: bool

    @property
    def server_errors(self) -> int:
        return sum(s.server_errors for s in self.stats.values())

    @property
    def unexpected(self) -> int:
        return sum(sum(s.unexpected.values()) for s in self.stats.values())

    def rps(self, name: str) -> float:
        return len(self.stats[name].latencies) / self.elapsed if self.elapsed else 0.0

    def p_ms(self, name: str, fraction: float) -> float:
        return percentile(self.stats[name].latencies, fraction) * 1000

    @property
    def ratio(self) -> float:
        return self.p_ms("verify", 0.99) / self.unloaded_p50_ms

    @property
    def goal_met(self) -> bool:
        return self.server_errors <= GOAL_ERRORS and self.ratio < GOAL_RATIO


def run_backend(backend: str, args: argparse.Namespace) -> RunResult:
    workers = WORKERS[backend]
    with (
        tempfile.TemporaryDirectory(prefix="load-bench-") as folder,
        fresh_database(backend, Path(folder)) as url,
    ):
        directory = Path(folder)
        keyring = directory / "registry.keyring"
        settings = Settings(database_url=url, keyring=str(keyring))
        vault.Keyring.create(keyring)
        started = time.perf_counter()
        scenario = seed(url, settings, args.accounts)
        requests = requests_for(scenario)
        print(
            f"{backend}: {args.accounts:,} AGR + {scenario.reader_accounts:,} HLT active "
            f"accounts, seeded in {time.perf_counter() - started:.1f} s"
        )
        env = {
            **os.environ,
            "REGISTRY_DATABASE_URL": url,
            "REGISTRY_KEYRING": str(keyring),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        env.pop("REGISTRY_ACTOR", None)
        with registry_server(directory, env, workers, scenario.questions[0].path) as server:
            print(
                f"{backend}: registry serve --workers {workers} on {HOST}:{server.port} "
                f"(log {server.log})"
            )
            problems = preflight(server, requests) + check_answers(server.port, scenario.questions)
            if problems:
                raise BenchError(f"{backend}: wrong answers unloaded: " + "; ".join(problems))
            verify_requests = requests.by_endpoint["verify"]
            sequential(server.port, verify_requests, UNLOADED_WARMUP)
            unloaded = sequential(server.port, verify_requests[1:], args.unloaded)
            if unloaded.server_errors or unloaded.unexpected:
                raise BenchError(f"{backend}: unloaded /verify failed: {dict(unloaded.statuses)}")
            p50 = percentile(unloaded.latencies, 0.50) * 1000
            print(
                f"{backend}: /verify unloaded p50 {p50:.2f} ms over {args.unloaded} sequential "
                f"requests; loading {args.connections} connections "
                f"({', '.join(f'{n} {k}' for k, n in split_connections(args.connections).items())}"
                f") + 1 writer for {args.seconds:g} s"
            )
            if workers > 1 and p50 >= NAGLE_HINT_MS:
                print(
                    f"{backend}: note: a p50 near 40 ms is the delayed-ACK wait of a keep-alive "
                    "connection without TCP_NODELAY, which uvicorn's --workers N sockets lack "
                    "(Kludex/uvicorn#3149); a single worker sets it"
                )
            stats, elapsed = mixed_load(
                server, requests, args.connections, args.seconds, args.interval
            )
            died = server.process.poll() is not None
            if died:
                print(
                    f"{backend}: the server DIED (exit {server.process.returncode}); "
                    f"the last lines of its log:\n{server.log_tail()}"
                )
            result = RunResult(backend, workers, stats, elapsed, p50, died)
            if result.server_errors and not died:
                errors = error_lines(server.log)
                if errors:
                    print(f"{backend}: the server log's last error lines:")
                    for line in errors:
                        print(f"    {line}")
    return result


def error_lines(log: Path, limit: int = 6) -> list[str]:
    """The last distinct lines of the log that name an error (access-log lines excluded)."""
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return []
    found: dict[str, None] = {}
    for line in reversed(lines):
        if ("Error" in line or "error" in line) and '" ' not in line:
            found.setdefault(line.strip()[:200], None)
            if len(found) >= limit:
                break
    return list(reversed(found))


# ------------------------------------------------------------------------------ report


def report(result: RunResult) -> None:
    print(
        f"results: {result.backend}, {result.workers} worker(s), {result.elapsed:.1f} s "
        "(p50/p99 in ms; server errors = 5xx + socket errors + timeouts)"
    )
    for name in ENDPOINTS:
        stats = result.stats[name]
        statuses = ", ".join(f"{s}: {n:,}" for s, n in sorted(stats.statuses.items())) or "none"
        failures = ", ".join(f"{k}: {n}" for k, n in sorted(stats.failures.items()))
        print(
            f"  {LABELS[name]:26s} {result.rps(name):8.1f} req/s  p50 {result.p_ms(name, 0.5):8.1f}"
            f"  p99 {result.p_ms(name, 0.99):8.1f}  server_errors {stats.server_errors:5d}  "
            f"[{statuses}{'; ' + failures if failures else ''}]"
        )
        if stats.unexpected:
            print(f"    unexpected: {stats.unexpected}")
    verdict = "met" if result.goal_met else "NOT met"
    print(
        f"  /verify p99 loaded / p50 unloaded = {result.p_ms('verify', 0.99):.1f} / "
        f"{result.unloaded_p50_ms:.2f} = {result.ratio:.1f}x; server_errors "
        f"{result.server_errors}; unexpected 4xx {result.unexpected}; goal (0 server errors, "
        f"ratio < {GOAL_RATIO:g}x): {verdict}"
    )


def summary_of(result: RunResult) -> dict[str, object]:
    return {
        "backend": result.backend,
        "workers": result.workers,
        "server_errors": result.server_errors,
        "unexpected": result.unexpected,
        "server_died": result.server_died,
        "verify_p50_unloaded_ms": round(result.unloaded_p50_ms, 3),
        "verify_p99_loaded_ms": round(result.p_ms("verify", 0.99), 2),
        "verify_p99_over_p50": round(result.ratio, 2),
        "rps": {name: round(result.rps(name), 1) for name in ENDPOINTS},
        "p99_ms": {name: round(result.p_ms(name, 0.99), 1) for name in ENDPOINTS},
        "server_errors_by_endpoint": {n: result.stats[n].server_errors for n in ENDPOINTS},
        "goal_met": result.goal_met,
    }


def positive_seconds(value: str) -> float:
    number = float(value)
    if not number >= 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 second, not {value}")
    return number


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seconds",
        type=positive_seconds,
        default=None,
        help=f"seconds of load (default {DEFAULT_SECONDS:g}; --quick {QUICK_SECONDS:g})",
    )
    parser.add_argument(
        "--connections",
        type=positive,
        default=DEFAULT_CONNECTIONS,
        help=f"keep-alive reading connections, plus one writer (default {DEFAULT_CONNECTIONS})",
    )
    parser.add_argument(
        "--interval",
        type=float,
        default=DEFAULT_INTERVAL,
        help="seconds between the starts of a connection's requests; 0 sends them back to "
        f"back, saturating the server (default {DEFAULT_INTERVAL:g})",
    )
    parser.add_argument(
        "--accounts",
        type=positive,
        default=None,
        help=f"AGR accounts seeded (default {DEFAULT_ACCOUNTS:,}; --quick {QUICK_ACCOUNTS:,})",
    )
    parser.add_argument(
        "--unloaded",
        type=positive,
        default=UNLOADED_REQUESTS,
        help=f"sequential /verify requests for the unloaded p50 (default {UNLOADED_REQUESTS})",
    )
    parser.add_argument(
        "--backend",
        choices=("all", "sqlite", "postgresql"),
        default="all",
        help=f"all: SQLite, then PostgreSQL when {PG_ENV} names one (the default)",
    )
    parser.add_argument(
        "--fail-on-errors",
        action="store_true",
        help="exit 1 when any request got a 5xx, a socket error or a timeout",
    )
    parser.add_argument(
        "--quick", action="store_true", help="a short try: 5 s and 1,000 accounts per backend"
    )
    args = parser.parse_args(argv)
    # Stopped from outside (``timeout``, CI), still stop the servers on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    if args.seconds is None:
        args.seconds = QUICK_SECONDS if args.quick else DEFAULT_SECONDS
    if args.accounts is None:
        args.accounts = QUICK_ACCOUNTS if args.quick else DEFAULT_ACCOUNTS

    backends = ["sqlite", "postgresql"] if args.backend == "all" else [args.backend]
    if "postgresql" in backends and pg_url() is None:
        if args.backend == "postgresql":
            parser.error(f"{PG_ENV} does not name a PostgreSQL database")
        backends.remove("postgresql")
        print(f"backends: sqlite only ({PG_ENV} does not name a PostgreSQL database)")

    results = []
    for backend in backends:
        result = run_backend(backend, args)
        report(result)
        results.append(result)

    total = sum(r.server_errors for r in results)
    goal_met = all(r.goal_met for r in results)
    print(
        f"goal: 0 server errors and /verify p99 < {GOAL_RATIO:g}x unloaded p50 on every "
        f"backend: {'met' if goal_met else 'NOT met'} ({total} server errors in all)"
    )
    print(
        json.dumps(
            {
                "benchmark": "load",
                "seconds": args.seconds,
                "connections": args.connections,
                "accounts": args.accounts,
                "server_errors": total,
                "goal_ratio": GOAL_RATIO,
                "goal_met": goal_met,
                "runs": {r.backend: summary_of(r) for r in results},
            }
        )
    )
    if any(r.server_died for r in results):
        return 1
    return 1 if args.fail_on_errors and total else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        print(json.dumps({"benchmark": "load", "error": str(exc)[:500]}))
        sys.exit(2)
