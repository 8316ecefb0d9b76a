"""Crash safety: a handover killed (SIGKILL) at any point leaves the database fully before;
one that finished leaves it fully after; and the next run is never blocked.

The handover runs as a real subprocess, ``tests/crash_handover.py``: what ``registry
handover`` does, with an ``on_step`` hook that stops at one of the handover's steps and says
so in a flag file; the test then kills it there, with its transaction open. The run that
completes afterwards is the ``registry handover`` command itself, as a real subprocess.
"""

from __future__ import annotations

import datetime as dt
import inspect
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import Session

from registry.keys import session_info
from registry.models import PersonRole, Role
from registry.services import access, audit, credentials, handover, requests, tokens
from registry.services.actors import actor_by_email
from tests import crash_handover
from tests.conftest import FreshDatabase, Rows, table_rows
from tests.factories import CAST, World
from vault import Secret

ROOT = Path(__file__).resolve().parents[1]
ADMIN, LEAVER, SUCCESSOR = CAST["admin"][0], CAST["agr_staff"][0], CAST["agr_requester"][0]
# Every step of a handover (its ``on_step`` names), in the order a run reaches them.
POINTS = [
    "handover.planned",  # checked and planned, nothing changed yet (locks held)
    "handover.grants_ended",  # the leaver's grants are ended
    "handover.grants_added",  # successors hold the accounts
    "handover.leaver_left",  # left, tokens revoked, roles removed, requests moved, rotations due
    "handover.recorded",  # the handover row and the audit events are written
    "handover.flushed",  # every statement has run; only COMMIT is left
]
COMMAND = ("handover", LEAVER, "--to", SUCCESSOR, "--as", ADMIN)
PAUSED_RUN = ("-m", "tests.crash_handover", LEAVER, SUCCESSOR, ADMIN)  # + step, flag file
WAIT = 60.0  # seconds: a generous bound on any one subprocess, never a performance figure
AFFECTED = {
    "person",
    "person_role",
    "access_grant",
    "api_token",
    "account_request",
    "credential",
    "handover",
    "audit_event",
    "audit_head",
}


def build(db: FreshDatabase) -> None:
    """A departing account manager with several accounts, credentials, a request and a token."""
    settings, keyring = db.settings(), db.keyring()
    with db.scope() as session:
        world = World.build(session, settings)
        session.add(
            PersonRole(person_id=world.people["agr_staff"].id or 0, role=Role.dept_approver.value)
        )
        ced1 = world.actor("ced1")
        # the leaver is the only holder besides CED: the successor must be added
        news = world.account("AgrNews", holders=("ced1", "agr_staff"))
        world.account("HealthNews", department="HLT", holders=("ced2", "agr_staff"))
        world.account("AgrJobs", holders=("ced2", "agr_staff"), login_email=LEAVER)
        # the successor already holds this one
        events = world.account("AgrEvents", holders=("ced1", "agr_staff", "agr_requester"))
        # the leaver revealed this one's password, then lost access
        past = world.account("AgrPast", holders=("ced1", "ced2", "agr_staff"))
        # nobody leaving holds this one: it must not change
        other = world.account("FinNews", department="FIN", holders=("ced1", "ced2"))
        for account, kind, value in [
            (news, "password", "old news password"),
            (news, "password", "news password"),
            (news, "recovery_codes", "1111 2222"),
            (events, "password", "events password"),
            (past, "password", "past password"),
            (other, "password", "finance password"),
        ]:
            credentials.put(
                session,
                keyring=keyring,
                actor=ced1,
                account_id=account.id or 0,
                kind=kind,
                value=Secret(value),
            )
        credentials.reveal(
            session,
            keyring=keyring,
            actor=world.actor("agr_staff"),
            account_id=past.id or 0,
            kind="password",
            reason="Scheduled post",
        )
        access.revoke(
            session,
            settings=settings,
            actor=world.actor("admin"),
            account_id=past.id or 0,
            email=LEAVER,
        )
        requests.submit_new_account(
            session,
            settings=settings,
            actor=world.actor("agr_staff"),
            platform="tiktok",
            handle="mbagclips",
            url="https://tiktok.com/@mbagclips",
            category="official",
            department="AGR",
            purpose="Clips",
            login_email="agr.social@gov.mb.ca",
            holders=[CAST["agr_approver"][0], LEAVER],
        )
        tokens.create_token(session, actor=None, email=LEAVER)
        tokens.create_token(session, actor=None, email=SUCCESSOR)


def settled(state: Rows, before: Rows) -> Rows:
    """``state`` with what two runs of the same handover may differ in made comparable: the
    time it ran, the ids of the rows it added (a PostgreSQL sequence does not roll back, so a
    killed run uses some up) and the audit hashes, which cover the time."""
    times = {
        v
        for rows in before.values()
        for row in rows
        for v in row.values()
        if isinstance(v, dt.datetime)
    }
    new_ids: dict[str, dict[Any, str]] = {}
    for table, rows in state.items():
        old = {row.get("id") for row in before[table]}
        added = sorted(row["id"] for row in rows if "id" in row and row["id"] not in old)
        new_ids[table] = {value: f"new {table} {n}" for n, value in enumerate(added, 1)}
    handover_ids = new_ids["handover"]
    old_seqs = {row["seq"] for row in before["audit_event"]}
    old_ids = {table: {row.get("id") for row in rows} for table, rows in before.items()}
    old_head = before["audit_head"]
    out: Rows = {}
    for table, rows in state.items():
        settled_rows = []
        for original in rows:
            row = {
                k: "<run time>" if isinstance(v, dt.datetime) and v not in times else v
                for k, v in original.items()
            }
            if "id" in row and row["id"] in new_ids[table]:
                row["id"] = new_ids[table][row["id"]]
            if table == "audit_event" and row["seq"] not in old_seqs:
                row.update(prev_hash="<chained>", hash="<chained>")
                if "handover_id" in row["details"]:
                    row["details"] = {
                        **row["details"],
                        "handover_id": handover_ids[row["details"]["handover_id"]],
                    }
            if table == "audit_head" and [original] != old_head:
                row["last_hash"] = "<chained>"
            if table == "outbox_message" and row["id"] not in old_ids["outbox_message"]:
                row["message_id"] = "<random>"  # each message's own, made when it is queued
            if table == "handover":
                row["report"] = {
                    **row["report"],
                    "id": handover_ids[row["report"]["id"]],
                    "at": "<run time>",
                }
            settled_rows.append(row)
        out[table] = sorted(settled_rows, key=repr)
    return out


def chain_is_whole(db: FreshDatabase) -> None:
    with Session(db.engine) as session:
        verdict = audit.verify(session, key=db.keyring().audit_key)
        head = session.execute(select(audit.HEAD)).one()
    assert verdict.whole, verdict.message
    assert verdict.unsealed == 0 and verdict.last_seq == head.last_seq


@dataclass
class Crash:
    """A built world on a fresh database: its state, and the state a completed handover gives."""

    db: FreshDatabase
    tmp: Path
    before: Rows
    after: Rows
    reached: list[str]
    running: list[subprocess.Popen[bytes]]

    def start(self, pause_at: str | None) -> tuple[subprocess.Popen[bytes], Path, Path]:
        """The handover of LEAVER to SUCCESSOR by ADMIN as a real process: paused at the step
        ``pause_at`` (``tests/crash_handover.py``), or else ``registry handover``."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
        env.update(self.db.env())
        n = len(self.running)
        flag, err = self.tmp / f"paused-{n}", self.tmp / f"stderr-{n}"
        if pause_at is not None:
            args = [*PAUSED_RUN, pause_at, str(flag)]
        else:
            args = ["-m", "cli.main", *COMMAND]
        with err.open("wb") as stderr:
            process = subprocess.Popen(
                [sys.executable, *args],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        self.running.append(process)
        return process, flag, err

    def kill_at(self, point: str) -> None:
        """Start a run, wait until it is paused at ``point``, and SIGKILL it there."""
        process, flag, err = self.start(point)
        deadline = time.monotonic() + WAIT
        while not (flag.exists() and flag.read_text() == point + "\n"):
            if process.poll() is not None:
                pytest.fail(
                    f"The handover exited ({process.returncode}) instead of pausing at {point}: "
                    f"{err.read_text()}"
                )
            if time.monotonic() > deadline:
                pytest.fail(f"The handover did not reach {point} within {WAIT:.0f} s.")
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=WAIT) == -signal.SIGKILL

    def complete(self) -> None:
        """A run without a pause; it waits for any lock a killed run left (within a bound)."""
        process, _, err = self.start(None)
        assert process.wait(timeout=WAIT) == 0, err.read_text()


@pytest.fixture
def crash(fresh_db: FreshDatabase, tmp_path: Path) -> Iterator[Crash]:
    build(fresh_db)
    before = table_rows(fresh_db.engine)
    assert set(before) >= AFFECTED
    # the reference: the same handover, run here to its end and then rolled back
    settings = fresh_db.settings()
    reached: list[str] = []
    with Session(fresh_db.engine, info=session_info(settings)) as session:
        handover.handover(
            session,
            settings=settings,
            actor=actor_by_email(session, settings, ADMIN),
            departing=LEAVER,
            successor=SUCCESSOR,
            on_step=reached.append,
        )
        after = table_rows(session)
        session.rollback()
    assert table_rows(fresh_db.engine) == before
    state = Crash(fresh_db, tmp_path, before, after, reached, running=[])
    try:
        yield state
    finally:
        for process in state.running:  # a failed test must not leave a run holding locks
            if process.poll() is None:
                process.kill()
                process.wait()


class TestKilledHandover:
    @pytest.mark.parametrize("point", POINTS)
    def test_killed_at_a_step_changes_nothing(self, crash: Crash, point: str) -> None:
        crash.kill_at(point)
        assert table_rows(crash.db.engine) == crash.before
        chain_is_whole(crash.db)
        # no stale lock: the next run goes through and does the whole handover
        crash.complete()
        assert settled(table_rows(crash.db.engine), crash.before) == settled(
            crash.after, crash.before
        )
        chain_is_whole(crash.db)

    def test_a_run_that_finished_is_fully_after(self, crash: Crash) -> None:
        assert crash.reached == POINTS  # every point above is a real point of a real run
        crash.complete()
        state = table_rows(crash.db.engine)
        assert settled(state, crash.before) == settled(crash.after, crash.before)
        chain_is_whole(crash.db)
        # and "after" is the handover, not a copy of "before"
        assert state != crash.before
        [leaver] = [p for p in state["person"] if p["email"] == LEAVER]
        [successor] = [p for p in state["person"] if p["email"] == SUCCESSOR]
        assert leaver["status"] == "left" and leaver["left_at"] is not None
        assert not [
            g
            for g in state["access_grant"]
            if g["person_id"] == leaver["id"] and g["revoked_at"] is None
        ]
        assert len(state["access_grant"]) == len(crash.before["access_grant"]) + 3
        assert [r["role"] for r in state["person_role"] if r["person_id"] == leaver["id"]] == [
            "requester"
        ]
        assert all(
            t["revoked_at"] is not None
            for t in state["api_token"]
            if t["person_id"] == leaver["id"]
        )
        assert [r["requester_id"] for r in state["account_request"]] == [successor["id"]]
        assert sum(c["rotation_due_at"] is not None for c in state["credential"]) == 4
        assert len(state["handover"]) == 1


class TestPauseHook:
    def test_inert_unless_it_is_the_step(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        slept: list[float] = []
        monkeypatch.setattr(crash_handover.time, "sleep", slept.append)
        flag = tmp_path / "paused"
        hook = crash_handover.pause_at("handover.grants_added", flag)
        hook("handover.grants_ended")
        assert slept == [] and not flag.exists()
        hook = crash_handover.pause_at("handover.grants_ended", flag)
        hook("handover.grants_ended")
        assert slept == [crash_handover.PAUSE_SECONDS]
        assert flag.read_text() == "handover.grants_ended\n"


class TestNoHookInTheService:
    def test_the_handover_reads_no_pause_variable(
        self, fresh_db: FreshDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The crash-test hook lives in the test: whatever the environment says, a handover
        without ``on_step`` runs straight through (as ``registry handover`` calls it)."""
        source = inspect.getsource(handover)
        assert "environ" not in source and "REGISTRY_PAUSE" not in source
        build(fresh_db)
        flag = tmp_path / "paused"
        monkeypatch.setenv("REGISTRY_PAUSE_AT", "handover.planned")
        monkeypatch.setenv("REGISTRY_PAUSE_FILE", str(flag))
        settings = fresh_db.settings()
        with fresh_db.scope() as session:
            report = handover.handover(
                session,
                settings=settings,
                actor=actor_by_email(session, settings, ADMIN),
                departing=LEAVER,
                successor=SUCCESSOR,
            )
        assert report.id is not None and not flag.exists()


class TestDryRunSteps:
    def test_a_dry_run_takes_no_step(self, fresh_db: FreshDatabase) -> None:
        build(fresh_db)
        settings = fresh_db.settings()
        reached: list[str] = []
        with fresh_db.scope() as session:
            handover.handover(
                session,
                settings=settings,
                actor=actor_by_email(session, settings, ADMIN),
                departing=LEAVER,
                successor=SUCCESSOR,
                dry_run=True,
                on_step=reached.append,
            )
        assert reached == []
