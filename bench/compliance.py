"""Benchmark: the compliance report over a large registry, its wall time and its findings.

Run from the repository root::

    .venv/bin/python bench/compliance.py [--accounts N] [--repeat K] [--breakdown] [--explain]

Each backend gets a fresh registry (migrations, then SQLAlchemy Core bulk inserts straight
into the tables, 10,000 rows per ``executemany`` call; no services, no ORM): 20 departments
plus CED, a few thousand people (some CED staff, some who have left, one approver per
department, an auditor), N active accounts with 3 access grants each (3N grants; usually one
CED holder and two from the account's department), a password for most accounts (a dummy
sealed value: the report never decrypts), a TOTP seed for some, older versions (some shredded)
for others, a review date mostly ahead, a few hundred account requests, and N/100 decommissioned
accounts (reusing live handles) that must produce no findings. A seeded minority of the active
accounts, a few percent each, breaks one or more rules, so every kind of finding occurs: a
login e-mail off the government domain, one live holder (the other two grants revoked), no CED
holder, a holder who left, no password (none, a shredded one only, or a TOTP seed only), a
password marked for rotation, a password older than the rotation age, a review overdue or
never set, a login e-mail that is a person's own mailbox; and open requests waiting longer than
the limit, at either stage. On PostgreSQL the tables are ANALYZEd after loading (what
autovacuum would soon do); SQLite is left as the application leaves it (no statistics).
Generation is timed and printed, but is not the measured figure.

Timed: only ``compliance.report(...)`` for the whole registry, called by an auditor in an
open session (the session and the actor are made outside the timing), ``--repeat`` times on
the same registry (default 3; the median is reported), with ``now`` fixed at generation so the
expected findings are exact. Afterwards, untimed, the findings are checked against the
findings expected from what was generated, as (account or request, code) pairs: every code
seeded occurs, the ``too_few_holders`` count equals the accounts given fewer than two active
live holders, and so on; the department totals must add up to N accounts and to the number of
findings. ``--breakdown`` (automatic when the goal is missed) times each ``_Scope`` query on
its own; ``--explain`` (automatic when the goal is missed) shows the query plan of the slowest
(EXPLAIN QUERY PLAN on SQLite, EXPLAIN ANALYZE on PostgreSQL).

It runs on SQLite (a temporary file) and, when ``REGISTRY_TEST_DATABASE_URL`` starts with
``postgresql``, on PostgreSQL too, in a fresh schema per run that is dropped afterwards. The
goal: the report in under 2 s for 100,000 accounts and 300,000 grants. The last line printed
is a JSON summary; the exit status is non-zero when the verification fails.
"""

from __future__ import annotations

# ruff: noqa: E402 -- the import path is fixed before the imports that depend on it
import sys
from pathlib import Path

# Run as ``bench/compliance.py``, this file's folder comes first on the import path and
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
import datetime as dt
import json
import random
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from _support import PG_ENV, fresh_database, pg_url, positive
from sqlalchemy import Connection, Engine, event, text

from registry import migrate
from registry.config import Settings
from registry.db import make_engine, session_scope
from registry.models import (
    Account,
    AccountStatus,
    PersonStatus,
    RequestKind,
    RequestState,
    Role,
    utcnow,
)
from registry.services import compliance
from registry.services.actors import actor_by_email
from vault import SHREDDED

GOAL_SECONDS = 2.0
DEFAULT_ACCOUNTS = 100_000
MIN_ACCOUNTS = 50  # enough for the first accounts to seed every kind of finding
DEFAULT_REPEAT = 3
GRANTS_PER_ACCOUNT = 3
CHUNK = 10_000  # rows per executemany call
SEED = 20261121

DOMAIN = "gov.mb.ca"
CED = "CED"
DEPARTMENTS = {
    "AGR": "Agriculture",
    "EDU": "Education and Early Childhood Learning",
    "HLT": "Health",
    "FIN": "Finance",
    "JUS": "Justice",
    "ENV": "Environment and Climate",
    "TRN": "Transportation and Infrastructure",
    "FAM": "Families",
    "ECD": "Economic Development",
    "LAB": "Labour and Workplace Safety",
    "IRN": "Indigenous Reconciliation",
    "MUN": "Municipal and Northern Relations",
    "SCH": "Sport, Culture and Heritage",
    "NAT": "Natural Resources",
    "ADV": "Advanced Education and Training",
    "HSG": "Housing and Homelessness",
    "PSC": "Public Service Commission",
    "EMO": "Emergency Management",
    "CON": "Consumer Protection",
    "SEN": "Seniors and Long-Term Care",
}
AUDITOR_EMAIL = "audrey.auditor@gov.mb.ca"
AUDITOR_ID = 1  # the first person inserted
AUDITOR_DEPARTMENT = "FIN"  # not CED: the auditor sees everything through the role

PLATFORMS = {
    "facebook": "https://www.facebook.com/",
    "instagram": "https://www.instagram.com/",
    "x": "https://x.com/",
    "tiktok": "https://www.tiktok.com/@",
    "linkedin": "https://www.linkedin.com/company/",
}
CATEGORIES = ("official", "employment_related")
OFF_DOMAINS = ("gmail.com", "outlook.com", f"{DOMAIN}.example.com", f"not{DOMAIN}")

# Shares of the active accounts; each account draws its holder pattern and its credential
# pattern from these, and the other faults independently, so some accounts break several rules.
HOLDER_PATTERNS = {"one_holder": 0.02, "no_ced": 0.02, "left_holder": 0.025}
CREDENTIAL_PATTERNS = {
    "missing": 0.02,
    "rotation_due": 0.02,
    "old": 0.025,
    "rotated": 0.04,  # an old version 1 (some shredded) and a fresh version 2: no finding
}
OFF_DOMAIN_SHARE = 0.02
PERSONAL_LOGIN_SHARE = 0.015
REVIEW_OVERDUE_SHARE = 0.03
TOTP_SHARE = 0.10
LEFT_PEOPLE_SHARE = 0.04
CED_PEOPLE_SHARE = 0.05
# Requests: one per 100 accounts; per state, and per open request whether it waits too long.
REQUEST_STATES = {
    RequestState.submitted: 0.35,
    RequestState.department_approved: 0.25,
    RequestState.approved: 0.25,
    RequestState.rejected: 0.10,
    RequestState.withdrawn: 0.05,
}
WAITING_SHARE = 0.6

CODES = (
    "login_email_domain",
    "too_few_holders",
    "no_ced_holder",
    "holder_left",
    "no_credentials",
    "rotation_due",
    "credential_old",
    "review_overdue",
    "personal_login_email",
    "request_waiting",
)

# What a finding is about: ("account" | "request", id, code).
Key = tuple[str, int, str]


@dataclass
class Generated:
    """What the set-up made, and the findings the report must give for it."""

    accounts: int = 0
    decommissioned: int = 0
    grants: int = 0
    people: int = 0
    credentials: int = 0
    requests: int = 0
    expected: set[Key] = field(default_factory=set)
    seconds: float = 0.0

    @property
    def expected_codes(self) -> Counter[str]:
        return Counter(code for _, _, code in self.expected)


@dataclass
class Breakdown:
    name: str
    seconds: float
    rows: int
    statements: list[tuple[str, Any]]


@dataclass
class BackendResult:
    backend: str
    generated: Generated
    timings: list[float] = field(default_factory=list)
    by_code: Counter[str] = field(default_factory=Counter)
    findings: int = 0
    problems: list[str] = field(default_factory=list)
    breakdown: list[Breakdown] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return statistics.median(self.timings)

    @property
    def goal_met(self) -> bool:
        return self.seconds < GOAL_SECONDS


# ------------------------------------------------------------------------------ databases


# ------------------------------------------------------------------------------ set-up


def insert_rows(connection: Connection, table: str, rows: Iterable[dict[str, Any]]) -> int:
    """Insert ``rows`` into ``table`` with Core, ``CHUNK`` rows per executemany call."""
    statement = Account.metadata.tables[table].insert()
    batch: list[dict[str, Any]] = []
    count = 0
    for row in rows:
        batch.append(row)
        if len(batch) == CHUNK:
            connection.execute(statement, batch)
            count += len(batch)
            batch = []
    if batch:
        connection.execute(statement, batch)
        count += len(batch)
    return count


def pick(rng: random.Random, shares: dict[Any, float]) -> Any:
    """One key of ``shares`` drawn by its share, or None for the rest."""
    draw = rng.random()
    for key, share in shares.items():
        if draw < share:
            return key
        draw -= share
    return None


def ago(now: dt.datetime, rng: random.Random, low_days: float, high_days: float) -> dt.datetime:
    return now - dt.timedelta(days=rng.uniform(low_days, high_days))


@dataclass
class People:
    """Who is who, for picking holders and for the expected findings."""

    dept_ids: list[int]  # every department but CED
    code_of: dict[int, str] = field(default_factory=dict)
    ced_active: list[int] = field(default_factory=list)
    active_by_dept: dict[int, list[int]] = field(default_factory=dict)
    left: list[int] = field(default_factory=list)
    approver_by_dept: dict[int, int] = field(default_factory=dict)
    emails: list[str] = field(default_factory=list)
    email_of: dict[int, str] = field(default_factory=dict)
    active: set[int] = field(default_factory=set)
    in_ced: set[int] = field(default_factory=set)


def make_departments(connection: Connection, now: dt.datetime) -> dict[str, int]:
    """CED and the other departments; returns their ids by code."""
    codes = {CED: "Communications and Engagement Division", **DEPARTMENTS}
    ids = {code: number for number, code in enumerate(codes, start=1)}
    insert_rows(
        connection,
        "department",
        (
            {"id": ids[code], "code": code, "name": name, "created_at": now}
            for code, name in codes.items()
        ),
    )
    return ids


def make_people(
    connection: Connection,
    rng: random.Random,
    now: dt.datetime,
    count: int,
    dept_ids: dict[str, int],
) -> People:
    """The auditor, then ``count`` staff: some CED, some who left, the rest spread evenly."""
    ced_id = dept_ids[CED]
    others = [dept_ids[code] for code in DEPARTMENTS]
    people = People(dept_ids=others, code_of={i: code for code, i in dept_ids.items()})
    persons: list[dict[str, Any]] = []
    roles: list[dict[str, Any]] = []

    def add(department_id: int, email: str, name: str, left: bool, *person_roles: Role) -> int:
        person_id = len(persons) + 1
        persons.append(
            {
                "id": person_id,
                "email": email,
                "name": name,
                "department_id": department_id,
                "status": (PersonStatus.left if left else PersonStatus.active).value,
                "created_at": ago(now, rng, 400, 3000),
                "left_at": ago(now, rng, 1, 300) if left else None,
            }
        )
        roles.extend({"person_id": person_id, "role": role.value} for role in person_roles)
        people.emails.append(email)
        people.email_of[person_id] = email
        if left:
            people.left.append(person_id)
        else:
            people.active.add(person_id)
        if department_id == ced_id:
            people.in_ced.add(person_id)
        return person_id

    auditor = add(
        dept_ids[AUDITOR_DEPARTMENT], AUDITOR_EMAIL, "Audrey Auditor", False, Role.auditor
    )
    assert auditor == AUDITOR_ID
    ced_staff = max(5, round(count * CED_PEOPLE_SHARE))
    for number in range(count):
        left = number >= 2 and rng.random() < LEFT_PEOPLE_SHARE  # the first two (CED) always stay
        if number < ced_staff:
            department_id = ced_id
            person_roles: tuple[Role, ...] = (Role.ced,) + ((Role.admin,) if number == 0 else ())
        else:
            department_id = others[number % len(others)]
            person_roles = (Role.requester,)
        if number in (ced_staff, ced_staff + 1):
            left = True  # at least two who left, whatever the draw
        host = f"{people.code_of[department_id].lower()}.{DOMAIN}" if number % 7 == 0 else DOMAIN
        person_id = add(
            department_id,
            f"staff{number:05d}@{host}",
            f"Staff Member {number}",
            left,
            *person_roles,
        )
        if left or department_id == ced_id:
            if department_id == ced_id and not left:
                people.ced_active.append(person_id)
            continue
        people.active_by_dept.setdefault(department_id, []).append(person_id)
        if department_id not in people.approver_by_dept:
            people.approver_by_dept[department_id] = person_id
            roles.append({"person_id": person_id, "role": Role.dept_approver.value})
    short = [d for d in others if len(people.active_by_dept.get(d, [])) < 4]
    if short:
        raise SystemExit(f"too few people per department for {count} people; use more accounts")
    insert_rows(connection, "person", persons)
    insert_rows(connection, "person_role", roles)
    return people


def approved_domain(email: str) -> bool:
    email = email.lower()
    return email.endswith(f"@{DOMAIN}") or email.endswith(f".{DOMAIN}")


@dataclass
class AccountChunk:
    accounts: list[dict[str, Any]] = field(default_factory=list)
    grants: list[dict[str, Any]] = field(default_factory=list)
    credentials: list[dict[str, Any]] = field(default_factory=list)


class AccountMaker:
    """Builds accounts with their grants and credentials, and the findings each must give."""

    def __init__(
        self,
        rng: random.Random,
        now: dt.datetime,
        settings: Settings,
        people: People,
        generated: Generated,
        department_of: Callable[[int], int] | None = None,
    ) -> None:
        self.rng = rng
        # an account's department id by its number: evenly spread unless told otherwise
        self.department_of = department_of or (
            lambda number: people.dept_ids[number % len(people.dept_ids)]
        )
        self.now = now
        self.today = now.date()
        self.too_old = now - dt.timedelta(days=settings.rotation_age_days)
        self.people = people
        self.generated = generated
        self.next_grant = 1
        self.next_credential = 1
        self.person_emails = set(people.emails)
        self.staff_ids = sorted(set(people.email_of) - {AUDITOR_ID})

    def chunk(self, first: int, stop: int, forced: list[dict[str, Any]]) -> AccountChunk:
        out = AccountChunk()
        for number in range(first, stop):
            faults = forced[number] if number < len(forced) else self.draw()
            self.account(out, number, faults)
        return out

    def draw(self) -> dict[str, Any]:
        rng = self.rng
        login = None
        if rng.random() < OFF_DOMAIN_SHARE:
            login = "off_domain"
        elif rng.random() < PERSONAL_LOGIN_SHARE:
            login = "personal"
        return {
            "login": login,
            "holders": pick(rng, HOLDER_PATTERNS),
            "credential": pick(rng, CREDENTIAL_PATTERNS),
            "review": rng.random() < REVIEW_OVERDUE_SHARE,
        }

    def account(self, out: AccountChunk, number: int, faults: dict[str, Any]) -> None:
        rng, now, people = self.rng, self.now, self.people
        account_id = number + 1
        department_id = self.department_of(number)
        code = people.code_of[department_id]
        platform, prefix = PLATFORM_LIST[number % len(PLATFORM_LIST)]
        handle = f"mbgov{number}"

        if faults["login"] == "off_domain":
            login_email = f"{code.lower()}.social{number}@{rng.choice(OFF_DOMAINS)}"
        elif faults["login"] == "personal":
            login_email = people.email_of[rng.choice(self.staff_ids)]
        elif number % 5 == 0:
            login_email = f"social{number}@{code.lower()}.{DOMAIN}"
        else:
            login_email = f"{code.lower()}.social{number}@{DOMAIN}"

        if faults["review"]:
            next_review: dt.date | None = (
                None if rng.random() < 0.2 else self.today - dt.timedelta(days=rng.randint(1, 400))
            )
        else:
            next_review = self.today + dt.timedelta(days=rng.randint(1, 365))

        created = ago(now, rng, 30, 2500)
        out.accounts.append(
            {
                "id": account_id,
                "platform": platform,
                "handle": handle,
                "handle_normalized": handle,
                "url": f"{prefix}{handle}",
                "category": CATEGORIES[number % len(CATEGORIES)],
                "department_id": department_id,
                "program_area": "",
                "purpose": f"{DEPARTMENTS[code]} news and updates, channel {number}.",
                "login_email": login_email,
                "status": AccountStatus.active.value,
                "created_at": created,
                "activated_at": created + dt.timedelta(days=1),
                "decommissioned_at": None,
                "next_review_on": next_review,
                "last_reviewed_at": None,
                "last_reviewed_by_id": None,
            }
        )
        live = self.grants(out, account_id, department_id, faults["holders"])
        latest = self.credentials(out, account_id, faults["credential"])
        self.expect(account_id, login_email, next_review, live, latest)

    def grants(
        self, out: AccountChunk, account_id: int, department_id: int, pattern: str | None
    ) -> list[int]:
        """Three grant rows; returns the people whose grants are live."""
        rng, people = self.rng, self.people
        ced = rng.choice(people.ced_active)
        staff = people.active_by_dept[department_id]
        if pattern == "one_holder":
            lone = ced if rng.random() < 0.7 else rng.choice(staff)
            others = [p for p in rng.sample(staff, 3) if p != lone][:2]
            holders, revoked = [lone, *others], {others[0], others[1]}
        elif pattern == "no_ced":
            holders, revoked = rng.sample(staff, 3), set()
        elif pattern == "left_holder":
            if rng.random() < 0.25:  # both department holders left: too few as well
                holders = [ced, *rng.sample(people.left, 2)]
            else:
                holders = [ced, rng.choice(staff), rng.choice(people.left)]
            revoked = set()
        else:
            holders, revoked = [ced, *rng.sample(staff, 2)], set()
        for person_id in holders:
            granted = ago(self.now, rng, 20, 900)
            gone = person_id in revoked
            out.grants.append(
                {
                    "id": self.next_grant,
                    "account_id": account_id,
                    "person_id": person_id,
                    "granted_by_id": ced,
                    "granted_at": granted,
                    "revoked_at": ago(self.now, rng, 1, 19) if gone else None,
                    "revoked_by_id": ced if gone else None,
                }
            )
            self.next_grant += 1
        return [p for p in holders if p not in revoked]

    def credentials(
        self, out: AccountChunk, account_id: int, pattern: str | None
    ) -> list[dict[str, Any]]:
        """The credential rows; returns the newest live version of each kind."""
        rng, now = self.rng, self.now
        setter = rng.choice(self.people.ced_active)
        rows: list[dict[str, Any]] = []

        def add(kind: str, version: int, set_at: dt.datetime, **extra: Any) -> None:
            row = {
                "id": self.next_credential,
                "account_id": account_id,
                "kind": kind,
                "version": version,
                "sealed": f"v1.k1.bench{self.next_credential}.x",
                "key_id": "k1",
                "set_by_id": setter,
                "set_at": set_at,
                "shredded_at": None,
                "rotation_due_at": None,
                "rotation_reason": None,
            }
            row.update(extra)
            rows.append(row)
            self.next_credential += 1

        if pattern == "missing":
            if rng.random() < 0.3:  # only a shredded password left
                add(
                    "password",
                    1,
                    ago(now, rng, 400, 900),
                    sealed=SHREDDED,
                    key_id=None,
                    shredded_at=ago(now, rng, 1, 100),
                )
        elif pattern == "rotation_due":
            leaver = self.people.email_of[rng.choice(self.people.left)]
            add(
                "password",
                1,
                ago(now, rng, 1, 700),
                rotation_due_at=ago(now, rng, 1, 60),
                rotation_reason=f"known to {leaver}, who left",
            )
        elif pattern == "old":
            add("password", 1, ago(now, rng, 400, 1500))
        elif pattern == "rotated":
            shredded = rng.random() < 0.5
            add(
                "password",
                1,
                ago(now, rng, 400, 1500),
                **(
                    {"sealed": SHREDDED, "key_id": None, "shredded_at": ago(now, rng, 1, 100)}
                    if shredded
                    else {}
                ),
            )
            add("password", 2, ago(now, rng, 1, 300))
        else:
            add("password", 1, ago(now, rng, 1, 300))
        if rng.random() < TOTP_SHARE:
            add("totp_seed", 1, ago(now, rng, 1, 300))
        out.credentials.extend(rows)
        latest: dict[str, dict[str, Any]] = {}
        for row in rows:
            if row["shredded_at"] is None and (
                row["kind"] not in latest or row["version"] > latest[row["kind"]]["version"]
            ):
                latest[row["kind"]] = row
        return list(latest.values())

    def expect(
        self,
        account_id: int,
        login_email: str,
        next_review: dt.date | None,
        live: list[int],
        latest: list[dict[str, Any]],
    ) -> None:
        """The findings the report must give for this account, worked out independently."""
        people = self.people
        codes: list[str] = []
        if not approved_domain(login_email):
            codes.append("login_email_domain")
        active = {p for p in live if p in people.active}
        if len(active) < 2:
            codes.append("too_few_holders")
        if not active & people.in_ced:
            codes.append("no_ced_holder")
        if any(p not in people.active for p in live):
            codes.append("holder_left")
        if not any(row["kind"] == "password" for row in latest):
            codes.append("no_credentials")
        for row in latest:
            if row["rotation_due_at"] is not None and row["rotation_reason"]:
                codes.append("rotation_due")
            elif row["rotation_due_at"] is not None or row["set_at"] < self.too_old:
                codes.append("credential_old")
        if next_review is None or next_review < self.today:
            codes.append("review_overdue")
        if login_email.lower() in self.person_emails:
            codes.append("personal_login_email")
        self.generated.expected.update(("account", account_id, code) for code in codes)


def forced_faults() -> list[dict[str, Any]]:
    """The first accounts break one rule each, so every code occurs however few accounts."""
    plain: dict[str, Any] = {"login": None, "holders": None, "credential": None, "review": False}
    return [
        {**plain, "login": "off_domain"},
        {**plain, "login": "personal"},
        {**plain, "holders": "one_holder"},
        {**plain, "holders": "no_ced"},
        {**plain, "holders": "left_holder"},
        {**plain, "credential": "missing"},
        {**plain, "credential": "rotation_due"},
        {**plain, "credential": "old"},
        {**plain, "credential": "rotated"},
        {**plain, "review": True},
    ]


PLATFORM_LIST = list(PLATFORMS.items())


def decommissioned_accounts(
    rng: random.Random, now: dt.datetime, first_id: int, count: int, dept_ids: list[int]
) -> Iterator[dict[str, Any]]:
    """Old accounts that break every rule, reusing live handles: the report must skip them."""
    for number in range(count):
        created = ago(now, rng, 1500, 3000)
        platform, prefix = PLATFORM_LIST[number % len(PLATFORM_LIST)]
        handle = f"mbgov{number}"
        yield {
            "id": first_id + number,
            "platform": platform,
            "handle": handle,
            "handle_normalized": handle,
            "url": f"{prefix}{handle}",
            "category": CATEGORIES[0],
            "department_id": dept_ids[number % len(dept_ids)],
            "program_area": "",
            "purpose": f"A retired channel {number}.",
            "login_email": f"retired{number}@gmail.com",
            "status": AccountStatus.decommissioned.value,
            "created_at": created,
            "activated_at": created + dt.timedelta(days=1),
            "decommissioned_at": ago(now, rng, 30, 1000),
            "next_review_on": None,
            "last_reviewed_at": None,
            "last_reviewed_by_id": None,
        }


def make_requests(
    rng: random.Random,
    now: dt.datetime,
    settings: Settings,
    count: int,
    people: People,
    generated: Generated,
) -> Iterator[dict[str, Any]]:
    """New-account requests in every state; the open ones that wait too long are expected."""
    cutoff = now - dt.timedelta(days=settings.request_wait_days)
    wait = settings.request_wait_days
    states = list(REQUEST_STATES)
    for number in range(count):
        request_id = number + 1
        department_id = people.dept_ids[number % len(people.dept_ids)]
        code = people.code_of[department_id]
        # the first two: one waiting at each stage, however few requests there are
        state = states[number] if number < 2 else pick(rng, REQUEST_STATES) or states[0]
        waiting = number < 2 or rng.random() < WAITING_SHARE
        approver = people.approver_by_dept[department_id]
        handle = f"mbreq{number}"
        row: dict[str, Any] = {
            "id": request_id,
            "kind": RequestKind.new_account.value,
            "state": state.value,
            "department_id": department_id,
            "requester_id": rng.choice(people.active_by_dept[department_id]),
            "submitted_at": None,
            "platform": "facebook",
            "handle": handle,
            "handle_normalized": handle,
            "url": f"https://www.facebook.com/{handle}",
            "category": "official",
            "program_area": "",
            "purpose": f"A new {DEPARTMENTS[code]} channel {number}.",
            "login_email": f"{code.lower()}.request{number}@{DOMAIN}",
            "reason": None,
            "account_id": None,
            "department_decided_by_id": None,
            "department_decided_at": None,
            "department_comment": None,
            "decided_by_id": None,
            "decided_at": None,
            "decision_comment": None,
        }
        if state == RequestState.submitted:
            row["submitted_at"] = (
                ago(now, rng, wait + 1.5, 200) if waiting else ago(now, rng, 0, wait - 2)
            )
            since = row["submitted_at"]
        else:
            decided = ago(now, rng, wait + 1.5, 200) if waiting else ago(now, rng, 0, wait - 2)
            # submitted long ago in either case: only the department's decision counts
            row["submitted_at"] = decided - dt.timedelta(days=rng.uniform(1, 60))
            row["department_decided_by_id"] = approver
            row["department_decided_at"] = decided
            since = decided
            if state != RequestState.department_approved:
                decider = rng.choice(people.ced_active)
                row["decided_by_id"] = (
                    row["requester_id"] if state == RequestState.withdrawn else decider
                )
                row["decided_at"] = decided + dt.timedelta(hours=rng.uniform(1, 48))
        if state in (RequestState.submitted, RequestState.department_approved) and since < cutoff:
            generated.expected.add(("request", request_id, "request_waiting"))
        yield row


def build_registry(
    engine: Engine,
    settings: Settings,
    size: int,
    now: dt.datetime,
    *,
    analyze: bool,
    department_of: Callable[[int], str] | None = None,
) -> Generated:
    """Migrate, then bulk-insert the whole registry in one transaction; returns what it made.
    ``department_of`` gives the code of the department of account number 0, 1, ... (not CED);
    by default the accounts are spread evenly over :data:`DEPARTMENTS`."""
    migrate.upgrade(engine)
    rng = random.Random(SEED)
    generated = Generated()
    start = time.perf_counter()
    with engine.begin() as connection:
        dept_ids = make_departments(connection, now)
        people = make_people(connection, rng, now, max(300, size // 30), dept_ids)
        generated.people = len(people.email_of)
        maker = AccountMaker(
            rng,
            now,
            settings,
            people,
            generated,
            None if department_of is None else lambda number: dept_ids[department_of(number)],
        )
        forced = forced_faults()
        for first in range(0, size, CHUNK):
            chunk = maker.chunk(first, min(first + CHUNK, size), forced)
            generated.accounts += insert_rows(connection, "account", chunk.accounts)
            generated.grants += insert_rows(connection, "access_grant", chunk.grants)
            generated.credentials += insert_rows(connection, "credential", chunk.credentials)
        generated.decommissioned = insert_rows(
            connection,
            "account",
            decommissioned_accounts(rng, now, size + 1, size // 100, people.dept_ids),
        )
        generated.requests = insert_rows(
            connection,
            "account_request",
            make_requests(rng, now, settings, max(20, size // 100), people, generated),
        )
    if analyze:
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))
    generated.seconds = time.perf_counter() - start
    return generated


# ------------------------------------------------------------------------------ the timing


def time_report(
    engine: Engine, settings: Settings, now: dt.datetime
) -> tuple[float, compliance.ComplianceReport]:
    """One report for the whole registry by the auditor; only the report call is timed."""
    with session_scope(engine) as session:
        actor = actor_by_email(session, settings, AUDITOR_EMAIL)
        start = time.perf_counter()
        report = compliance.report(session, settings=settings, actor=actor, now=now)
        seconds = time.perf_counter() - start
    return seconds, report


@contextmanager
def capturing(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """Every statement (and its parameters) the engine sends while the block runs."""
    seen: list[tuple[str, Any]] = []

    def record(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool
    ) -> None:
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def breakdown(engine: Engine, settings: Settings, now: dt.datetime) -> list[Breakdown]:
    """Each of the report's queries (the ``_Scope`` methods) timed on its own."""
    parts: list[Breakdown] = []
    with session_scope(engine) as session:
        session.connection()  # start the transaction before timing anything

        def timed(name: str, call: Callable[[], Any]) -> Any:
            with capturing(engine) as seen:
                start = time.perf_counter()
                result = call()
                seconds = time.perf_counter() - start
            rows = len(result) if isinstance(result, list) else 1
            parts.append(Breakdown(name, seconds, rows, list(seen)))
            return result

        scope = timed("__init__", lambda: compliance._Scope(session, settings, None, None, now))
        findings: list[compliance.Finding] = []
        for name in (
            "bad_login_domains",
            "holder_problems",
            "missing_credentials",
            "rotation_due",
            "overdue_reviews",
            "personal_login_emails",
            "waiting_requests",
        ):
            findings.extend(timed(name, getattr(scope, name)))
        timed("totals", lambda: scope.totals(findings))
    return parts


def explain(engine: Engine, part: Breakdown) -> list[str]:
    """The plan of each statement ``part`` sent: EXPLAIN QUERY PLAN or EXPLAIN ANALYZE."""
    lines: list[str] = []
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN (ANALYZE, BUFFERS) "
        for statement, parameters in part.statements:
            lines.append("    " + " ".join(statement.split()))
            rows = connection.exec_driver_sql(prefix + statement, parameters).all()
            if sqlite:
                depth = {0: 0}
                for node, parent, _unused, detail in rows:
                    depth[node] = depth.get(parent, 0) + 1
                    lines.append("      " + "  " * (depth[node] - 1) + str(detail))
            else:
                lines.extend("      " + str(row[0]) for row in rows)
        connection.rollback()
    return lines


# ------------------------------------------------------------------------------ verification


def verify(report: compliance.ComplianceReport, generated: Generated) -> list[str]:
    """Problems with the report against what was generated (empty when all is well)."""
    problems: list[str] = []
    found: list[Key] = [
        ("account", f.account_id, f.code)
        if f.account_id is not None
        else ("request", f.request_id or 0, f.code)
        for f in report.findings
    ]
    if len(found) != len(set(found)):
        problems.append(f"{len(found) - len(set(found))} findings are repeated")
    missing = generated.expected - set(found)
    extra = set(found) - generated.expected
    for label, keys in (("missing", missing), ("unexpected", extra)):
        for code, number in sorted(Counter(code for _, _, code in keys).items()):
            examples = sorted(f"{kind} {ident}" for kind, ident, c in keys if c == code)[:5]
            problems.append(f"{number} {label} {code} findings (e.g. {', '.join(examples)})")
    by_code = Counter(code for _, _, code in found)
    expected = generated.expected_codes
    for code in CODES:
        if not by_code[code]:
            problems.append(f"no {code} finding, though it was seeded")
    if by_code["too_few_holders"] != expected["too_few_holders"]:
        problems.append(
            f"{by_code['too_few_holders']} too_few_holders findings for "
            f"{expected['too_few_holders']} accounts given fewer than two active holders"
        )
    counted = sum(t.active_accounts for t in report.totals)
    if counted != generated.accounts:
        problems.append(f"the totals count {counted} active accounts, not {generated.accounts}")
    total_findings = sum(t.findings for t in report.totals)
    if total_findings != len(report.findings):
        problems.append(
            f"the totals count {total_findings} findings, the report has {len(report.findings)}"
        )
    return problems


# ------------------------------------------------------------------------------ running


def run_backend(
    backend: str, size: int, repeat: int, *, want_breakdown: bool, want_explain: bool
) -> BackendResult:
    """One fresh registry: generate it, time the report ``repeat`` times, verify it."""
    now = utcnow().replace(microsecond=0)
    with (
        tempfile.TemporaryDirectory(prefix="registry-bench-") as directory,
        fresh_database(backend, Path(directory)) as url,
    ):
        settings = Settings(database_url=url, gov_domains=DOMAIN, ced_department=CED)
        engine = make_engine(url)
        try:
            generated = build_registry(engine, settings, size, now, analyze=backend == "postgresql")
            result = BackendResult(backend=backend, generated=generated)
            print(
                f"{backend:10s} generated in {generated.seconds:.1f} s: {generated.accounts:,} "
                f"active accounts (+{generated.decommissioned:,} decommissioned), "
                f"{generated.grants:,} grants, {generated.people:,} people, "
                f"{generated.credentials:,} credentials, {generated.requests:,} requests"
            )
            report = None
            for run in range(1, repeat + 1):
                seconds, report = time_report(engine, settings, now)
                result.timings.append(seconds)
                print(
                    f"{backend:10s} report run {run}/{repeat}: {seconds:.3f} s, "
                    f"{len(report.findings):,} findings"
                )
            assert report is not None
            result.findings = len(report.findings)
            result.by_code = Counter(f.code for f in report.findings)
            result.problems = verify(report, generated)
            for problem in result.problems:
                print(f"  verification failed: {problem}")
            if want_breakdown or not result.goal_met:
                result.breakdown = breakdown(engine, settings, now)
                print(f"  {backend} report by query (each timed on its own):")
                for part in sorted(result.breakdown, key=lambda p: -p.seconds):
                    print(
                        f"    {part.name:22s} {part.seconds:7.3f} s  {part.rows:7,} rows  "
                        f"{len(part.statements)} statement(s)"
                    )
                if want_explain or not result.goal_met:
                    slowest = max(result.breakdown, key=lambda p: p.seconds)
                    print(f"  {backend} plan of the slowest query, {slowest.name}:")
                    for line in explain(engine, slowest):
                        print(line)
        finally:
            engine.dispose()
    return result


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
        help=f"active accounts (default {DEFAULT_ACCOUNTS:,}); each gets "
        f"{GRANTS_PER_ACCOUNT} access grants",
    )
    parser.add_argument(
        "--repeat",
        type=positive,
        default=DEFAULT_REPEAT,
        help=f"reports to time per backend on the same registry (default {DEFAULT_REPEAT}; "
        "median reported)",
    )
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="time each of the report's queries on its own (automatic when the goal is missed)",
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="show the plan of the slowest query (automatic when the goal is missed)",
    )
    args = parser.parse_args(argv)

    backends = ["sqlite"] + (["postgresql"] if pg_url() else [])
    if len(backends) == 1:
        print(f"backends: sqlite only ({PG_ENV} does not name a PostgreSQL database)")
    results = [
        run_backend(
            backend,
            args.accounts,
            args.repeat,
            want_breakdown=args.breakdown or args.explain,
            want_explain=args.explain,
        )
        for backend in backends
    ]

    grants = args.accounts * GRANTS_PER_ACCOUNT
    label = f"median of {args.repeat}" if args.repeat > 1 else "1 run"
    print(f"results ({args.accounts:,} active accounts, {grants:,} grants; {label}):")
    for r in results:
        verdict = "met" if r.goal_met else "NOT met"
        print(
            f"  {r.backend:10s} generation {r.generated.seconds:6.1f} s  report "
            f"{r.seconds:7.3f} s  {r.findings:,} findings  goal under {GOAL_SECONDS:g} s: {verdict}"
        )
        expected = r.generated.expected_codes
        for code in CODES:
            print(f"    {code:22s} {r.by_code[code]:7,} (expected {expected[code]:,})")
    goal_met = all(r.goal_met for r in results)
    print(
        f"goal:     the report in under {GOAL_SECONDS:g} s on every backend: "
        f"{'met' if goal_met else 'NOT met'}"
    )
    failed = any(r.problems for r in results)
    if failed:
        print("verification: FAILED")
    else:
        print(
            "verification: ok (findings match the seeded faults exactly, every code occurs, "
            "the totals add up)"
        )
    summary = {
        "benchmark": "compliance",
        "accounts": args.accounts,
        "grants": grants,
        "results": [
            {
                "backend": r.backend,
                "seconds": round(r.seconds, 3),
                "generation_seconds": round(r.generated.seconds, 1),
                "findings": r.findings,
                "by_code": dict(sorted(r.by_code.items())),
                "goal_met": r.goal_met,
            }
            for r in results
        ],
        "repeat": args.repeat,
        "goal_seconds": GOAL_SECONDS,
        "goal_met": goal_met,
        "verified": not failed,
    }
    print(json.dumps(summary))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
