"""Benchmark: one leaver's handover of N accounts, its wall time and its SQL statement count.

Run from the repository root::

    .venv/bin/python bench/handover.py [--sizes 100,1000] [--repeat K] [--show-statements]

For each size N, a fresh registry (migrations, a keyring, the test cast of departments and
people from ``tests/factories.py``) gets N active accounts held by ``agr_staff`` (the leaver)
and ``ced1`` (CED, so rule 3 still holds afterwards), inserted in one bulk call; a password
stored for every account; a few of them revealed by the leaver (so the handover's audit-log
lookup has rows); and a couple of open requests filed by the leaver. Every tenth account uses
the leaver's address as its login e-mail, so the login-e-mail flags have work too.

Timed: only the handover transaction, from opening ``session_scope`` (resolving the admin
who runs it) through the commit, handing everything to ``agr_requester``. During exactly that
window a ``before_cursor_execute`` hook counts the SQL statements sent: an ``executemany``
call counts once (and is also reported separately); SQLite's ``BEGIN IMMEDIATE`` counts, the
COMMIT (a DBAPI call, not a statement) does not. Afterwards, untimed, one session checks that
the leaver holds nothing, the successor holds all N accounts, the leaver is ``left``, every
password is due for rotation and the open requests moved.

It runs on SQLite (a temporary file) and, when ``REGISTRY_TEST_DATABASE_URL`` starts with
``postgresql``, on PostgreSQL too, in a fresh schema per run that is dropped afterwards. The
goals: under 1 s for 1,000 accounts, and no more statements for the largest size than for the
smallest (the handover works in bulk). If the count grows, the statements are listed grouped
by text, with how often each ran per size. The last line printed is a JSON summary.
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
import json
import re
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from _support import PG_ENV, fresh_database, pg_url, positive
from sqlalchemy import Engine, event, func
from sqlmodel import col, select

import vault
from registry import migrate
from registry.config import Settings
from registry.db import make_engine, session_scope
from registry.keys import session_info
from registry.models import (
    OPEN_STATES,
    AccessGrant,
    AccountRequest,
    Credential,
    HandoverReport,
    Person,
    PersonStatus,
)
from registry.services import accounts, credentials, requests
from registry.services.actors import actor_by_email
from registry.services.handover import handover
from tests.factories import CAST, World

GOAL_SECONDS = 1.0
GOAL_ACCOUNTS = 1_000  # the time goal applies to this size
DEFAULT_SIZES = "100,1000"

RUNNER = "admin"  # admin and CED; runs the handover
LEAVER = "agr_staff"
SUCCESSOR = "agr_requester"
CO_HOLDER = "ced1"  # CED holder of every account; also stores the passwords
REVEALS = 5  # passwords the leaver reveals before leaving
OPEN_REQUESTS = 2  # open requests the leaver filed
LOGIN_EVERY = 10  # every tenth account logs in with the leaver's address
KIND = "password"

# An expanded ``IN (?, ?, ...)`` list (SQLite ``?``, psycopg ``%(name)s::TYPE``) is one
# statement whatever its length; it is grouped as ``IN (...)``.
_PLACEHOLDER = r"(?:\?|%\(\w+\)s(?:::\w+(?: \w+)*)?)"
_IN_LIST = re.compile(rf"IN \({_PLACEHOLDER}(?:, {_PLACEHOLDER})*\)")


@dataclass
class Statements:
    """What the engine sent during the timed window, keyed by statement text."""

    texts: Counter[str] = field(default_factory=Counter)
    executemany: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.texts.values())

    @property
    def executemany_calls(self) -> int:
        return sum(self.executemany.values())


@dataclass(frozen=True)
class Scenario:
    """What the set-up made, for the verification afterwards."""

    account_ids: list[int]
    passwords: int
    request_ids: list[int]
    login_flags: int


@dataclass(frozen=True)
class RunResult:
    seconds: float
    statements: Statements
    problems: list[str]


@dataclass
class SizeResult:
    backend: str
    accounts: int
    timings: list[float] = field(default_factory=list)
    statements: Statements | None = None
    statement_totals: set[int] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return statistics.median(self.timings)


# ------------------------------------------------------------------------------ databases


# ------------------------------------------------------------------------------ set-up


def build_registry(
    engine: Engine, settings: Settings, keyring: vault.Keyring, size: int
) -> Scenario:
    """Migrate; add the cast, ``size`` accounts with passwords, reveals and open requests."""
    migrate.upgrade(engine)
    leaver_email = CAST[LEAVER][0]
    with session_scope(engine, session_info(settings)) as session:
        world = World.build(session, settings)
        by_code = accounts.all_departments(session)
        holders = [world.people[CO_HOLDER], world.people[LEAVER]]
        entries = [
            (
                accounts.validate_draft(
                    settings=settings,
                    departments_by_code=by_code,
                    platform="facebook",
                    handle=f"MBHandover{i}",
                    url=f"https://www.facebook.com/MBHandover{i}",
                    category="official",
                    department="AGR",
                    program_area="",
                    purpose="Program news",
                    login_email=leaver_email if i % LOGIN_EVERY == 0 else f"agr{i}@gov.mb.ca",
                ),
                holders,
            )
            for i in range(size)
        ]
        account_ids = accounts.insert_active_accounts(
            session,
            settings=settings,
            actor=world.actor(RUNNER),
            entries=entries,
            action="account.created",
        )
        custodian = world.actor(CO_HOLDER)
        for number, account_id in enumerate(account_ids):
            credentials.put(
                session,
                keyring=keyring,
                actor=custodian,
                account_id=account_id,
                kind=KIND,
                value=vault.Secret(f"Bench-pw-{number:06d}!x"),
            )
    with session_scope(engine, session_info(settings)) as session:
        leaver = actor_by_email(session, settings, leaver_email)
        for account_id in account_ids[:REVEALS]:
            credentials.reveal(
                session,
                keyring=keyring,
                actor=leaver,
                account_id=account_id,
                kind=KIND,
                reason="bench",
            )
        request_ids = [
            requests.submit_new_account(
                session,
                settings=settings,
                actor=leaver,
                platform="facebook",
                handle=f"MBHandoverRequest{i}",
                url=f"https://www.facebook.com/MBHandoverRequest{i}",
                category="official",
                department="AGR",
                purpose="A new program page",
                login_email=f"agr.request{i}@gov.mb.ca",
                # an AGR requester names AGR holders; CED adds its own when it approves
                holders=[CAST[SUCCESSOR][0]],
            ).id
            or 0
            for i in range(OPEN_REQUESTS)
        ]
    return Scenario(
        account_ids=account_ids,
        passwords=len(account_ids),
        request_ids=request_ids,
        login_flags=len(range(0, size, LOGIN_EVERY)),
    )


# ------------------------------------------------------------------------------ the timing


@contextmanager
def counting_statements(engine: Engine) -> Iterator[Statements]:
    """Count every statement the engine sends; an executemany call counts once."""
    seen = Statements()

    def count(
        _conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, many: bool
    ) -> None:
        key = _IN_LIST.sub("IN (...)", " ".join(statement.split()))
        seen.texts[key] += 1
        if many:
            seen.executemany[key] += 1

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def time_handover(engine: Engine, settings: Settings) -> tuple[float, Statements, HandoverReport]:
    """The handover transaction, from opening the session through the commit; only this."""
    with counting_statements(engine) as seen:
        start = time.perf_counter()
        with session_scope(engine, session_info(settings)) as session:
            actor = actor_by_email(session, settings, CAST[RUNNER][0])
            report = handover(
                session,
                settings=settings,
                actor=actor,
                departing=CAST[LEAVER][0],
                successor=CAST[SUCCESSOR][0],
            )
        seconds = time.perf_counter() - start
    return seconds, seen, report


def verify(engine: Engine, scenario: Scenario, report: HandoverReport) -> list[str]:
    """Problems with the state after the handover (empty when all is well)."""
    size = len(scenario.account_ids)
    live = col(AccessGrant.revoked_at).is_(None)
    problems = []
    with session_scope(engine) as session:
        leaver = session.exec(select(Person).where(Person.email == CAST[LEAVER][0])).one()
        successor = session.exec(select(Person).where(Person.email == CAST[SUCCESSOR][0])).one()
        leaver_holds = session.exec(
            select(func.count())
            .select_from(AccessGrant)
            .where(AccessGrant.person_id == leaver.id, live)
        ).one()
        successor_holds = session.exec(
            select(func.count(func.distinct(AccessGrant.account_id))).where(
                AccessGrant.person_id == successor.id,
                live,
                col(AccessGrant.account_id).in_(scenario.account_ids),
            )
        ).one()
        due = session.exec(
            select(func.count())
            .select_from(Credential)
            .where(col(Credential.rotation_due_at).is_not(None))
        ).one()
        still_leavers = session.exec(
            select(func.count())
            .select_from(AccountRequest)
            .where(
                AccountRequest.requester_id == leaver.id,
                col(AccountRequest.state).in_(OPEN_STATES),
            )
        ).one()
        moved = session.exec(
            select(func.count())
            .select_from(AccountRequest)
            .where(
                AccountRequest.requester_id == successor.id,
                col(AccountRequest.id).in_(scenario.request_ids),
            )
        ).one()
        status = leaver.status
    if leaver_holds:
        problems.append(f"the leaver still holds {leaver_holds} accounts")
    if successor_holds != size:
        problems.append(f"the successor holds {successor_holds} of the {size} accounts")
    if status != PersonStatus.left:
        problems.append(f"the leaver's status is {status!r}, not 'left'")
    if due != scenario.passwords:
        problems.append(f"{due} of {scenario.passwords} passwords are marked due for rotation")
    if still_leavers or moved != len(scenario.request_ids):
        problems.append(
            f"{moved} of {len(scenario.request_ids)} open requests moved to the successor, "
            f"{still_leavers} still the leaver's"
        )
    if len(report.accounts) != size:
        problems.append(f"the report names {len(report.accounts)} accounts, not {size}")
    if len(report.login_email_flags) != scenario.login_flags:
        problems.append(
            f"the report flags {len(report.login_email_flags)} login e-mails, "
            f"not {scenario.login_flags}"
        )
    return problems


def run_once(backend: str, size: int) -> RunResult:
    """One fresh registry: build it, time the handover, verify it."""
    with (
        tempfile.TemporaryDirectory(prefix="registry-bench-") as directory,
        fresh_database(backend, Path(directory)) as url,
    ):
        settings = Settings(database_url=url, keyring=str(Path(directory) / "registry.keyring"))
        keyring = vault.Keyring.create(settings.keyring)
        engine = make_engine(url)
        try:
            scenario = build_registry(engine, settings, keyring, size)
            seconds, seen, report = time_handover(engine, settings)
            problems = verify(engine, scenario, report)
        finally:
            engine.dispose()
    return RunResult(seconds=seconds, statements=seen, problems=problems)


# ------------------------------------------------------------------------------ report


def print_statement_growth(small: SizeResult, large: SizeResult) -> None:
    """Every statement text, with how often it ran at each size; the growing ones first."""
    assert small.statements is not None and large.statements is not None
    few, many = small.statements.texts, large.statements.texts
    rows = sorted(set(few) | set(many), key=lambda s: (-(many[s] - few[s]), -many[s], s))
    print(
        f"  {large.backend} statements by text ({small.accounts} vs {large.accounts} accounts; "
        "grouped, expanded IN lists as IN (...)):"
    )
    for statement in rows:
        shown = statement if len(statement) <= 110 else statement[:107] + "..."
        grew = " GROWS" if many[statement] > few[statement] else ""
        calls = large.statements.executemany[statement]
        mark = f" [{calls} executemany]" if calls else ""
        print(f"    {few[statement]:5d} {many[statement]:5d}{grew}{mark}  {shown}")


def sizes_argument(value: str) -> list[int]:
    try:
        sizes = [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers, not {value!r}"
        ) from None
    if not sizes or any(size < 1 for size in sizes):
        raise argparse.ArgumentTypeError("every size must be at least 1")
    return sorted(set(sizes))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        type=sizes_argument,
        default=sizes_argument(DEFAULT_SIZES),
        help=f"comma-separated numbers of accounts the leaver holds (default {DEFAULT_SIZES})",
    )
    parser.add_argument(
        "--repeat",
        type=positive,
        default=1,
        help="fresh registries to time per backend and size (median reported)",
    )
    parser.add_argument(
        "--show-statements",
        action="store_true",
        help="list the statements by text even when their count does not grow",
    )
    args = parser.parse_args(argv)

    backends = ["sqlite"] + (["postgresql"] if pg_url() else [])
    if len(backends) == 1:
        print(f"backends: sqlite only ({PG_ENV} does not name a PostgreSQL database)")
    results: list[SizeResult] = []
    for backend in backends:
        for size in args.sizes:
            result = SizeResult(backend=backend, accounts=size)
            for run in range(1, args.repeat + 1):
                once = run_once(backend, size)
                result.timings.append(once.seconds)
                result.statement_totals.add(once.statements.total)
                result.statements = result.statements or once.statements
                result.problems.extend(once.problems)
                print(
                    f"{backend:10s} {size:6d} accounts, run {run}/{args.repeat}: "
                    f"{once.seconds:.3f} s, {once.statements.total} statements "
                    f"({once.statements.executemany_calls} executemany)"
                )
                for problem in once.problems:
                    print(f"  verification failed: {problem}")
            results.append(result)

    print("results (median seconds; statements in the handover transaction):")
    for r in results:
        assert r.statements is not None
        varied = "" if len(r.statement_totals) == 1 else f" (varied: {sorted(r.statement_totals)})"
        print(
            f"  {r.backend:10s} {r.accounts:6d} accounts: {r.seconds:7.3f} s  "
            f"{r.statements.total:4d} statements{varied}, of them "
            f"{r.statements.executemany_calls} executemany"
        )

    timed = [r for r in results if r.accounts == GOAL_ACCOUNTS]
    time_goal_met = all(r.seconds < GOAL_SECONDS for r in timed) if timed else None
    if time_goal_met is None:
        print(f"goal:     under {GOAL_SECONDS:g} s for {GOAL_ACCOUNTS:,} accounts: not measured")
    else:
        verdict = "met" if time_goal_met else "NOT met"
        print(f"goal:     under {GOAL_SECONDS:g} s for {GOAL_ACCOUNTS:,} accounts: {verdict}")

    statements_constant: bool | None = None
    if len(args.sizes) > 1:
        statements_constant = True
        for backend in backends:
            mine = [r for r in results if r.backend == backend]
            small, large = mine[0], mine[-1]
            assert small.statements is not None and large.statements is not None
            holds = max(large.statement_totals) <= min(small.statement_totals)
            statements_constant = statements_constant and holds
            verdict = "met" if holds else "NOT met"
            print(
                f"goal:     {backend} statements for {large.accounts:,} accounts "
                f"({large.statements.total}) not more than for {small.accounts:,} "
                f"({small.statements.total}): {verdict}"
            )
            if not holds or args.show_statements:
                print_statement_growth(small, large)
    else:
        print("goal:     statement count against size: not measured (one size)")

    failed = any(r.problems for r in results)
    if failed:
        print("verification: FAILED")
    else:
        print(
            "verification: ok (leaver holds nothing and is 'left', successor holds every "
            "account, passwords due for rotation, open requests moved)"
        )
    summary = {
        "benchmark": "handover",
        "results": [
            {
                "backend": r.backend,
                "accounts": r.accounts,
                "seconds": round(r.seconds, 3),
                "statements": r.statements.total if r.statements else None,
                "executemany": r.statements.executemany_calls if r.statements else None,
            }
            for r in results
        ],
        "repeat": args.repeat,
        "goal_seconds": GOAL_SECONDS,
        "time_goal_met": time_goal_met,
        "statements_constant": statements_constant,
        "verified": not failed,
    }
    print(json.dumps(summary))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
