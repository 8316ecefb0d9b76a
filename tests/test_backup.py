"""``registry backup`` and ``registry restore``: a consistent snapshot, brought back whole into an
empty registry, secrets still sealed; every refusal changes nothing."""

from __future__ import annotations

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

import pytest
from sqlalchemy import Engine, MetaData, inspect, select

from registry import migrate
from registry.db import make_engine
from registry.jobs import backup as job
from registry.services import access, audit, credentials, requests, tokens
from tests.conftest import (
    Cli,
    FreshDatabase,
    Rows,
    assert_cli_refused,
    empty_database,
    postgres_only,
    table_rows,
)
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

    def cli(self, keyring: Path) -> Cli:
        """The command on this database, with that keyring."""
        return Cli.on(self.url, keyring)


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

    @property
    def cli(self) -> Cli:
        return Cli(self.db.env())


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


def holds_no_rows(engine: Engine) -> bool:
    """Whether every table is empty but the audit chain's head (which a migration writes), at
    whatever schema revision the database is (its tables are reflected, not the models')."""
    meta = MetaData()
    with engine.connect() as conn:
        meta.reflect(conn)
        return not any(
            conn.execute(select(table).limit(1)).first()
            for table in meta.sorted_tables
            if table.name not in ("alembic_version", "audit_head")
        )


def table_names(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return inspect(conn).get_table_names()


def assert_restored(before: Rows, engine: Engine) -> None:
    """Every row is back; the log has the backup's events and then the restore's."""
    after = table_rows(engine)
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
    source.cli.ok("backup", str(path))
    return path


def assert_untouched(target: Target) -> None:
    assert table_names(target.engine) == []


# ------------------------------------------------------------------------------ round trip


class TestRoundTrip:
    def test_restore_brings_back_every_row_and_the_secrets_still_open(
        self, source: Source, target: Target, tmp_path: Path
    ) -> None:
        before = table_rows(source.db.engine)
        path = tmp_path / "registry.backup"
        made = source.cli.json("backup", str(path))
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
        assert job.read_backup(path).digest == made["digest"]
        # The backup is audited in the registry it copied (after the snapshot, so not in it).
        events = table_rows(source.db.engine)["audit_event"]
        assert events[:-1] == before["audit_event"]
        assert events[-1]["action"] == "backup.created"
        assert events[-1]["entity_id"] == made["backup_id"]

        done = target.cli(source.keyring).json("restore", str(path))
        assert done["migrated"] is True and done["keyring_checked"] is True
        assert done["audit"]["whole"] is True and done["rows"] == made["rows"]
        assert_restored(before, target.engine)

        revealed = target.cli(source.keyring).ok(
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
        assert json.loads(revealed.stdout)["value"] == CANARY
        verified = target.cli(source.keyring).ok("audit", "verify", "--as", ADMIN)
        assert "The audit log is whole" in verified.stdout

    def test_restore_into_a_migrated_empty_registry_and_new_rows_get_fresh_ids(
        self, source: Source, target: Target, tmp_path: Path
    ) -> None:
        migrate.upgrade(target.engine)
        path = backup_file(source, tmp_path)
        before = table_rows(source.db.engine)
        result = target.cli(source.keyring).ok("restore", str(path))
        assert "every table holds the backup's row count" in result.stdout
        assert "The audit log is whole" in result.stdout
        assert "was first migrated" not in result.stdout

        def new_id(*args: str, input: str | None = None) -> int:
            return int(target.cli(source.keyring).json(*args, input=input)["id"])

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
        put = target.cli(source.keyring).ok(
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
        assert json.loads(put.stdout)["version"] == 2
        after = table_rows(target.engine)
        assert [c["id"] for c in after["credential"]] == [
            highest("credential"),
            highest("credential") + 1,
        ]
        target.cli(source.keyring).ok("audit", "verify", "--as", ADMIN)

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
            manifest = job.backup(engine=source.db.engine, path=path)
        finally:
            stop.set()
            writer.join()
        assert not errors
        with sqlite3.connect(path) as conn:
            [(last_seq,)] = conn.execute("SELECT last_seq FROM audit_head").fetchall()
            [(max_seq,)] = conn.execute("SELECT max(seq) FROM audit_event").fetchall()
        assert last_seq == max_seq == manifest.tables["audit_event"]
        done = target.cli(source.keyring).json("restore", str(path))
        assert done["audit"]["whole"] is True
        assert done["audit"]["events"] == manifest.tables["audit_event"] + 1


# ------------------------------------------------------------------------------ refusals


class TestBackupRefusals:
    def test_an_existing_file_is_never_overwritten(self, source: Source, tmp_path: Path) -> None:
        path = tmp_path / "taken.backup"
        path.write_text("keep me")
        before = table_rows(source.db.engine)
        assert_cli_refused(source.cli("backup", str(path)), "already exists")
        assert path.read_text() == "keep me"
        assert table_rows(source.db.engine) == before  # no backup event either
        assert sorted(p.name for p in tmp_path.iterdir() if "backup" in p.name) == [path.name]

    def test_an_uninitialised_registry_has_nothing_to_back_up(
        self, target: Target, tmp_path: Path
    ) -> None:
        path = tmp_path / "empty.backup"
        assert_cli_refused(target.cli(tmp_path / "k")("backup", str(path)), "nothing to back up")
        assert not path.exists()
        assert [p for p in tmp_path.iterdir() if p.name.startswith(".")] == []


class TestRestoreRefusals:
    def test_a_registry_that_is_not_empty(self, source: Source, tmp_path: Path) -> None:
        path = backup_file(source, tmp_path)
        before = table_rows(source.db.engine)
        assert_cli_refused(
            source.cli("restore", str(path)),
            "is not empty",
            "restore only into an empty registry",
        )
        assert table_rows(source.db.engine) == before

    def test_a_file_that_is_not_a_backup(
        self, source: Source, target: Target, tmp_path: Path
    ) -> None:
        garbage = tmp_path / "garbage.bin"
        garbage.write_bytes(os.urandom(4096))
        assert_cli_refused(
            target.cli(source.keyring)("restore", str(garbage)), "is not a registry backup"
        )
        database = tmp_path / "other.db"
        with sqlite3.connect(database) as conn:
            conn.execute("CREATE TABLE person (id INTEGER PRIMARY KEY, email TEXT)")
        assert_cli_refused(
            target.cli(source.keyring)("restore", str(database)),
            "is an SQLite database but not a registry backup",
        )
        assert_cli_refused(
            target.cli(source.keyring)("restore", str(tmp_path / "nosuch")), "no file"
        )
        assert_untouched(target)

    @pytest.mark.parametrize("cut", ["half", "one page short", "ten bytes"])
    def test_a_truncated_backup(
        self, source: Source, target: Target, tmp_path: Path, cut: str
    ) -> None:
        data = backup_file(source, tmp_path).read_bytes()
        size = {"half": len(data) // 2, "one page short": len(data) - 4096, "ten bytes": 10}[cut]
        short = tmp_path / "short.backup"
        short.write_bytes(data[:size])
        assert_cli_refused(target.cli(source.keyring)("restore", str(short)), "is a damaged backup")
        assert_untouched(target)

    def test_an_altered_backup(self, source: Source, target: Target, tmp_path: Path) -> None:
        path = backup_file(source, tmp_path)
        data = path.read_bytes()
        flipped = tmp_path / "flipped.backup"
        assert b"Program news" in data
        flipped.write_bytes(data.replace(b"Program news", b"Pr0gram news"))
        assert_cli_refused(
            target.cli(source.keyring)("restore", str(flipped)),
            "is a damaged backup (its rows do not match their digest)",
        )
        edited = tmp_path / "edited.backup"
        edited.write_bytes(data)
        with sqlite3.connect(edited) as conn:
            conn.execute("DELETE FROM audit_event WHERE seq = (SELECT max(seq) FROM audit_event)")
        assert_cli_refused(
            target.cli(source.keyring)("restore", str(edited)), "is a damaged backup"
        )
        assert_untouched(target)

    def test_a_backup_of_another_schema_revision(
        self, source: Source, target: Target, tmp_path: Path
    ) -> None:
        path = backup_file(source, tmp_path)
        migrate.upgrade(target.engine, "0007")
        assert_cli_refused(
            target.cli(source.keyring)("restore", str(path)),
            f"at schema revision {migrate.head()} but the registry",
            "is at 0007",
        )
        assert migrate.current(target.engine) == "0007"
        assert holds_no_rows(target.engine)
        newer = tmp_path / "newer.backup"
        newer.write_bytes(path.read_bytes())
        with sqlite3.connect(newer) as conn:
            conn.execute("UPDATE alembic_version SET version_num = '9999'")
            conn.execute("UPDATE registry_backup SET value = '9999' WHERE key = 'revision'")
        fresh = tmp_path / "fresh"
        fresh.mkdir()
        with new_target(fresh, "other") as other:
            assert_cli_refused(
                other.cli(source.keyring)("restore", str(newer)),
                "schema revision 9999, which this version of the registry does not know",
            )
            assert_untouched(other)

    def test_another_keyring_is_refused_unless_told_to_skip_the_checks(
        self, source: Source, target: Target, tmp_path: Path
    ) -> None:
        path = backup_file(source, tmp_path)
        other = tmp_path / "other.keyring"
        Keyring.create(other)
        assert_cli_refused(
            target.cli(other)("restore", str(path)),
            "does not verify with the keyring",
            "nothing was restored",
        )
        assert holds_no_rows(target.engine)
        missing = tmp_path / "missing.keyring"
        assert_cli_refused(target.cli(missing)("restore", str(path)), "vault is unavailable")

        done = target.cli(other).ok("restore", str(path), "--skip-keyring-checks")
        assert "The keyring was not checked" in done.stdout
        no_secret = target.cli(other)(
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
        shown = target.cli(source.keyring).ok(
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
        assert shown.stdout.strip() == CANARY
        restored_at = table_rows(target.engine)["audit_event"][-2]
        assert restored_at["action"] == "backup.restored"
        broken = target.cli(source.keyring)("audit", "verify", "--as", ADMIN)
        assert_cli_refused(broken, f"NOT whole at sequence {restored_at['seq']}")

    def test_a_keyring_copied_before_a_key_rotation_is_refused(
        self, source: Source, target: Target, tmp_path: Path
    ) -> None:
        stale = tmp_path / "stale.keyring"
        shutil.copy2(source.keyring, stale)
        source.cli.ok("vault", "rotate-key", "--as", ADMIN)
        path = backup_file(source, tmp_path)
        assert_cli_refused(
            target.cli(stale)("restore", str(path)),
            "sealed under master key(s) k2, which the keyring",
            "restore with the keyring in use when the backup was taken",
        )
        assert holds_no_rows(target.engine)
        target.cli(source.keyring).ok("restore", str(path))


# ------------------------------------------------------------------------------ processes, backends


class TestAsARealProcess:
    def test_backup_runs_as_the_installed_command(self, source: Source, tmp_path: Path) -> None:
        command = Path(sys.executable).parent / "registry"
        path = tmp_path / "process.backup"
        env = {**os.environ, **source.db.env()}
        done = subprocess.run(
            [str(command), "backup", str(path), "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["digest"] == job.read_backup(path).digest
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
        before = table_rows(source.db.engine)
        from_pg = backup_file(source, tmp_path, "from-pg.backup")
        lite = f"sqlite:///{tmp_path / 'restored.db'}"
        Cli.on(lite, source.keyring).ok("restore", str(from_pg))
        lite_engine = make_engine(lite)
        try:
            assert_restored(before, lite_engine)
            middle = table_rows(lite_engine)
        finally:
            lite_engine.dispose()
        from_lite = tmp_path / "from-sqlite.backup"
        Cli.on(lite, source.keyring).ok("backup", str(from_lite))
        target.cli(source.keyring).ok("restore", str(from_lite))
        assert_restored(middle, target.engine)
        target.cli(source.keyring).ok("audit", "verify", "--as", ADMIN)
