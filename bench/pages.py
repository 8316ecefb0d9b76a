"""Benchmark: the first page of every list, over HTTP, against reading one account.

Run from the repository root::

    .venv/bin/python bench/pages.py [--accounts N] [--runs K]
                                    [--backend all|sqlite|postgresql] [--database-url URL]

Each backend gets a fresh registry, generated with bulk inserts (no services): bench/
compliance.py's registry (departments, a few thousand people, N active accounts with 3 access
grants each, credentials, N/100 requests, N/100 decommissioned accounts) with one department,
AGR, holding one account in 50 (2,000 of 100,000: the requester's view) and the others spread
over the other 19; then 10N audit events (seq in time order; their ``hash`` and ``prev_hash``
are placeholders, not a verifiable chain: no measured page verifies it, and the audit head
says all is sealed, so no request seals a million events), an API token for each active person,
a handover record for each person who left, and a dedicated administrator. On PostgreSQL the
tables are ANALYZEd after loading. Generation is timed and printed, not measured.

Then the registry's application is served by uvicorn in a thread of this process, on a free
127.0.0.1 port, and read over real HTTP (httpx, one keep-alive connection): API pages with a
bearer token, console pages with the session cookie of a sign-in through ``POST /login`` with an
API token. The viewers: CED staff (sees everything), an AGR requester (their department's 2,000
accounts), the auditor (where a requester is refused: the audit log, handovers), an
administrator outside CED (the people pages), and nobody (the public directory). Each page of
:data:`PAGES` is asked once untimed (templates compiled, caches warm), then ``--runs`` times,
the pages taken in turn in each run; the median is reported. The baseline is ``GET
/accounts/{id}`` for one AGR account, as CED.

For every page and viewer it prints the median ms, the bytes of the body and the ratio to the
baseline. A page answering 404 is "missing" (not built yet) and skipped; 401/403 is "refused"
(the viewer may not see it) and skipped; any other answer but 200 (a redirect, a 422, a 5xx)
is "unexpected", listed, and not measured. The goal: every first page within 10x the baseline
and at most 200 KB, and no unexpected answer (printed as met or not). The last line printed is
a JSON summary with ``worst_ratio``, ``worst_page``, ``largest_bytes``, ``largest_page``,
``goal_met`` and the figures. The exit status is 0 unless a page answered 5xx (1, the page
named) or the benchmark could not run (2).

By default it runs on SQLite (a temporary file) and, when ``REGISTRY_TEST_DATABASE_URL`` names
PostgreSQL, on PostgreSQL too; ``--database-url`` names another PostgreSQL database. Either
way the PostgreSQL registry is a new schema, dropped afterwards.
"""

from __future__ import annotations

# ruff: noqa: E402 -- the import path is fixed before the imports that depend on it
import sys
from pathlib import Path

# As in bench/compliance.py: the repository root first (so ``vault`` is the package, not
# bench/vault.py), this folder last (for bench/_support.py and bench/compliance.py).
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:] = [
    str(ROOT),
    *(entry for entry in sys.path if Path(entry or ".").resolve() not in (HERE, ROOT)),
    str(HERE),
]

import argparse
import datetime as dt
import hashlib
import json
import logging
import random
import re
import signal
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from _support import PG_ENV, BenchError, fresh_database, pg_url, positive
from compliance import (
    AUDITOR_EMAIL,
    CED,
    DEPARTMENTS,
    DOMAIN,
    MIN_ACCOUNTS,
    build_registry,
    insert_rows,
)
from fastapi import FastAPI
from sqlalchemy import Connection, Engine, select, text, update
from sqlmodel import col

from registry.config import Settings
from registry.db import make_engine, session_scope
from registry.http.app import create_app
from registry.http.console.deps import COOKIE
from registry.keys import ensure_keyring, session_info
from registry.models import (
    AccessGrant,
    Account,
    AuditHead,
    Department,
    Person,
    PersonRole,
    PersonStatus,
    Role,
    utcnow,
)
from registry.services import tokens

DEFAULT_ACCOUNTS = 100_000
DEFAULT_RUNS = 5
GRANTS_PER_ACCOUNT = 3  # bench/compliance.py's
EVENTS_PER_ACCOUNT = 10
FOCUS = "AGR"  # the requester's department
FOCUS_EVERY = 50  # one account in 50 is AGR's: 2,000 of 100,000
GOAL_RATIO = 10.0
GOAL_BYTES = 200_000
HOST = "127.0.0.1"
REQUEST_TIMEOUT = 300.0  # seconds; a page slower than this is a finding, not a hang
START_TIMEOUT = 20.0  # for the server thread to listen, and to stop
ADMIN_EMAIL = "ada.admin@gov.mb.ca"  # added here, outside CED: the admin role alone
ADMIN_DEPARTMENT = "PSC"
ACCOUNT = "{account}"  # in a path: the baseline account's id

# The viewers, by name (their e-mails: see viewers()).
CED_STAFF, REQUESTER, AUDITOR, ADMIN, PUBLIC = "ced", "requester", "auditor", "admin", "public"


@dataclass(frozen=True)
class Target:
    """One page to read: an API page (bearer token), a console page (session cookie) or a
    public one (no credentials), and the viewers it is read as."""

    kind: str  # "api" | "console" | "public"
    path: str
    who: tuple[str, ...]

    def label(self, account_id: int) -> str:
        return f"GET {self.path.replace(ACCOUNT, str(account_id))}"


BASELINE = Target("api", f"/accounts/{ACCOUNT}", (CED_STAFF,))

# Every list, its first page with the default limit. The console list pages being built now
# answer 404 until they land ("missing"), and are measured from then on.
PAGES: tuple[Target, ...] = (
    # the JSON API (registry/http/api/routes/*.py)
    Target("api", "/accounts", (CED_STAFF, REQUESTER)),
    Target("api", "/requests", (CED_STAFF, REQUESTER)),
    Target("api", "/people", (CED_STAFF, REQUESTER)),
    Target("api", "/departments", (CED_STAFF, REQUESTER)),
    Target("api", "/tokens", (CED_STAFF, REQUESTER)),
    Target("api", "/handovers", (CED_STAFF, AUDITOR)),
    Target("api", "/audit/events", (CED_STAFF, AUDITOR)),
    Target("api", "/compliance", (CED_STAFF, REQUESTER)),
    Target("api", f"/accounts/{ACCOUNT}/credentials", (CED_STAFF, REQUESTER)),
    # the console (registry/http/console/pages/*.py)
    Target("console", "/console", (CED_STAFF, REQUESTER)),
    Target("console", "/console/accounts", (CED_STAFF, REQUESTER)),
    Target("console", "/console/requests", (CED_STAFF, REQUESTER)),
    Target("console", "/console/compliance", (CED_STAFF, REQUESTER)),
    Target("console", "/console/audit", (CED_STAFF, AUDITOR)),
    Target("console", "/console/people", (ADMIN,)),  # administrators only
    Target("console", "/console/departments", (ADMIN,)),
    Target("console", "/console/tokens", (CED_STAFF, REQUESTER)),
    Target("console", "/console/tokens/all", (ADMIN,)),
    Target("console", "/console/handover", (CED_STAFF, ADMIN)),
    Target("public", "/directory", (PUBLIC,)),
)


# ------------------------------------------------------------------------------ set-up


@dataclass
class Registry:
    """What was generated, and what the readers need."""

    accounts: int = 0
    focus_accounts: int = 0
    grants: int = 0
    people: int = 0
    events: int = 0
    tokens: int = 0
    handovers: int = 0
    seconds: float = 0.0
    account_id: int = 0  # the baseline's: an AGR account
    emails: dict[str, str] = field(default_factory=dict)  # viewer -> e-mail
    api_tokens: dict[str, str] = field(default_factory=dict)  # viewer -> bearer token


def department_of(number: int) -> str:
    """Account number ``number``'s department: AGR for one in FOCUS_EVERY, else the others in
    turn."""
    if number % FOCUS_EVERY == 0:
        return FOCUS
    return OTHERS[number % len(OTHERS)]


OTHERS = [code for code in DEPARTMENTS if code != FOCUS]

# The events' actions in turn, as (action, entity type): ten per account.
EVENT_PATTERN: tuple[tuple[str, str], ...] = (
    ("account.created", "account"),
    ("access.granted", "account"),
    ("access.granted", "account"),
    ("access.granted", "account"),
    ("credential.put", "account"),
    ("credential.revealed", "account"),
    ("credential.revealed", "account"),
    ("account.reviewed", "account"),
    ("credential.totp", "account"),
    ("web.signed_in", "person"),
)


def audit_events(
    rng: random.Random,
    now: dt.datetime,
    count: int,
    accounts: int,
    actors: list[tuple[int, str]],
    everyone: list[tuple[int, str]],
) -> Iterator[dict[str, Any]]:
    """``count`` events, a second or so apart up to ``now``, seq 1..count. The hashes are
    placeholders (a well-formed chain of made-up values, not HMACs): cheap, and no measured
    page verifies them."""
    start = now - dt.timedelta(seconds=count * 2)
    pattern = len(EVENT_PATTERN)
    previous = ""
    for index in range(count):
        seq = index + 1
        action, entity_type = EVENT_PATTERN[index % pattern]
        at = start + dt.timedelta(seconds=index * 2 + rng.random())
        if entity_type == "person":
            actor_id, actor_email = rng.choice(everyone)
            entity_id = str(actor_id)
            details: dict[str, Any] = {"via": "token"}
        else:
            actor_id, actor_email = rng.choice(actors)
            entity_id = str(rng.randrange(1, accounts + 1))
            details = {"reason": "bench"} if action == "credential.revealed" else {}
        digest = f"{seq:064x}"
        yield {
            "seq": seq,
            "at": at,
            "actor_id": actor_id,
            "actor_email": actor_email,
            "action": action,
            "entity_type": entity_type,
            "entity_id": entity_id,
            "details": details,
            "prev_hash": previous,
            "hash": digest,
            "sealed_at": at,
        }
        previous = digest


def add_extras(
    connection: Connection, rng: random.Random, now: dt.datetime, size: int, built: Registry
) -> None:
    """The audit log, a token per active person, a handover per leaver, an administrator."""
    dept = {d.code: d.id for d in connection.execute(select(Department.code, Department.id))}
    people = connection.execute(
        select(Person.id, Person.email, Person.department_id, Person.status)
    ).all()
    active = [(p.id, p.email) for p in people if p.status == PersonStatus.active.value]
    ced_staff = [
        (p.id, p.email)
        for p in people
        if p.department_id == dept[CED] and p.status == PersonStatus.active.value
    ]
    admin_id = max(p.id for p in people) + 1
    insert_rows(
        connection,
        "person",
        [
            {
                "id": admin_id,
                "email": ADMIN_EMAIL,
                "name": "Ada Administrator",
                "department_id": dept[ADMIN_DEPARTMENT],
                "status": PersonStatus.active.value,
                "created_at": now - dt.timedelta(days=900),
                "left_at": None,
            }
        ],
    )
    insert_rows(connection, "person_role", [{"person_id": admin_id, "role": Role.admin.value}])
    built.people = len(people) + 1

    built.events = insert_rows(
        connection,
        "audit_event",
        audit_events(rng, now, size * EVENTS_PER_ACCOUNT, size, ced_staff, active),
    )
    head = AuditHead.metadata.tables["audit_head"]
    connection.execute(
        update(head)
        .where(head.c.id == 1)
        .values(
            last_seq=built.events,
            last_hash=f"{built.events:064x}",
            sealed_through=built.events,
        )
    )

    built.tokens = insert_rows(
        connection,
        "api_token",
        (
            {
                "id": number,
                "person_id": person_id,
                "token_hash": hashlib.sha256(f"bench-token-{number}".encode()).hexdigest(),
                "prefix": f"smr_b{number:05d}"[:16],
                "created_by_id": ced_staff[0][0],
                "created_at": now - dt.timedelta(days=rng.uniform(1, 80)),
                "expires_at": now + dt.timedelta(days=rng.uniform(10, 90)),
                "revoked_at": None,
            }
            for number, (person_id, _) in enumerate(active, start=1)
        ),
    )

    left = [p for p in people if p.status == PersonStatus.left.value]
    run_by = ced_staff[0][1]
    built.handovers = insert_rows(
        connection,
        "handover",
        (
            {
                "id": number,
                "run_by_id": ced_staff[0][0],
                "leaver_id": leaver.id,
                "successor_id": successor_id,
                "at": at,
                "report": handover_report(number, run_by, leaver.email, successor, at, rng, size),
            }
            for number, leaver in enumerate(left, start=1)
            for successor_id, successor in [rng.choice(active)]
            for at in [now - dt.timedelta(days=rng.uniform(1, 300))]
        ),
    )


def handover_report(
    number: int,
    run_by: str,
    leaver: str,
    successor: str,
    at: dt.datetime,
    rng: random.Random,
    accounts: int,
) -> dict[str, Any]:
    """A handover's stored report (HandoverReport's fields), naming three accounts."""
    handed = [rng.randrange(1, accounts + 1) for _ in range(3)]
    return {
        "id": number,
        "dry_run": False,
        "run_by": run_by,
        "leaver": leaver,
        "successor": successor,
        "at": at.isoformat(),
        "accounts": [
            {
                "account_id": account_id,
                "platform": "facebook",
                "handle": f"mbgov{account_id - 1}",
                "department": department_of(account_id - 1),
                "status": "active",
                "successor": successor,
                "successor_added": True,
                "holders_after": [successor],
            }
            for account_id in handed
        ],
        "credentials_due": [
            {"account_id": a, "kind": "password", "version": 1, "why": "known to the leaver"}
            for a in handed
        ],
        "login_email_flags": [],
        "requests_moved": [],
        "tokens_revoked": 1,
        "roles_removed": [],
    }


def viewers(connection: Connection) -> dict[str, str]:
    """The e-mail of each viewer: CED staff with the ced role alone (not the administrator),
    an AGR requester (a requester only, not the department's approver), the auditor and the
    administrator."""
    roles: dict[int, set[str]] = {}
    for person_id, role in connection.execute(select(PersonRole.person_id, PersonRole.role)):
        roles.setdefault(person_id, set()).add(str(role))

    def first(department: str, role: Role) -> str:
        found = connection.execute(
            select(Person.id, Person.email)
            .join(Department, col(Department.id) == Person.department_id)
            .where(Department.code == department, Person.status == PersonStatus.active.value)
            .order_by(col(Person.id))
        ).all()
        return str(next(p.email for p in found if roles.get(p.id) == {role.value}))

    return {
        CED_STAFF: first(CED, Role.ced),
        REQUESTER: first(FOCUS, Role.requester),
        AUDITOR: AUDITOR_EMAIL,
        ADMIN: ADMIN_EMAIL,
    }


def advance_sequences(connection: Connection) -> None:
    """PostgreSQL: move each ``id`` sequence past the ids inserted by hand, so the rows the
    services add next (the viewers' tokens, sign-ins) get new ones."""
    for table in Account.metadata.sorted_tables:
        column = table.c.get("id")
        if column is None or not column.primary_key or not column.autoincrement:
            continue
        connection.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                f'coalesce((SELECT max(id) FROM "{table.name}"), 0) + 1, false)'
            )
        )


def generate(engine: Engine, settings: Settings, size: int, *, analyze: bool) -> Registry:
    """The whole registry, timed; then the viewers' API tokens, made by the service."""
    now = utcnow().replace(microsecond=0)
    built = Registry()
    start = time.perf_counter()
    made = build_registry(engine, settings, size, now, analyze=False, department_of=department_of)
    built.accounts, built.grants = made.accounts, made.grants
    with engine.begin() as connection:
        add_extras(connection, random.Random(20260214), now, size, built)
        built.emails = viewers(connection)
        focus_ids = connection.execute(
            select(Account.id)
            .join(Department, col(Department.id) == Account.department_id)
            .where(Department.code == FOCUS)
            .order_by(col(Account.id))
        ).all()
        built.focus_accounts = len(focus_ids)
        built.account_id = focus_ids[len(focus_ids) // 2].id
        assert connection.execute(
            select(AccessGrant.id).where(AccessGrant.account_id == built.account_id).limit(1)
        ).first()
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            advance_sequences(connection)
            if analyze:
                connection.execute(text("ANALYZE"))
    built.seconds = time.perf_counter() - start
    with session_scope(engine, session_info(settings)) as session:
        built.api_tokens = {
            who: tokens.create_token(session, actor=None, email=email).token
            for who, email in built.emails.items()
        }
    return built


# ------------------------------------------------------------------------------ serving


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """``app`` served by uvicorn in a thread of this process; yields its base URL."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it: without it, a body sent after its headers waits for
    # the client's delayed ACK (~40 ms), which would swamp every figure.
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    listener.bind((HOST, 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise BenchError("the server thread did not start listening")
        time.sleep(0.01)
    try:
        yield f"http://{HOST}:{port}"
    finally:
        server.should_exit = True
        thread.join(START_TIMEOUT)
        listener.close()


# ------------------------------------------------------------------------------ reading


@dataclass
class Figure:
    """One page as one viewer: its status, and the time (s) and size of each timed read."""

    target: Target
    who: str
    label: str
    status: int = 0
    seconds: list[float] = field(default_factory=list)
    size: int = 0

    @property
    def outcome(self) -> str:
        if self.status == 200:
            return "ok"
        if self.status == 404:
            return "missing"
        if self.status in (401, 403):
            return "refused"
        if self.status >= 500:
            return "server error"
        return f"status {self.status}"

    @property
    def unexpected(self) -> bool:
        """An answer that is neither a page, nor missing, nor refused: a redirect, a 422, a
        5xx. The page was not measured, and the goal is not met."""
        return self.outcome not in ("ok", "missing", "refused")

    @property
    def ms(self) -> float:
        return statistics.median(self.seconds) * 1000 if self.seconds else float("nan")


class Reader:
    """One keep-alive HTTP client, and each viewer's credentials."""

    def __init__(self, base_url: str, built: Registry) -> None:
        self.client = httpx.Client(
            base_url=base_url, timeout=REQUEST_TIMEOUT, follow_redirects=False
        )
        self.built = built
        self.cookies: dict[str, str] = {}

    def close(self) -> None:
        self.client.close()

    def sign_in(self, who: str) -> None:
        """Sign ``who`` in to the console as a browser does; keep the session cookie."""
        self.client.cookies.clear()
        form = self.client.get("/login")
        found = re.search(r'name="csrf" value="([^"]+)"', form.text)
        if form.status_code != 200 or not found:
            raise BenchError(f"GET /login answered {form.status_code} without a sign-in form")
        signed = self.client.post(
            "/login", data={"token": self.built.api_tokens[who], "csrf": found.group(1)}
        )
        cookie = self.client.cookies.get(COOKIE)
        if signed.status_code != 303 or not cookie:
            raise BenchError(f"signing in as {who} answered {signed.status_code}")
        self.cookies[who] = cookie
        self.client.cookies.clear()

    def headers(self, target: Target, who: str) -> dict[str, str]:
        if target.kind == "api":
            return {"Authorization": f"Bearer {self.built.api_tokens[who]}"}
        if target.kind == "console":
            return {"Cookie": f"{COOKIE}={self.cookies[who]}"}
        return {}

    def read(self, figure: Figure, *, timed: bool) -> None:
        path = figure.target.path.replace(ACCOUNT, str(self.built.account_id))
        headers = self.headers(figure.target, figure.who)
        start = time.perf_counter()
        response = self.client.get(path, headers=headers)
        body = response.content
        seconds = time.perf_counter() - start
        figure.status = response.status_code
        figure.size = len(body)
        if timed:
            figure.seconds.append(seconds)


def measure(reader: Reader, runs: int) -> tuple[Figure, list[Figure]]:
    """Each page once untimed, then ``runs`` rounds over the pages that answered 200."""
    baseline = Figure(BASELINE, CED_STAFF, BASELINE.label(reader.built.account_id))
    figures = [
        Figure(target, who, target.label(reader.built.account_id))
        for target in PAGES
        for who in target.who
    ]
    for who in sorted({f.who for f in figures if f.target.kind == "console"}):
        reader.sign_in(who)
    for figure in [baseline, *figures]:
        reader.read(figure, timed=False)
    if baseline.status != 200:
        raise BenchError(f"the baseline {baseline.label} answered {baseline.status}")
    measured = [f for f in [baseline, *figures] if f.status == 200]
    for _ in range(runs):
        for figure in measured:
            reader.read(figure, timed=True)
            if figure.status != 200:  # a page that fails later is reported as it answered
                measured = [f for f in measured if f is not figure]
    return baseline, figures


# ------------------------------------------------------------------------------ results


@dataclass
class BackendResult:
    backend: str
    built: Registry
    baseline: Figure
    figures: list[Figure]

    @property
    def ok(self) -> list[Figure]:
        return [f for f in self.figures if f.outcome == "ok" and f.seconds]

    def ratio(self, figure: Figure) -> float:
        return figure.ms / self.baseline.ms

    def within(self, figure: Figure) -> bool:
        return self.ratio(figure) <= GOAL_RATIO and figure.size <= GOAL_BYTES

    @property
    def goal_met(self) -> bool:
        return all(self.within(f) for f in self.ok) and not self.unexpected

    @property
    def unexpected(self) -> list[Figure]:
        return [f for f in self.figures if f.unexpected]

    @property
    def server_errors(self) -> list[Figure]:
        return [f for f in self.figures if f.status >= 500]

    def worst(self) -> Figure | None:
        return max(self.ok, key=self.ratio, default=None)

    def largest(self) -> Figure | None:
        return max(self.ok, key=lambda f: f.size, default=None)


def name(result: BackendResult, figure: Figure) -> str:
    return f"{figure.label} as {figure.who} ({result.backend})"


def report(result: BackendResult) -> None:
    built, base = result.built, result.baseline
    print(
        f"{result.backend}: baseline {base.label} as {base.who}: {base.ms:.2f} ms, "
        f"{base.size:,} bytes"
    )
    print(f"  {'page':42s} {'who':9s} {'ms':>9s} {'bytes':>12s} {'ratio':>8s}")
    for f in result.figures:
        if f.outcome != "ok":
            flag = "  (not measured: the goal is not met)" if f.unexpected else ""
            print(f"  {f.label:42s} {f.who:9s} {f.outcome}{flag}")
            continue
        flag = "" if result.within(f) else "  over the goal"
        print(f"  {f.label:42s} {f.who:9s} {f.ms:9.2f} {f.size:12,} {result.ratio(f):7.1f}x{flag}")
    over = [f for f in result.ok if not result.within(f)]
    print(
        f"  {result.backend}: {len(result.ok)} pages measured, {len(over)} over the goal, "
        f"{sum(f.outcome == 'missing' for f in result.figures)} missing; "
        f"{len(built.api_tokens)} viewers; registry of {built.accounts:,} accounts "
        f"({built.focus_accounts:,} in {FOCUS})"
    )


def figure_json(result: BackendResult, f: Figure) -> dict[str, Any]:
    entry: dict[str, Any] = {"page": f.label, "who": f.who, "outcome": f.outcome}
    if f.outcome == "ok":
        entry.update(
            ms=round(f.ms, 2),
            bytes=f.size,
            ratio=round(result.ratio(f), 2),
            within_goal=result.within(f),
        )
    else:
        entry["status"] = f.status
    return entry


def summary(results: list[BackendResult], args: argparse.Namespace) -> dict[str, Any]:
    candidates = [(r, f) for r in results for f in r.ok]
    worst = max(candidates, key=lambda rf: rf[0].ratio(rf[1]), default=None)
    largest = max(candidates, key=lambda rf: rf[1].size, default=None)
    return {
        "benchmark": "pages",
        "accounts": args.accounts,
        "grants": args.accounts * GRANTS_PER_ACCOUNT,
        "events": args.accounts * EVENTS_PER_ACCOUNT,
        "runs": args.runs,
        "goal_ratio": GOAL_RATIO,
        "goal_bytes": GOAL_BYTES,
        "worst_ratio": round(worst[0].ratio(worst[1]), 2) if worst else None,
        "worst_page": name(*worst) if worst else None,
        "largest_bytes": largest[1].size if largest else None,
        "largest_page": name(*largest) if largest else None,
        "goal_met": all(r.goal_met for r in results),
        "server_errors": [name(r, f) for r in results for f in r.server_errors],
        "unexpected": [f"{name(r, f)}: {f.status}" for r in results for f in r.unexpected],
        "results": [
            {
                "backend": r.backend,
                "generation_seconds": round(r.built.seconds, 1),
                "baseline_ms": round(r.baseline.ms, 3),
                "goal_met": r.goal_met,
                "pages": [figure_json(r, f) for f in r.figures],
            }
            for r in results
        ],
    }


# ------------------------------------------------------------------------------ running


def run_backend(backend: str, args: argparse.Namespace) -> BackendResult:
    with (
        tempfile.TemporaryDirectory(prefix="registry-bench-") as directory,
        fresh_database(backend, Path(directory), url=args.database_url) as url,
    ):
        settings = Settings(
            database_url=url,
            keyring=str(Path(directory) / "registry.keyring"),
            gov_domains=DOMAIN,
            ced_department=CED,
        )
        ensure_keyring(settings)
        engine = make_engine(url)
        try:
            built = generate(engine, settings, args.accounts, analyze=backend == "postgresql")
            print(
                f"{backend:10s} generated in {built.seconds:.1f} s: {built.accounts:,} active "
                f"accounts ({built.focus_accounts:,} in {FOCUS}), {built.grants:,} grants, "
                f"{built.events:,} audit events, {built.people:,} people, {built.tokens:,} "
                f"tokens, {built.handovers:,} handovers",
                flush=True,
            )
            start = time.perf_counter()
            app = create_app(settings, engine=engine)
            with serving(app) as base_url:
                reader = Reader(base_url, built)
                try:
                    baseline, figures = measure(reader, args.runs)
                finally:
                    reader.close()
            print(f"{backend:10s} read in {time.perf_counter() - start:.1f} s", flush=True)
        finally:
            engine.dispose()
    return BackendResult(backend, built, baseline, figures)


def accounts_argument(value: str) -> int:
    number = int(value)
    if number < MIN_ACCOUNTS:
        raise argparse.ArgumentTypeError(f"must be at least {MIN_ACCOUNTS}, not {number}")
    return number


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--accounts",
        type=accounts_argument,
        default=DEFAULT_ACCOUNTS,
        help=f"active accounts (default {DEFAULT_ACCOUNTS:,}); {GRANTS_PER_ACCOUNT} grants and "
        f"{EVENTS_PER_ACCOUNT} audit events each; one in {FOCUS_EVERY} is {FOCUS}'s",
    )
    parser.add_argument(
        "--runs",
        type=positive,
        default=DEFAULT_RUNS,
        help=f"timed reads of each page (default {DEFAULT_RUNS}; the median is reported)",
    )
    parser.add_argument(
        "--backend",
        choices=("all", "sqlite", "postgresql"),
        default="all",
        help="all: SQLite, then PostgreSQL when a database is named (the default)",
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help=f"the PostgreSQL database to make a schema in (default {PG_ENV})",
    )
    args = parser.parse_args(argv)
    if args.database_url is not None and not args.database_url.startswith("postgresql"):
        parser.error("--database-url names a PostgreSQL database (postgresql+psycopg://...)")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)

    has_pg = (args.database_url or pg_url()) is not None
    backends = ["sqlite", "postgresql"] if args.backend == "all" else [args.backend]
    if "postgresql" in backends and not has_pg:
        if args.backend == "postgresql":
            parser.error(f"--database-url or {PG_ENV} must name a PostgreSQL database")
        backends.remove("postgresql")
        print(f"backends: sqlite only ({PG_ENV} does not name a PostgreSQL database)")

    results = []
    for backend in backends:
        result = run_backend(backend, args)
        report(result)
        results.append(result)

    out = summary(results, args)
    verdict = "met" if out["goal_met"] else "NOT met"
    print(
        f"goal: every first page within {GOAL_RATIO:g}x the baseline and at most "
        f"{GOAL_BYTES:,} bytes: {verdict} (worst {out['worst_ratio']}x: {out['worst_page']}; "
        f"largest {out['largest_bytes']} bytes: {out['largest_page']})"
    )
    for page in out["unexpected"]:
        print(f"unexpected answer (not measured): {page}")
    for page in out["server_errors"]:
        print(f"server error: {page}")
    print(json.dumps(out))
    return 1 if out["server_errors"] else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        print(json.dumps({"benchmark": "pages", "error": str(exc)[:500]}))
        sys.exit(2)
