"""``registry backup`` and ``registry restore``: a consistent snapshot, brought back whole into an
empty registry, secrets still sealed; every refusal changes nothing."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from sqlalchemy import Engine, MetaData, inspect, select
from typer.testing import CliRunner

from cli.main import app
from registry import migrate
from registry.db import make_engine
from registry.services import access, audit, credentials, requests, tokens
from registry.services import backup as service
from tests.conftest import FreshDatabase, empty_database, postgres_only
from tests.factories import CAST, World
from vault import Keyring, Secret

ADMIN = CAST["admin"][0]
CED1 = CAST["ced1"][0]
CANARY = f"canary-{uuid.uuid4().hex}"


# ------------------------------------------------------------------------------ helpers


@dataclass
class Target:
    """A second, empty database: an SQLite file or a PostgreSQL schema, not migrated."""

    url: str
    engine: Engine


@contextmanager
def new_target(tmp_path: Path, name: str) -> Iterator[Target]:
    with empty_database(tmp_path, name) as (url, engine):
        yield Target(url=url, engine=engine)


@pytest.fixture
def target(tmp_path: Path) -> Iterator[Target]:
    with new_target(tmp_path, "target") as made:
        yield made


@dataclass
class Source:
    db: FreshDatabase
    account_id: int

    @property
    def keyring(self) -> Path:
        return self.db.keyring_path


@pytest.fixture
def source(fresh_db: FreshDatabase) -> Source:
    """A registry with people, accounts, grants, a canary credential, a request, a token."""
    settings = fresh_db.settings()
    keyring = fresh_db.keyring()
    with fresh_db.scope() as session:
        world = World.build(session, settings)
        account = world.account("ManitobaAg", holders=("ced1", "agr_staff"))
        world.account(
            "MBHealth",
            holders=("ced2", "hlt_requester"),
            department="HLT",
            login_email="hlt.social@gov.mb.ca",
        )
        assert account.id is not None
        access.grant(
            session,
            settings=settings,
            actor=world.actor("ced1"),
            account_id=account.id,
            email=world.email("ced2"),
        )
        credentials.put(
            session,
            keyring=keyring,
            actor=world.actor("ced1"),
            account_id=account.id,
            kind="password",
            value=Secret(CANARY),
        )
        credentials.reveal(
            session,
            keyring=keyring,
            actor=world.actor("ced2"),
            account_id=account.id,
            kind="password",
            reason="Posting the budget",
        )
        requests.submit_new_account(
            session,
            settings=settings,
            actor=world.actor("agr_requester"),
            platform="x",
            handle="@MBAgNews",
            url="https://x.com/MBAgNews",
            category="official",
            department="AGR",
            purpose="News",
            login_email="agr.social@gov.mb.ca",
            holders=[world.email("agr_staff")],
        )
        tokens.create_token(session, actor=None, email=world.email("admin"))
        account_id = account.id
    return Source(db=fresh_db, account_id=account_id)


def run(url: str, keyring: Path, *args: str, input: str | None = None) -> Result:
    env = {"REGISTRY_DATABASE_URL": url, "REGISTRY_KEYRING": str(keyring)}
    return CliRunner().invoke(app, list(args), env=env, input=input)


def ok(result: Result) -> Result:
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result


def refused(result: Result, *phrases: str) -> str:
    assert result.exit_code == 1, (result.stdout, result.stderr, result.exception)
    message = result.stderr
    assert "Traceback" not in message + result.stdout
    for phrase in phrases:
        assert phrase in message
    return message


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    return value


def dump(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Every registry table's rows, in key order, with times as aware UTC (any backend)."""
    meta = MetaData()
    with engine.connect() as conn:
        meta.reflect(conn)
        out = {}
        for table in meta.sorted_tables:
            if table.name == "alembic_version":
                continue
            order = list(table.primary_key.columns) or list(table.columns)
            rows = conn.execute(select(table).order_by(*order)).mappings()
            out[table.name] = [{k: _plain(v) for k, v in row.items()} for row in rows]
    return out


def table_names(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return inspect(conn).get_table_names()


def assert_restored(before: dict[str, list[dict[str, Any]]], engine: Engine) -> None:
    """Every row is back; the log has the backup's events and then the restore's."""
    after = dump(engine)
    assert set(after) == set(before)
    for name, rows in before.items():
        if name in ("audit_event", "audit_head"):
            continue
        assert after[name] == rows, name
    assert after["audit_event"][:-1] == before["audit_event"]
    last = after["audit_event"][-1]
    assert last["action"] == "backup.restored" and last["actor_id"] is None
    assert last["seq"] == before["audit_event"][-1]["seq"] + 1


def backup_file(source: Source, tmp_path: Path, name: str = "registry.backup") -> Path:
    path = tmp_path / name
    ok(run(source.db.url, source.keyring, "backup", str(path)))
    return path


def assert_untouched(target: Target) -> None:
    assert table_names(target.engine) == []


# ------------------------------------------------------------------------------ round trip


class TestRoundTrip:
    def test_restore_brings_back_every_row_and_the_secrets_still_open(
        self, source: Source, target: Target, tmp_path: Path
    ) -> None:
        before = dump(source.db.engine)
        path = tmp_path / "registry.backup"
        made = json.loads(
            ok(run(source.db.url, source.keyring, "backup", str(path), "--json")).stdout
        )
        assert made["revision"] == migrate.head() and made["audit_recorded"] is True
        assert made["tables"] == {name: len(rows) for name, rows in before.items()}
        assert made["tables"]["credential"] == 1 and made["tables"]["access_grant"] == 5
        # The file: 0600, the only one left in the folder, secrets sealed, a registry backup.
        assert path.stat().st_mode & 0o777 == 0o600
        assert sorted(p.name for p in tmp_path.iterdir() if "backup" in p.name) == [path.name]
        data = path.read_bytes()
        assert CANARY.encode() not in data
        sealed = before["credential"][0]["sealed"]
        assert sealed.encode() in data  # copied verbatim, still sealed
        assert service.read_backup(path).digest == made["digest"]
        # The backup is audited in the registry it copied (after the snapshot, so not in it).
        events = dump(source.db.engine)["audit_event"]
        assert events[:-1] == before["audit_event"]
        assert events[-1]["action"] == "backup.created"
        assert events[-1]["entity_id"] == made["backup_id"]

        done = json.loads(
            ok(run(target.url, source.keyring, "restore", str(path), "--json")).stdout
        )
        assert done["migrated"] is True and done["keyring_checked"] is True
        assert done["audit"]["whole"] is True and done["rows"] == made["rows"]
        assert_restored(before, target.engine)

        revealed = ok(
            run(
                target.url,
                source.keyring,
                "vault",
                "reveal",
                str(source.account_id),
                "--kind",
                "password",
                "--reason",
                "Checking the restore",
                "--as",
                CED1,
                "--json",
            )
        )
        assert json.loads(revealed.stdout)["value"] == CANARY
        verified = ok(run(target.url, source.keyring, "audit", "verify", "--as", ADMIN))
        assert "The audit log is whole" in verified.stdout

    def test_restore_into_a_migrated_empty_registry_and_new_rows_get_fresh_ids(
        self, source: Source, target: Target, tmp_path: Path
    ) -> None:
        migrate.upgrade(target.engine)
        path = backup_file(source, tmp_path)
        before = dump(source.db.engine)
        result = ok(run(target.url, source.keyring, "restore", str(path)))
        assert "every table holds the backup's row count" in result.stdout
        assert "The audit log is whole" in result.stdout
        assert "was first migrated" not in result.stdout

        def new_id(*args: str, input: str | None = None) -> int:
            out = ok(run(target.url, source.keyring, *args, "--json", input=input)).stdout
            return int(json.loads(out)["id"])

        def highest(table: str) -> int:
            return max(row["id"] for row in before[table])

        assert new_id("departments", "add", "EDU", "Education", "--as", ADMIN) == (
            highest("department") + 1
        )
        person = new_id(
            "people",
            "add",
            "ed.new@gov.mb.ca",
            "--name",
            "Ed",
            "--department",
            "EDU",
            "--as",
            ADMIN,
        )
        assert person == highest("person") + 1
        assert new_id("tokens", "create", ADMIN, "--as", ADMIN) == highest("api_token") + 1
        put = ok(
            run(
                target.url,
                source.keyring,
                "vault",
                "put",
                str(source.account_id),
                "--kind",
                "password",
                "--as",
                CED1,
                "--json",
                input="a-new-password\n",
            )
        )
        assert json.loads(put.stdout)["version"] == 2
        after = dump(target.engine)
        assert [c["id"] for c in after["credential"]] == [
            highest("credential"),
            highest("credential") + 1,
        ]
        ok(run(target.url, source.keyring, "audit", "verify", "--as", ADMIN))

    def test_a_backup_taken_while_the_registry_is_written_is_one_snapshot(
        self, source: Source, target: Target, tmp_path: Path
    ) -> None:
        """A writer appends audit events (event and chain head in one transaction) all along."""
        stop, started = threading.Event(), threading.Event()
        errors: list[BaseException] = []

        def write() -> None:
            try:
                n = 0
                while not stop.is_set():
                    n += 1
                    with source.db.scope() as session:
                        audit.record(
                            session, actor=None, action="test.tick", entity_type="test", entity_id=n
                        )
                    started.set()
            except BaseException as exc:  # reported below
                errors.append(exc)
                started.set()

        writer = threading.Thread(target=write)
        writer.start()
        try:
            assert started.wait(60)
            path = tmp_path / "busy.backup"
            manifest = service.backup(engine=source.db.engine, path=path)
        finally:
            stop.set()
            writer.join()
        assert not errors
        with sqlite3.connect(path) as conn:
            [(last_seq,)] = conn.execute("SELECT last_seq FROM audit_head").fetchall()
            [(max_seq,)] = conn.execute("SELECT max(seq) FROM audit_event").fetchall()
        assert last_seq == max_seq == manifest.tables["audit_event"]
        done = json.loads(
            ok(run(target.url, source.keyring, "restore", str(path), "--json")).stdout
        )
        assert done["audit"]["whole"] is True
        assert done["audit"]["events"] == manifest.tables["audit_event"] + 1


# ------------------------------------------------------------------------------ refusals


class TestBackupRefusals:
    def test_an_existing_file_is_never_overwritten(self, source: Source, tmp_path: Path) -> None:
        path = tmp_path / "taken.backup"
        path.write_text("keep me")
        before = dump(source.db.engine)
        refused(run(source.db.url, source.keyring, "backup", str(path)), "already exists")
        assert path.read_text() == "keep me"
        assert dump(source.db.engine) == before  # no backup event either
        assert sorted(p.name for p in tmp_path.iterdir() if "backup" in p.name) == [path.name]

    def test_an_uninitialised_registry_has_nothing_to_back_up(
        self, target: Target, tmp_path: Path
    ) -> None:
        path = tmp_path / "empty.backup"
        refused(run(target.url, tmp_path / "k", "backup", str(path)), "nothing to back up")
        assert not path.exists()
        assert [p for p in tmp_path.iterdir() if p.name.startswith(".")] == []


class TestRestoreRefusals:
    def test_a_registry_that_is_not_empty(self, source: Source, tmp_path: Path) -> None:
        path = backup_file(source, tmp_path)
        before = dump(source.db.engine)
        refused(
            run(source.db.url, source.keyring, "restore", str(path)),
            "is not empty",
            "restore only into an empty registry",
        )
        assert dump(source.db.engine) == before

    def test_a_file_that_is_not_a_backup(
        self, source: Source, target: Target, tmp_path: Path
    ) -> None:
        garbage = tmp_path / "garbage.bin"
        garbage.write_bytes(os.urandom(4096))
        refused(
            run(target.url, source.keyring, "restore", str(garbage)), "is not a registry backup"
        )
        database = tmp_path / "other.db"
        with sqlite3.connect(database) as conn:
            conn.execute("CREATE TABLE person (id INTEGER PRIMARY KEY, email TEXT)")
        refused(
            run(target.url, source.keyring, "restore", str(database)),
            "is an SQLite database but not a registry backup",
        )
        refused(run(target.url, source.keyring, "restore", str(tmp_path / "nosuch")), "no file")
        assert_untouched(target)

    @pytest.mark.parametrize("cut", ["half", "one page short", "ten bytes"])
    def test_a_truncated_backup(
        self, source: Source, target: Target, tmp_path: Path, cut: str
    ) -> None:
        data = backup_file(source, tmp_path).read_bytes()
        size = {"half": len(data) // 2, "one page short": len(data) - 4096, "ten bytes": 10}[cut]
        short = tmp_path / "short.backup"
        short.write_bytes(data[:size])
        refused(run(target.url, source.keyring, "restore", str(short)), "is a damaged backup")
        assert_untouched(target)

    def test_an_altered_backup(self, source: Source, target: Target, tmp_path: Path) -> None:
        path = backup_file(source, tmp_path)
        data = path.read_bytes()
        flipped = tmp_path / "flipped.backup"
        assert b"Program news" in data
        flipped.write_bytes(data.replace(b"Program news", b"Pr0gram news"))
        refused(
            run(target.url, source.keyring, "restore", str(flipped)),
            "is a damaged backup (its rows do not match their digest)",
        )
        edited = tmp_path / "edited.backup"
        edited.write_bytes(data)
        with sqlite3.connect(edited) as conn:
            conn.execute("DELETE FROM audit_event WHERE seq = (SELECT max(seq) FROM audit_event)")
        refused(run(target.url, source.keyring, "restore", str(edited)), "is a damaged backup")
        assert_untouched(target)

    def test_a_backup_of_another_schema_revision(
        self, source: Source, target: Target, tmp_path: Path
    ) -> None:
        path = backup_file(source, tmp_path)
        migrate.upgrade(target.engine, "0007")
        refused(
            run(target.url, source.keyring, "restore", str(path)),
            f"at schema revision {migrate.head()} but the registry",
            "is at 0007",
        )
        assert migrate.current(target.engine) == "0007"
        assert all(not rows for name, rows in dump(target.engine).items() if name != "audit_head")
        newer = tmp_path / "newer.backup"
        newer.write_bytes(path.read_bytes())
        with sqlite3.connect(newer) as conn:
            conn.execute("UPDATE alembic_version SET version_num = '9999'")
            conn.execute("UPDATE registry_backup SET value = '9999' WHERE key = 'revision'")
        fresh = tmp_path / "fresh"
        fresh.mkdir()
        with new_target(fresh, "other") as other:
            refused(
                run(other.url, source.keyring, "restore", str(newer)),
                "schema revision 9999, which this version of the registry does not know",
            )
            assert_untouched(other)

    def test_another_keyring_is_refused_unless_told_to_skip_the_checks(
        self, source: Source, target: Target, tmp_path: Path
    ) -> None:
        path = backup_file(source, tmp_path)
        other = tmp_path / "other.keyring"
        Keyring.create(other)
        refused(
            run(target.url, other, "restore", str(path)),
            "does not verify with the keyring",
            "nothing was restored",
        )
        assert all(not rows for name, rows in dump(target.engine).items() if name != "audit_head")
        missing = tmp_path / "missing.keyring"
        refused(run(target.url, missing, "restore", str(path)), "vault is unavailable")

        done = ok(run(target.url, other, "restore", str(path), "--skip-keyring-checks"))
        assert "The keyring was not checked" in done.stdout
        no_secret = run(
            target.url,
            other,
            "vault",
            "reveal",
            str(source.account_id),
            "--kind",
            "password",
            "--reason",
            "Lost keyring",
            "--as",
            CED1,
        )
        assert no_secret.exit_code == 1 and CANARY not in no_secret.stdout + no_secret.stderr
        # The data is whole: with the right keyring the secret opens, and the chain verifies
        # up to the restore's own event, which was sealed with the other keyring's audit key.
        shown = run(
            target.url,
            source.keyring,
            "vault",
            "reveal",
            str(source.account_id),
            "--kind",
            "password",
            "--reason",
            "Keyring found",
            "--as",
            CED1,
        )
        assert ok(shown).stdout.strip() == CANARY
        restored_at = dump(target.engine)["audit_event"][-2]
        assert restored_at["action"] == "backup.restored"
        broken = run(target.url, source.keyring, "audit", "verify", "--as", ADMIN)
        refused(broken, f"NOT whole at sequence {restored_at['seq']}")

    def test_a_keyring_copied_before_a_key_rotation_is_refused(
        self, source: Source, target: Target, tmp_path: Path
    ) -> None:
        stale = tmp_path / "stale.keyring"
        shutil.copy2(source.keyring, stale)
        ok(run(source.db.url, source.keyring, "vault", "rotate-key", "--as", ADMIN))
        path = backup_file(source, tmp_path)
        refused(
            run(target.url, stale, "restore", str(path)),
            "sealed under master key(s) k2, which the keyring",
            "restore with the keyring in use when the backup was taken",
        )
        assert all(not rows for name, rows in dump(target.engine).items() if name != "audit_head")
        ok(run(target.url, source.keyring, "restore", str(path)))


# ------------------------------------------------------------------------------ processes, backends


class TestAsARealProcess:
    def test_backup_runs_as_the_installed_command(self, source: Source, tmp_path: Path) -> None:
        command = Path(sys.executable).parent / "registry"
        path = tmp_path / "process.backup"
        env = {
            **os.environ,
            "REGISTRY_DATABASE_URL": source.db.url,
            "REGISTRY_KEYRING": str(source.keyring),
        }
        done = subprocess.run(
            [str(command), "backup", str(path), "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["digest"] == service.read_backup(path).digest
        assert path.stat().st_mode & 0o777 == 0o600
        again = subprocess.run(
            [str(command), "backup", str(path)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert again.returncode == 1 and "already exists" in again.stderr
        assert "Traceback" not in again.stderr


@postgres_only
class TestAcrossBackends:
    def test_postgresql_to_sqlite_and_back(
        self, source: Source, target: Target, tmp_path: Path
    ) -> None:
        before = dump(source.db.engine)
        from_pg = backup_file(source, tmp_path, "from-pg.backup")
        lite = f"sqlite:///{tmp_path / 'restored.db'}"
        ok(run(lite, source.keyring, "restore", str(from_pg)))
        lite_engine = make_engine(lite)
        try:
            assert_restored(before, lite_engine)
            middle = dump(lite_engine)
        finally:
            lite_engine.dispose()
        from_lite = tmp_path / "from-sqlite.backup"
        ok(run(lite, source.keyring, "backup", str(from_lite)))
        ok(run(target.url, source.keyring, "restore", str(from_lite)))
        assert_restored(middle, target.engine)
        ok(run(target.url, source.keyring, "audit", "verify", "--as", ADMIN))
