"""Benchmark: importing CED's list of accounts into a fresh SQLite registry.

Run from the repository root::

    .venv/bin/python bench/import_accounts.py [--rows N] [--repeat K]

Each run builds a fresh registry in a temporary directory (migrations, ``init``, the AGR
department and a few people), writes an N-row CSV there, then times only the import: reading
the CSV bytes, ``import_accounts`` and the commit. Afterwards one aggregate query checks that
N accounts exist and each has its two holders, one of them from CED. With ``--repeat K`` it
does this K times and reports the median. The last line printed is a JSON summary.
"""

from __future__ import annotations

# ruff: noqa: E402 -- the import path is fixed before the imports that depend on it
import sys
from pathlib import Path

# Run as ``bench/import_accounts.py``, this folder comes first on the import path, where
# ``bench/vault.py`` would shadow the ``vault`` package; put the repository root there instead.
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
import csv
import io
import json
import statistics
import tempfile
import time
from dataclasses import dataclass

from _support import positive
from sqlalchemy import Engine, case, func
from sqlmodel import col, select

from registry import migrate
from registry.config import Settings
from registry.db import make_engine, session_scope
from registry.models import AccessGrant, Account, Department, Person, Role
from registry.services import accounts, departments, people, setup
from registry.services.actors import actor_by_email

GOAL_SECONDS = 5.0
DEFAULT_ROWS = 10_000
ADMIN_EMAIL = "admin@gov.mb.ca"
DEPARTMENT = "AGR"

CED_STAFF = ("ced.one@gov.mb.ca", "ced.two@gov.mb.ca")
AGR_STAFF = ("agr.one@gov.mb.ca", "agr.two@gov.mb.ca", "agr.three@agr.gov.mb.ca")

# platform -> profile URL prefix; every handle below (mbgov<i>, at most 15 characters for
# i < 10**10) satisfies each of these platforms' handle patterns, X's 15-character limit too.
PLATFORMS = {
    "facebook": "https://www.facebook.com/",
    "instagram": "https://www.instagram.com/",
    "x": "https://x.com/",
    "tiktok": "https://www.tiktok.com/@",
    "linkedin": "https://www.linkedin.com/company/",
}
CATEGORIES = ("official", "employment_related")


@dataclass(frozen=True)
class RunResult:
    seconds: float
    imported: int


def build_registry(engine: Engine, settings: Settings) -> None:
    """Migrate, initialise and add the people the CSV names, the way ``registry init`` does."""
    migrate.upgrade(engine)
    with session_scope(engine) as session:
        setup.initialise(
            session, settings=settings, admin_email=ADMIN_EMAIL, admin_name="Bench Admin"
        )
        departments.add_department(session, actor=None, code=DEPARTMENT, name="Agriculture")
        staff = [(email, "CED", (Role.ced,)) for email in CED_STAFF]
        staff += [(email, DEPARTMENT, (Role.requester,)) for email in AGR_STAFF]
        for number, (email, department, roles) in enumerate(staff, start=1):
            people.add_person(
                session,
                settings=settings,
                actor=None,
                email=email,
                name=f"Bench Person {number}",
                department=department,
                roles=roles,
            )


def make_csv(rows: int) -> bytes:
    """``rows`` valid, distinct accounts spread over the platforms, two holders each."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(accounts.IMPORT_COLUMNS)
    platforms = list(PLATFORMS.items())
    for i in range(rows):
        platform, url_prefix = platforms[i % len(platforms)]
        handle = f"mbgov{i}"
        holders = f"{CED_STAFF[i % len(CED_STAFF)]};{AGR_STAFF[i % len(AGR_STAFF)]}"
        writer.writerow(
            [
                platform,
                handle,
                f"{url_prefix}{handle}",
                CATEGORIES[i % len(CATEGORIES)],
                DEPARTMENT,
                f"social{i}@gov.mb.ca",
                f"Agriculture program news and updates, channel {i}.",
                holders,
            ]
        )
    return buffer.getvalue().encode("utf-8")


def time_import(engine: Engine, settings: Settings, csv_path: Path) -> RunResult:
    """Read the file, import it and commit; only this is timed."""
    start = time.perf_counter()
    data = csv_path.read_bytes()
    with session_scope(engine) as session:
        actor = actor_by_email(session, settings, ADMIN_EMAIL)
        result = accounts.import_accounts(session, settings=settings, actor=actor, data=data)
    seconds = time.perf_counter() - start
    return RunResult(seconds=seconds, imported=result.count)


def verify(engine: Engine, settings: Settings, rows: int) -> list[str]:
    """Problems with what was imported (empty when all is well), from one aggregate query."""
    live = col(AccessGrant.revoked_at).is_(None)
    per_account = (
        select(
            col(Account.id).label("account_id"),
            func.count(col(AccessGrant.id)).label("holders"),
            func.count(case((col(Department.code) == settings.ced_department, 1))).label("ced"),
        )
        .select_from(Account)
        .outerjoin(AccessGrant, (col(AccessGrant.account_id) == Account.id) & live)
        .outerjoin(Person, col(Person.id) == AccessGrant.person_id)
        .outerjoin(Department, col(Department.id) == Person.department_id)
        .group_by(col(Account.id))
        .subquery()
    )
    query = select(
        func.count(),
        func.coalesce(func.sum(case((per_account.c.holders == 2, 1), else_=0)), 0),
        func.coalesce(func.sum(case((per_account.c.ced == 1, 1), else_=0)), 0),
    ).select_from(per_account)
    with session_scope(engine) as session:
        total, with_two, with_ced = session.exec(query).one()
    problems = []
    if total != rows:
        problems.append(f"expected {rows} accounts, found {total}")
    if with_two != total:
        problems.append(f"{total - with_two} of {total} accounts do not have exactly 2 holders")
    if with_ced != total:
        problems.append(f"{total - with_ced} of {total} accounts do not have one CED holder")
    return problems


def run_once(rows: int, data: bytes) -> tuple[RunResult, list[str]]:
    """One fresh registry: build it, time the import, verify it."""
    with tempfile.TemporaryDirectory(prefix="registry-bench-") as directory:
        url = f"sqlite:///{directory}/bench.db"
        settings = Settings(database_url=url)
        engine = make_engine(url)
        try:
            build_registry(engine, settings)
            csv_path = Path(directory) / "accounts.csv"
            csv_path.write_bytes(data)
            result = time_import(engine, settings, csv_path)
            problems = verify(engine, settings, rows)
            if result.imported != rows:
                problems.append(f"import_accounts reported {result.imported} accounts")
        finally:
            engine.dispose()
    return result, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows",
        type=positive,
        default=DEFAULT_ROWS,
        help=f"accounts in the CSV (default {DEFAULT_ROWS}; the import accepts up to "
        f"{accounts.MAX_IMPORT_ROWS})",
    )
    parser.add_argument(
        "--repeat", type=positive, default=1, help="fresh registries to time (median reported)"
    )
    args = parser.parse_args(argv)

    data = make_csv(args.rows)
    timings: list[float] = []
    failed = False
    for run in range(1, args.repeat + 1):
        result, problems = run_once(args.rows, data)
        timings.append(result.seconds)
        rate = args.rows / result.seconds
        print(f"run {run}/{args.repeat}: {result.seconds:.3f} s ({rate:,.0f} rows/s)")
        for problem in problems:
            print(f"  verification failed: {problem}")
        failed = failed or bool(problems)

    seconds = statistics.median(timings)
    rate = args.rows / seconds
    goal_met = seconds < GOAL_SECONDS
    label = f"median of {args.repeat} runs" if args.repeat > 1 else "1 run"
    print(f"rows:     {args.rows}")
    print(f"seconds:  {seconds:.3f} ({label})")
    print(f"rows/s:   {rate:,.1f}")
    print(f"goal:     under {GOAL_SECONDS:g} s for the import: {'met' if goal_met else 'NOT met'}")
    if failed:
        print("verification: FAILED")
    else:
        print("verification: ok (every account present with 2 holders, one from CED)")
    summary = {
        "benchmark": "import_accounts",
        "rows": args.rows,
        "repeat": args.repeat,
        "seconds": round(seconds, 3),
        "rows_per_second": round(rate, 1),
        "goal_seconds": GOAL_SECONDS,
        "goal_met": goal_met,
        "verified": not failed,
    }
    print(json.dumps(summary))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
