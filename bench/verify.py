"""Benchmark: the public ``GET /verify`` against a bare FastAPI endpoint, over real HTTP.

Run from the repository root::

    .venv/bin/python bench/verify.py [--accounts N] [--seconds S] [--connections C]
                                     [--rounds R] [--generator auto|wrk|asyncio]

A fresh SQLite registry in a temporary folder (migrations, a keyring, the test cast from
``tests/factories.py``) gets N active Facebook accounts (default 2,000), inserted in one bulk
call. Two servers start as subprocesses on free 127.0.0.1 ports, each ``python -m uvicorn ...
--workers 1 --log-level warning --no-access-log``: the registry (``registry.http.app:
create_app --factory``, its environment pointing at the temporary registry) and a bare
FastAPI app whose one ``async def`` endpoint returns a small JSON object (written to a
temporary module). The bare endpoint is the ceiling: what one uvicorn worker of this FastAPI
does per second when the endpoint does nothing.

Both are loaded by the same generator with the same number of connections: ``wrk`` when it is
on the PATH (a Lua script rotates through the paths and counts the non-200 answers), else an
asyncio client written here (raw ``asyncio.open_connection`` sockets, HTTP/1.1 keep-alive,
C connections each sending its requests one after the other for a fixed time; every answer's
status is read and its body read to its Content-Length, every request's latency kept). The
registry's requests rotate through about 1.25 N different questions: every registered handle
(some lower-cased, some with an ``@``, some asked as a profile URL) and N/4 unknown handles,
shuffled. After a short warm-up of each, the two endpoints are measured alternately, R rounds
of S seconds each (default 3 x 5 s); the medians over the rounds are reported.

Checked outside the timing: a sample of the questions gets the right answer (``official:
true`` with the department for a registered handle, ``false`` for an unknown one), before
and after the rounds; and every timed request (and warm-up request) was answered 200 with no
socket error. Goal: verify's req/s at least half the bare endpoint's. The servers are always
stopped (terminate, then kill). The last line printed is a JSON summary; the exit status is
non-zero when a check fails (not when the goal is missed).
"""

from __future__ import annotations

# ruff: noqa: E402 -- the import path is fixed before the imports that depend on it
import sys
from pathlib import Path

# Run as ``bench/handover.py``, this file's folder comes first on the import path and
# ``bench/vault.py`` would shadow the ``vault`` package; put the repository root there instead
# (it also makes ``tests.factories`` importable).
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# The repository root first (so ``vault`` is the package, not bench/vault.py), this folder
# last (for the helpers in bench/_support.py).
sys.path[:] = [
    str(ROOT),
    *(entry for entry in sys.path if Path(entry or ".").resolve() not in (HERE, ROOT)),
    str(HERE),
]

import argparse
import asyncio
import http.client
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlencode

from _support import BenchError, percentile, positive

import vault
from registry import migrate
from registry.config import Settings
from registry.db import make_engine, session_scope
from registry.keys import session_info
from registry.services import accounts
from tests.factories import World

HOST = "127.0.0.1"
GOAL_RATIO = 0.5
DEFAULT_ACCOUNTS = 2_000
DEFAULT_SECONDS = 5.0
DEFAULT_CONNECTIONS = 32
DEFAULT_ROUNDS = 3
WARMUP_SECONDS = 1.0
STARTUP_SECONDS = 30.0  # a server that does not answer by then is a failure
REQUEST_TIMEOUT = 10.0  # per request, for both generators
HOLDERS = ("ced1", "agr_staff")
DEPARTMENT = ("AGR", "Agriculture")
BARE_PATH = "/ping"
BARE_BODY = {"ok": True, "service": "bare"}
CHECK_SAMPLE = 40  # questions whose answers are checked before and after the rounds

BARE_MODULE = '''\
"""A bare FastAPI app: one async endpoint and a small JSON answer (the benchmark's ceiling)."""

from fastapi import FastAPI

app = FastAPI()


@app.get("{path}")
async def ping() -> dict[str, object]:
    return {body!r}
'''

# Rotates through PATHS (each wrk thread from its own offset) and counts what is not a 200.
WRK_SCRIPT = """\
local paths = {{
{paths}
}}
local threads = {{}}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  counter = id * 7919
  responses = 0
  non200 = 0
end

function request()
  counter = counter + 1
  return wrk.format("GET", paths[(counter % #paths) + 1])
end

function response(status, headers, body)
  responses = responses + 1
  if status ~= 200 then
    non200 = non200 + 1
  end
end

function done(summary, latency, requests)
  local seen, bad = 0, 0
  for _, thread in ipairs(threads) do
    seen = seen + thread:get("responses")
    bad = bad + thread:get("non200")
  end
  io.write(string.format("bench-counts responses=%d non200=%d\\n", seen, bad))
end
"""


@dataclass(frozen=True)
class Question:
    """One ``/verify`` path and the answer it must get."""

    path: str
    official: bool


@dataclass
class Measurement:
    """One load run against one server."""

    rps: float
    p50_ms: float
    p99_ms: float
    responses: int
    non_200: int
    errors: int
    notes: list[str] = field(default_factory=list)


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


# ------------------------------------------------------------------------------ set-up


def build_registry(url: str, settings: Settings, size: int) -> None:
    """Migrate; add the cast and ``size`` active Facebook accounts in one bulk insert."""
    engine = make_engine(url)
    try:
        migrate.upgrade(engine)
        with session_scope(engine, session_info(settings)) as session:
            world = World.build(session, settings)
            by_code = accounts.all_departments(session)
            holders = [world.people[key] for key in HOLDERS]
            entries = [
                (
                    accounts.validate_draft(
                        settings=settings,
                        departments_by_code=by_code,
                        platform="facebook",
                        handle=official_handle(i),
                        url=f"https://www.facebook.com/{official_handle(i)}",
                        category="official",
                        department=DEPARTMENT[0],
                        program_area="",
                        purpose="Program news",
                        login_email=f"agr.social{i}@gov.mb.ca",
                    ),
                    holders,
                )
                for i in range(size)
            ]
            accounts.insert_active_accounts(
                session,
                settings=settings,
                actor=world.actor("admin"),
                entries=entries,
                action="account.created",
            )
    finally:
        engine.dispose()


def official_handle(i: int) -> str:
    return f"MBVerify{i}"


def verify_path(handle: str, *, as_url: bool) -> str:
    if as_url:
        query = {"url": f"https://www.facebook.com/{handle}"}
    else:
        query = {"platform": "facebook", "handle": handle}
    return "/verify?" + urlencode(query)


def questions(size: int) -> list[Question]:
    """Every registered handle (in several spellings) and size/4 unknown ones, shuffled."""
    asked: list[Question] = []
    for i in range(size):
        handle = official_handle(i)
        spelled = handle.lower() if i % 4 == 1 else f"@{handle}" if i % 4 == 2 else handle
        asked.append(Question(verify_path(spelled, as_url=i % 10 == 3), official=True))
    for i in range(max(1, size // 4)):
        asked.append(Question(verify_path(f"MBUnknown{i}", as_url=i % 10 == 3), official=False))
    random.Random(20240611).shuffle(asked)
    return asked


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def get(port: int, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@contextmanager
def uvicorn_server(
    name: str, app: str, *, cwd: Path, env: dict[str, str], probe: str
) -> Iterator[Server]:
    """``python -m uvicorn APP`` with one worker; yielded once ``probe`` answers 200."""
    port = free_port()
    log = cwd / f"{name}.log"
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        *app.split(),
        "--workers",
        "1",
        "--host",
        HOST,
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT
        )
        server = Server(name=name, port=port, process=process, log=log)
        try:
            wait_until_ready(server, probe)
            yield server
        finally:
            stop(process)


def wait_until_ready(server: Server, probe: str) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    last = "no answer yet"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise BenchError(
                f"the {server.name} server exited with status {server.process.returncode} "
                f"before answering:\n{server.log_tail()}"
            )
        try:
            status, _ = get(server.port, probe, timeout=1.0)
        except OSError as exc:
            last = f"{type(exc).__name__}: {exc}"
        else:
            if status == 200:
                return
            last = f"status {status}"
        time.sleep(0.1)
    raise BenchError(
        f"the {server.name} server did not answer {probe} within {STARTUP_SECONDS:g} s "
        f"({last}):\n{server.log_tail()}"
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate, then kill if it will not go."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


# ------------------------------------------------------------------------------ checks


def check_answers(port: int, asked: Sequence[Question]) -> list[str]:
    """Problems with the answers to a sample of the questions (empty when all are right)."""
    step = max(1, len(asked) // CHECK_SAMPLE)
    sample = list(asked[::step][:CHECK_SAMPLE])
    sample += [
        Question(verify_path(official_handle(0), as_url=False), official=True),
        Question(verify_path("@" + official_handle(0).upper(), as_url=False), official=True),
        Question(verify_path(official_handle(0), as_url=True), official=True),
        Question(verify_path("MBNobodyAtAll", as_url=False), official=False),
    ]
    problems = []
    for question in sample:
        status, body = get(port, question.path)
        if status != 200:
            problems.append(f"{question.path}: status {status}")
            continue
        answer = json.loads(body)
        if answer.get("official") is not question.official:
            problems.append(f"{question.path}: official={answer.get('official')!r}")
        elif question.official and answer.get("department") != DEPARTMENT[1]:
            problems.append(f"{question.path}: department={answer.get('department')!r}")
        elif not question.official and answer.get("status") is not None:
            problems.append(f"{question.path}: status={answer.get('status')!r}")
    return problems


def check_bare(port: int) -> list[str]:
    status, body = get(port, BARE_PATH)
    if status != 200 or json.loads(body) != BARE_BODY:
        return [f"bare {BARE_PATH}: status {status}, body {body[:200]!r}"]
    return []


# ------------------------------------------------------------------------------ asyncio client


def _parse_head(head: bytes) -> tuple[int, int, bool]:
    """Status, Content-Length and whether the server closes, from a response head."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
        raise ValueError(f"not an HTTP/1.x status line: {lines[0]!r}")
    status = int(parts[1])
    length: int | None = None
    close = False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding" and value != "identity":
            raise ValueError(f"transfer-encoding {value!r} is not supported")
        elif name == "connection" and value == "close":
            close = True
    if length is None:
        raise ValueError("no Content-Length")
    return status, length, close


@dataclass
class _Tally:
    latencies: list[float] = field(default_factory=list)
    non_200: int = 0
    errors: list[str] = field(default_factory=list)


async def _one_connection(
    port: int, requests: Sequence[bytes], offset: int, deadline: float, tally: _Tally
) -> None:
    writer: asyncio.StreamWriter | None = None
    reader: asyncio.StreamReader | None = None
    sent = offset
    try:
        while time.perf_counter() < deadline:
            request = requests[sent % len(requests)]
            sent += 1
            async with asyncio.timeout(REQUEST_TIMEOUT):
                if writer is None or reader is None:
                    reader, writer = await asyncio.open_connection(HOST, port)
                start = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                status, length, close = _parse_head(head)
                await reader.readexactly(length)
                tally.latencies.append(time.perf_counter() - start)
            if status != 200:
                tally.non_200 += 1
            if close:
                writer.close()
                writer = reader = None
    except (OSError, TimeoutError, ValueError, asyncio.IncompleteReadError) as exc:
        tally.errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        if writer is not None:
            writer.close()


async def _asyncio_load(
    port: int, paths: Sequence[str], connections: int, seconds: float
) -> Measurement:
    requests = [f"GET {p} HTTP/1.1\r\nHost: {HOST}:{port}\r\n\r\n".encode() for p in paths]
    tally = _Tally()
    start = time.perf_counter()
    deadline = start + seconds
    stride = max(1, len(requests) // connections)
    await asyncio.gather(
        *(_one_connection(port, requests, n * stride, deadline, tally) for n in range(connections))
    )
    elapsed = time.perf_counter() - start
    ordered = sorted(tally.latencies)
    return Measurement(
        rps=len(ordered) / elapsed,
        p50_ms=percentile(ordered, 0.50) * 1000,
        p99_ms=percentile(ordered, 0.99) * 1000,
        responses=len(ordered),
        non_200=tally.non_200,
        errors=len(tally.errors),
        notes=sorted(set(tally.errors))[:5],
    )


def asyncio_load(port: int, paths: Sequence[str], connections: int, seconds: float) -> Measurement:
    return asyncio.run(_asyncio_load(port, paths, connections, seconds))


# ------------------------------------------------------------------------------ wrk

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_PERCENTILE = re.compile(r"^\s*(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.MULTILINE)
_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_COUNTS = re.compile(r"^bench-counts responses=(\d+) non200=(\d+)", re.MULTILINE)
_SOCKET_ERRORS = re.compile(
    r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", re.MULTILINE
)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")


def write_wrk_script(path: Path, paths: Sequence[str]) -> Path:
    listed = ",\n".join(f"  {json.dumps(p)}" for p in paths)
    path.write_text(WRK_SCRIPT.format(paths=listed))
    return path


def wrk_load(wrk: str, port: int, script: Path, connections: int, seconds: float) -> Measurement:
    command = [
        wrk,
        f"-t{min(2, connections)}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        f"--timeout={REQUEST_TIMEOUT:g}s",
        "--latency",
        "-s",
        str(script),
        f"http://{HOST}:{port}/",
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + REQUEST_TIMEOUT + 30
    )
    out = done.stdout
    rps = _RPS.search(out)
    latencies = {int(m[1]): float(m[2]) * _UNITS_MS[m[3]] for m in _PERCENTILE.finditer(out)}
    counts = _COUNTS.search(out)
    if done.returncode != 0 or rps is None or counts is None or set(latencies) != {50, 99}:
        raise BenchError(f"cannot read wrk's output (exit {done.returncode}):\n{out}{done.stderr}")
    socket_errors = _SOCKET_ERRORS.search(out)
    errors = sum(int(n) for n in socket_errors.groups()) if socket_errors else 0
    non_2xx = _NON_2XX.search(out)
    notes = [socket_errors[0]] if socket_errors else []
    if non_2xx:
        notes.append(non_2xx[0])
    return Measurement(
        rps=float(rps[1]),
        p50_ms=latencies[50],
        p99_ms=latencies[99],
        responses=int(counts[1]),
        non_200=int(counts[2]),
        errors=errors,
        notes=notes,
    )


# ------------------------------------------------------------------------------ report


def positive_seconds(value: str) -> float:
    number = float(value)
    if not number >= 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 second, not {value}")
    return number


def describe(label: str, m: Measurement) -> str:
    return (
        f"{label:7s} {m.rps:9,.0f} req/s  p50 {m.p50_ms:7.2f} ms  p99 {m.p99_ms:7.2f} ms  "
        f"({m.responses:,} responses, {m.non_200} non-200, {m.errors} errors)"
    )


def median_of(runs: Sequence[Measurement]) -> Measurement:
    return Measurement(
        rps=statistics.median(m.rps for m in runs),
        p50_ms=statistics.median(m.p50_ms for m in runs),
        p99_ms=statistics.median(m.p99_ms for m in runs),
        responses=sum(m.responses for m in runs),
        non_200=sum(m.non_200 for m in runs),
        errors=sum(m.errors for m in runs),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--accounts",
        type=positive,
        default=DEFAULT_ACCOUNTS,
        help=f"active accounts in the registry (default {DEFAULT_ACCOUNTS:,})",
    )
    parser.add_argument(
        "--seconds",
        type=positive_seconds,
        default=DEFAULT_SECONDS,
        help=f"seconds per endpoint per round (default {DEFAULT_SECONDS:g})",
    )
    parser.add_argument(
        "--connections",
        type=positive,
        default=DEFAULT_CONNECTIONS,
        help=f"keep-alive connections, the same for both servers (default {DEFAULT_CONNECTIONS})",
    )
    parser.add_argument(
        "--rounds",
        type=positive,
        default=DEFAULT_ROUNDS,
        help=f"alternating rounds, medians reported (default {DEFAULT_ROUNDS})",
    )
    parser.add_argument(
        "--generator",
        choices=("auto", "wrk", "asyncio"),
        default="auto",
        help="load generator: wrk when it is on the PATH (auto, the default), or the asyncio one",
    )
    args = parser.parse_args(argv)

    wrk = shutil.which("wrk")
    if args.generator == "wrk" and wrk is None:
        parser.error("--generator wrk: wrk is not on the PATH")
    use_wrk = wrk is not None and args.generator != "asyncio"
    generator = "wrk" if use_wrk else "asyncio"
    why = "" if args.generator != "auto" else " (found on PATH)" if use_wrk else " (no wrk)"

    problems: list[str] = []
    rounds: dict[str, list[Measurement]] = {"bare": [], "verify": []}
    with ExitStack() as stack:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="verify-bench-")))
        url = f"sqlite:///{directory / 'registry.db'}"
        keyring = directory / "registry.keyring"
        settings = Settings(database_url=url, keyring=str(keyring))
        vault.Keyring.create(keyring)
        started = time.perf_counter()
        build_registry(url, settings, args.accounts)
        print(
            f"registry: {args.accounts:,} active accounts in a fresh SQLite registry, built in "
            f"{time.perf_counter() - started:.1f} s"
        )
        asked = questions(args.accounts)
        paths = [q.path for q in asked]
        unknown = sum(not q.official for q in asked)
        (directory / "bare_app.py").write_text(BARE_MODULE.format(path=BARE_PATH, body=BARE_BODY))

        env = {
            **os.environ,
            "REGISTRY_DATABASE_URL": url,
            "REGISTRY_KEYRING": str(keyring),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        env.pop("REGISTRY_ACTOR", None)
        registry = stack.enter_context(
            uvicorn_server(
                "registry",
                "registry.http.app:create_app --factory",
                cwd=directory,
                env=env,
                probe=paths[0],
            )
        )
        bare = stack.enter_context(
            uvicorn_server("bare", "bare_app:app", cwd=directory, env=env, probe=BARE_PATH)
        )
        print(
            f"servers:  registry on {HOST}:{registry.port}, bare FastAPI on {HOST}:{bare.port} "
            "(uvicorn, 1 worker each, no access log)"
        )
        print(
            f"load:     {generator}{why}, {args.connections} keep-alive connections, "
            f"{args.rounds} x {args.seconds:g} s per endpoint, alternating; verify rotates "
            f"through {len(paths):,} questions ({unknown:,} unknown handles)"
        )

        problems += check_bare(bare.port) + check_answers(registry.port, asked)
        if problems:
            print("answers before the rounds: WRONG")
        else:
            print("answers before the rounds: ok")

        if use_wrk:
            assert wrk is not None
            verify_script = write_wrk_script(directory / "verify.lua", paths)
            bare_script = write_wrk_script(directory / "bare.lua", [BARE_PATH])

            def load(server: Server, seconds: float) -> Measurement:
                script = verify_script if server is registry else bare_script
                return wrk_load(wrk, server.port, script, args.connections, seconds)

        else:

            def load(server: Server, seconds: float) -> Measurement:
                chosen = paths if server is registry else [BARE_PATH]
                return asyncio_load(server.port, chosen, args.connections, seconds)

        warm_bad = 0
        for server in (bare, registry):
            warm = load(server, WARMUP_SECONDS)
            warm_bad += warm.non_200 + warm.errors
        print(f"warm-up:  {WARMUP_SECONDS:g} s each, {warm_bad} non-200 answers or errors")
        if warm_bad:
            problems.append(f"{warm_bad} non-200 answers or errors during the warm-up")

        for number in range(1, args.rounds + 1):
            for label, server in (("bare", bare), ("verify", registry)):
                measured = load(server, args.seconds)
                rounds[label].append(measured)
                print(f"round {number}/{args.rounds} {describe(label, measured)}")
                for note in measured.notes:
                    print(f"  {note}")
                if measured.non_200 or measured.errors:
                    problems.append(
                        f"{label} round {number}: {measured.non_200} non-200 answers, "
                        f"{measured.errors} errors"
                    )
                for name, running in (("registry", registry), ("bare", bare)):
                    if running.process.poll() is not None:
                        raise BenchError(
                            f"the {name} server died during the rounds:\n{running.log_tail()}"
                        )

        after = check_answers(registry.port, asked) + check_bare(bare.port)
        print(f"answers after the rounds: {'WRONG' if after else 'ok'}")
        problems += after

    verify_m, bare_m = median_of(rounds["verify"]), median_of(rounds["bare"])
    ratio = verify_m.rps / bare_m.rps if bare_m.rps else 0.0
    goal_met = ratio >= GOAL_RATIO
    print(f"results (median of {args.rounds} rounds, {generator}, {args.connections} connections):")
    print(f"  {describe('bare', bare_m)}")
    print(f"  {describe('verify', verify_m)}")
    verdict = "met" if goal_met else "NOT met"
    print(f"ratio:    verify / bare = {ratio:.3f} (goal >= {GOAL_RATIO:g}: {verdict})")
    for problem in problems:
        print(f"  check failed: {problem}")
    if problems:
        print("checks:   FAILED")
    else:
        print(
            "checks:   ok (sampled answers right before and after; every timed and warm-up "
            "request answered 200, no socket errors)"
        )
    summary = {
        "benchmark": "verify",
        "generator": generator,
        "connections": args.connections,
        "seconds": args.seconds,
        "verify_rps": round(verify_m.rps, 1),
        "bare_rps": round(bare_m.rps, 1),
        "ratio": round(ratio, 3),
        "goal_ratio": GOAL_RATIO,
        "goal_met": goal_met,
        "verify_p50_ms": round(verify_m.p50_ms, 2),
        "verify_p99_ms": round(verify_m.p99_ms, 2),
        "bare_p50_ms": round(bare_m.p50_ms, 2),
        "bare_p99_ms": round(bare_m.p99_ms, 2),
        "rounds": args.rounds,
        "accounts": args.accounts,
        "verified": not problems,
    }
    print(json.dumps(summary))
    return 1 if problems else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        print(json.dumps({"benchmark": "verify", "verified": False, "error": str(exc)[:500]}))
        sys.exit(2)
