"""Benchmark: storing and revealing a credential through the registry against raw AES-GCM.

Run from the repository root::

    .venv/bin/python bench/vault.py [--iterations N] [--rounds R] [--accounts A] [--profile]

One fresh SQLite registry in a temporary directory (migrations, a keyring, the test cast of
departments and people, A active accounts held by CED and AGR) serves three paths. The N
iterations of each path are split over R interleaved rounds (the order alternates each round
so machine noise hits all paths alike):

- **registry**: ``credentials.put`` then ``credentials.reveal`` of one account's password,
  acting as ``ced1``, a CED holder; the accounts are taken round-robin, so each ends with
  about N/A versions (older ones shredded as in real use).
- **baseline**: the minimum any encrypted store must do: ``vault.encrypt`` and INSERT the
  sealed string into a bare table (``bench_blob``, plain SQLAlchemy Core, same database file
  and engine), then SELECT it back and ``vault.decrypt`` it.
- **crypto only**: ``vault.encrypt`` + ``vault.decrypt`` with no database, for context.

Transactions: put and reveal are separate requests in real use, so both database paths use
**one transaction per operation**: the put (or encrypt+INSERT) is one, the reveal (or
SELECT+decrypt) another, each ``BEGIN IMMEDIATE`` ... ``COMMIT``. The registry path opens each
with ``session_scope`` and resolves the actor inside it with ``actor_by_email``, as the CLI
and API do per request; the baseline uses ``engine.begin()``.

One op is one put+reveal pair (or encrypt+decrypt). Each path's ops/s is the median over the
rounds; p50/p99 latencies are per iteration over all rounds. The goal is
``ratio = registry ops/s / baseline ops/s`` of at least 0.5. Outside the timing it checks the
last value each path read back against the last one it stored, and that there is exactly one
``credential.revealed`` audit event per reveal performed; it also counts the SQL statements
of a put and of a reveal (``before_cursor_execute``). ``--profile`` runs the registry path
once more under cProfile and prints the registry functions that take the time. The last line
printed is a JSON summary.
"""

from __future__ import annotations

# ruff: noqa: E402 -- the import path is fixed before the imports that depend on it
import sys
from pathlib import Path

# Run as ``bench/vault.py``, this file's folder comes first on the import path and this
# script would shadow the ``vault`` package; put the repository root there instead (it also
# makes ``tests.factories`` importable).
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
import cProfile
import io
import json
import pstats
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from _support import percentile, positive
from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    Table,
    Text,
    event,
    func,
    insert,
    select,
)

import vault
from registry import migrate
from registry.config import Settings
from registry.db import make_engine, session_scope
from registry.keys import session_info
from registry.models import AuditEvent, Credential
from registry.services import credentials
from registry.services.actors import actor_by_email
from tests.factories import CAST, World

GOAL_RATIO = 0.5
DEFAULT_ITERATIONS = 2_000
DEFAULT_ROUNDS = 3
DEFAULT_ACCOUNTS = 20  # taken round-robin: about 100 versions each by the end of a default run
WARMUP = 20  # untimed iterations of each path before the first round
ACTOR = "ced1"  # CED, and a holder of every bench account
KIND = "password"
REASON = "Benchmark: posting the flood update"
STATEMENT_SAMPLE = 20  # untimed put+reveal pairs whose SQL statements are counted

metadata = MetaData()
bench_blob = Table(
    "bench_blob",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("sealed", Text, nullable=False),
)


@dataclass
class Bench:
    """The fresh registry every path runs against, and what the runs did to it."""

    engine: Engine
    settings: Settings
    keyring: vault.Keyring
    account_ids: list[int]
    email: str
    info: dict[str, Any] = field(default_factory=dict)
    puts: int = 0
    reveals: int = 0
    blobs: int = 0
    last: dict[str, tuple[str, str]] = field(default_factory=dict)  # path -> (stored, read)

    def password(self) -> str:
        return f"Bench-pw-{self.puts + self.blobs:08d}!x"


@dataclass(frozen=True)
class RoundResult:
    ops_per_s: float
    latencies: list[float]  # seconds per iteration


def build_registry(directory: Path, accounts: int) -> Bench:
    """Migrate, create the keyring, the cast and a few active accounts; add ``bench_blob``."""
    url = f"sqlite:///{directory}/bench.db"
    settings = Settings(database_url=url, keyring=str(directory / "registry.keyring"))
    engine = make_engine(url)
    migrate.upgrade(engine)
    keyring = vault.Keyring.create(settings.keyring)
    with session_scope(engine, session_info(settings)) as session:
        world = World.build(session, settings)
        account_ids = [
            world.account(
                f"MBBench{i}", holders=(ACTOR, "agr_staff"), login_email=f"bench{i}@gov.mb.ca"
            ).id
            or 0
            for i in range(accounts)
        ]
    metadata.create_all(engine)
    return Bench(
        engine=engine,
        settings=settings,
        keyring=keyring,
        account_ids=account_ids,
        email=CAST[ACTOR][0],
        info=session_info(settings),
    )


# ------------------------------------------------------------------------------ the paths


def registry_put(bench: Bench, account_id: int, value: str) -> None:
    with session_scope(bench.engine, bench.info) as session:
        actor = actor_by_email(session, bench.settings, bench.email)
        credentials.put(
            session,
            keyring=bench.keyring,
            actor=actor,
            account_id=account_id,
            kind=KIND,
            value=vault.Secret(value),
        )
    bench.puts += 1


def registry_reveal(bench: Bench, account_id: int) -> vault.Secret[str]:
    with session_scope(bench.engine, bench.info) as session:
        actor = actor_by_email(session, bench.settings, bench.email)
        revealed = credentials.reveal(
            session,
            keyring=bench.keyring,
            actor=actor,
            account_id=account_id,
            kind=KIND,
            reason=REASON,
        )
    bench.reveals += 1
    return revealed.value


def run_registry(bench: Bench, iterations: int) -> RoundResult:
    latencies: list[float] = []
    accounts = bench.account_ids
    stored = revealed = None
    clock = time.perf_counter
    start = clock()
    for _ in range(iterations):
        account_id = accounts[bench.puts % len(accounts)]  # round-robin across rounds too
        stored = bench.password()
        began = clock()
        registry_put(bench, account_id, stored)
        revealed = registry_reveal(bench, account_id)
        latencies.append(clock() - began)
    elapsed = clock() - start
    if stored is not None and revealed is not None:
        bench.last["registry"] = (stored, revealed.reveal())
    return RoundResult(iterations / elapsed, latencies)


def blob_context(blob_id: int) -> dict[str, str | int]:
    return {"table": "bench_blob", "row": blob_id, "kind": KIND}


def run_baseline(bench: Bench, iterations: int) -> RoundResult:
    latencies: list[float] = []
    engine, keyring = bench.engine, bench.keyring
    stored = opened = None
    clock = time.perf_counter
    start = clock()
    for _ in range(iterations):
        stored = bench.password()
        blob_id = bench.blobs + 1
        began = clock()
        with engine.begin() as connection:
            sealed = vault.encrypt(keyring, stored.encode("utf-8"), context=blob_context(blob_id))
            connection.execute(insert(bench_blob), {"id": blob_id, "sealed": sealed.dumps()})
        with engine.begin() as connection:
            text = connection.execute(
                select(bench_blob.c.sealed).where(bench_blob.c.id == blob_id)
            ).scalar_one()
            opened = vault.decrypt(keyring, text, context=blob_context(blob_id)).decode("utf-8")
        latencies.append(clock() - began)
        bench.blobs = blob_id
    elapsed = clock() - start
    if stored is not None and opened is not None:
        bench.last["baseline"] = (stored, opened)
    return RoundResult(iterations / elapsed, latencies)


def run_crypto(bench: Bench, iterations: int) -> RoundResult:
    latencies: list[float] = []
    keyring = bench.keyring
    stored = f"Bench-pw-{0:08d}!x"
    opened = None
    clock = time.perf_counter
    start = clock()
    for i in range(iterations):
        context = blob_context(i)
        began = clock()
        sealed = vault.encrypt(keyring, stored.encode("utf-8"), context=context).dumps()
        opened = vault.decrypt(keyring, sealed, context=context).decode("utf-8")
        latencies.append(clock() - began)
    elapsed = clock() - start
    if opened is not None:
        bench.last["crypto"] = (stored, opened)
    return RoundResult(iterations / elapsed, latencies)


PATHS: dict[str, Callable[[Bench, int], RoundResult]] = {
    "registry": run_registry,
    "baseline": run_baseline,
    "crypto": run_crypto,
}


# ------------------------------------------------------------------------------ checks


def verify(bench: Bench) -> list[str]:
    """Problems with what the runs stored and audited (empty when all is well)."""
    problems = []
    for path in PATHS:
        if path not in bench.last:
            problems.append(f"{path}: nothing was revealed")
            continue
        stored, read = bench.last[path]
        if stored != read:
            problems.append(f"{path}: the last value read back differs from the last stored")
    with session_scope(bench.engine) as session:
        audited = session.execute(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "credential.revealed")
        ).scalar_one()
    if audited != bench.reveals:
        problems.append(
            f"{audited} credential.revealed audit events for {bench.reveals} reveals performed"
        )
    return problems


def most_versions(bench: Bench) -> int:
    """The most password versions any bench account has (shredded ones included)."""
    with session_scope(bench.engine) as session:
        return int(session.execute(select(func.max(Credential.version))).scalar_one() or 0)


@contextmanager
def counting_statements(engine: Engine) -> Iterator[Counter[str]]:
    """Count the statements the engine sends, keyed by their text (whitespace collapsed)."""
    seen: Counter[str] = Counter()

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen[" ".join(statement.split())] += 1

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def count_statements(bench: Bench) -> tuple[Counter[str], Counter[str]]:
    """Statements per put and per reveal, averaged over a few untimed pairs."""
    puts: Counter[str] = Counter()
    reveals: Counter[str] = Counter()
    for _ in range(STATEMENT_SAMPLE):
        account_id = bench.account_ids[bench.puts % len(bench.account_ids)]
        stored = bench.password()
        with counting_statements(bench.engine) as seen:
            registry_put(bench, account_id, stored)
        puts.update(seen)
        with counting_statements(bench.engine) as seen:
            revealed = registry_reveal(bench, account_id)
        reveals.update(seen)
        bench.last["registry"] = (stored, revealed.reveal())
    return puts, reveals


def print_statements(title: str, seen: Counter[str]) -> None:
    total = sum(seen.values()) / STATEMENT_SAMPLE
    print(f"  {title}: {total:g} statements")
    for statement, times in seen.most_common():
        shown = statement if len(statement) <= 110 else statement[:107] + "..."
        print(f"    {times / STATEMENT_SAMPLE:4g} x {shown}")


def profile_registry(bench: Bench, iterations: int) -> None:
    """The registry path under cProfile: the functions with the most cumulative time."""
    profiler = cProfile.Profile()
    profiler.enable()
    run_registry(bench, iterations)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    # Only the registry's own functions (and this script's): the service calls to blame.
    stats.sort_stats(pstats.SortKey.CUMULATIVE).print_stats(r"registry[/\\]|bench[/\\]", 30)
    print(f"cProfile of {iterations} registry iterations (cumulative time, registry code):")
    print(out.getvalue().rstrip())


# ------------------------------------------------------------------------------ report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--iterations",
        type=positive,
        default=DEFAULT_ITERATIONS,
        help=f"put+reveal pairs per path, split over the rounds (default {DEFAULT_ITERATIONS})",
    )
    parser.add_argument(
        "--rounds",
        type=positive,
        default=DEFAULT_ROUNDS,
        help=f"interleaved rounds; the median is reported (default {DEFAULT_ROUNDS})",
    )
    parser.add_argument(
        "--accounts",
        type=positive,
        default=DEFAULT_ACCOUNTS,
        help=f"accounts the registry path takes round-robin (default {DEFAULT_ACCOUNTS}); "
        "each ends with about iterations/accounts password versions",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also run the registry path under cProfile (untimed) and print the top calls",
    )
    args = parser.parse_args(argv)
    if args.iterations < args.rounds:
        parser.error(f"--iterations ({args.iterations}) must be at least --rounds ({args.rounds})")
    sizes = [
        args.iterations // args.rounds + (1 if n < args.iterations % args.rounds else 0)
        for n in range(args.rounds)
    ]

    results: dict[str, list[RoundResult]] = {path: [] for path in PATHS}
    with tempfile.TemporaryDirectory(prefix="registry-bench-") as directory:
        bench = build_registry(Path(directory), args.accounts)
        try:
            for run in PATHS.values():
                run(bench, WARMUP)
            order = list(PATHS)
            for number, size in enumerate(sizes, start=1):
                parts = []
                for path in order:
                    result = PATHS[path](bench, size)
                    results[path].append(result)
                    parts.append(f"{path} {result.ops_per_s:,.0f}")
                ratio = results["registry"][-1].ops_per_s / results["baseline"][-1].ops_per_s
                print(
                    f"round {number}/{args.rounds} ({size} iterations): {', '.join(parts)} ops/s; "
                    f"ratio {ratio:.3f}"
                )
                order.reverse()
            put_statements, reveal_statements = count_statements(bench)
            with counting_statements(bench.engine) as seen:
                run_baseline(bench, STATEMENT_SAMPLE)
            per_blob = sum(seen.values()) / STATEMENT_SAMPLE
            if args.profile:
                profile_registry(bench, min(args.iterations, 500))
            problems = verify(bench)
            versions = most_versions(bench)
        finally:
            bench.engine.dispose()

    rates = {path: statistics.median(r.ops_per_s for r in rs) for path, rs in results.items()}
    latency = {
        path: [seconds * 1000 for r in rs for seconds in r.latencies]
        for path, rs in results.items()
    }
    p50 = {path: percentile(ms, 0.50) for path, ms in latency.items()}
    p99 = {path: percentile(ms, 0.99) for path, ms in latency.items()}
    ratio = rates["registry"] / rates["baseline"]
    goal_met = ratio >= GOAL_RATIO
    per_put = sum(put_statements.values()) / STATEMENT_SAMPLE
    per_reveal = sum(reveal_statements.values()) / STATEMENT_SAMPLE

    label = f"median of {args.rounds} rounds" if args.rounds > 1 else "1 round"
    print(f"iterations:   {args.iterations} per path ({label}; 1 op = put+reveal)")
    print(f"accounts:     {args.accounts} round-robin, up to {versions} password versions each")
    print(
        f"registry:     {rates['registry']:,.1f} ops/s  "
        f"p50 {p50['registry']:.3f} ms  p99 {p99['registry']:.3f} ms"
    )
    print(
        f"baseline:     {rates['baseline']:,.1f} ops/s  "
        f"p50 {p50['baseline']:.3f} ms  p99 {p99['baseline']:.3f} ms"
    )
    print(f"crypto only:  {rates['crypto']:,.1f} ops/s  p50 {p50['crypto']:.3f} ms")
    print(f"ratio:        {ratio:.3f} (registry / baseline)")
    print(f"goal:         ratio at least {GOAL_RATIO:g}: {'met' if goal_met else 'NOT met'}")
    print(
        f"statements:   registry {per_put:g} per put + {per_reveal:g} per reveal; baseline "
        f"{per_blob:g} per pair (BEGIN counted; COMMIT is a DBAPI call, not a statement)"
    )
    if not goal_met:
        print_statements("put", put_statements)
        print_statements("reveal", reveal_statements)
    if problems:
        for problem in problems:
            print(f"  verification failed: {problem}")
        print("verification: FAILED")
    else:
        print(
            f"verification: ok (last values read back match; {bench.reveals} reveals, "
            f"{bench.reveals} credential.revealed events)"
        )
    summary = {
        "benchmark": "vault",
        "iterations": args.iterations,
        "rounds": args.rounds,
        "accounts": args.accounts,
        "max_versions_per_account": versions,
        "registry_ops_per_s": round(rates["registry"], 1),
        "baseline_ops_per_s": round(rates["baseline"], 1),
        "crypto_only_ops_per_s": round(rates["crypto"], 1),
        "ratio": round(ratio, 3),
        "goal_ratio": GOAL_RATIO,
        "goal_met": goal_met,
        "registry_p50_ms": round(p50["registry"], 3),
        "registry_p99_ms": round(p99["registry"], 3),
        "baseline_p50_ms": round(p50["baseline"], 3),
        "baseline_p99_ms": round(p99["baseline"], 3),
        "statements_per_put": per_put,
        "statements_per_reveal": per_reveal,
        "baseline_statements_per_op": per_blob,
        "verified": not problems,
    }
    print(json.dumps(summary))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
