"""Every file the registry writes is 0600, written whole, and never through a symbolic link.

The handover's HR CSV, a signed audit checkpoint, a backup, the SQLite database with its -wal
and -shm files: each is created mode 0600 whatever the umask (it names people and accounts,
or holds the registry), a symbolic link where it goes is refused in one sentence rather than
followed (an attacker's link would make the registry overwrite its target), and an existing
file is replaced by renaming a finished file over it, never rewritten in place.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from registry import files
from registry.db import make_engine
from tests.conftest import ON_POSTGRES, Cli, FreshDatabase, table_rows
from tests.factories import CAST, World
from vault import Keyring, VaultError

ADMIN, STAFF, RITA = CAST["admin"][0], CAST["agr_staff"][0], CAST["agr_requester"][0]
SECRET_BEFORE = "the victim's own content\n"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.fixture(autouse=True)
def _umask_022() -> Iterator[None]:
    """The usual umask, under which a plain ``open(..., "w")`` makes a 0644 file."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.fixture
def account(fresh_db: FreshDatabase) -> int:
    """An AGR account held by CED and the staff member who is leaving."""
    with fresh_db.scope() as session:
        world = World.build(session, fresh_db.settings())
        return world.account("AgrNews", holders=("ced1", "agr_staff")).id or 0


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A file an attacker would like the registry to overwrite through a link."""
    path = tmp_path / "victim.txt"
    path.write_text(SECRET_BEFORE)
    return path


def leftovers(folder: Path) -> list[str]:
    """Temporary files left in ``folder`` (there must be none)."""
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


class TestHandoverCsv:
    def test_it_is_created_0600(self, account: int, cli: Cli, tmp_path: Path) -> None:
        target = tmp_path / "hr.csv"
        cli.ok("handover", STAFF, "--to", RITA, "--dry-run", "--csv", str(target), "--as", ADMIN)
        assert target.read_text().startswith("handover_id,")
        assert mode(target) == 0o600
        assert leftovers(tmp_path) == []

    def test_a_symlink_is_refused_not_followed(
        self, account: int, cli: Cli, fresh_db: FreshDatabase, tmp_path: Path, victim: Path
    ) -> None:
        target = tmp_path / "hr.csv"
        target.symlink_to(victim)
        before = table_rows(fresh_db.engine)
        stderr = cli.refused("handover", STAFF, "--to", RITA, "--csv", str(target), "--as", ADMIN)
        assert stderr.strip() == (
            f"Cannot write {target}: it is a symbolic link, which the registry never follows; "
            "nothing changed."
        )
        assert victim.read_text() == SECRET_BEFORE and mode(victim) == 0o644
        assert target.is_symlink() and table_rows(fresh_db.engine) == before
        assert leftovers(tmp_path) == []

    def test_a_dangling_symlink_is_refused_and_creates_nothing(
        self, account: int, cli: Cli, tmp_path: Path
    ) -> None:
        target = tmp_path / "hr.csv"
        target.symlink_to(tmp_path / "created-by-the-link")
        stderr = cli.refused(
            "handover", STAFF, "--to", RITA, "--dry-run", "--csv", str(target), "--as", ADMIN
        )
        assert "it is a symbolic link, which the registry never follows" in stderr
        assert not (tmp_path / "created-by-the-link").exists()

    def test_an_existing_file_is_replaced_whole_not_rewritten_in_place(
        self, account: int, cli: Cli, tmp_path: Path
    ) -> None:
        # A second name for the old file (a hard link) keeps the old content: the new report
        # was written elsewhere and renamed over the name, so no reader ever sees half of it.
        target = tmp_path / "hr.csv"
        target.write_text("old,rows\n")
        other = tmp_path / "other-name.csv"
        os.link(target, other)
        cli.ok("handover", STAFF, "--to", RITA, "--dry-run", "--csv", str(target), "--as", ADMIN)
        assert other.read_text() == "old,rows\n"
        assert target.read_text().startswith("handover_id,") and mode(target) == 0o600
        assert leftovers(tmp_path) == []

    def test_something_other_than_a_file_is_refused(
        self, account: int, cli: Cli, tmp_path: Path
    ) -> None:
        target = tmp_path / "a-folder"
        target.mkdir()
        stderr = cli.refused("handover", STAFF, "--to", RITA, "--csv", str(target), "--as", ADMIN)
        assert stderr.strip() == (
            f"Cannot write {target}: it is not a regular file; nothing changed."
        )


class TestAuditCheckpoint:
    def test_it_is_created_0600(self, account: int, cli: Cli, tmp_path: Path) -> None:
        target = tmp_path / "head.json"
        cli.ok("audit", "checkpoint", "--out", str(target), "--as", ADMIN)
        assert mode(target) == 0o600 and '"signature"' in target.read_text()
        assert leftovers(tmp_path) == []

    def test_a_symlink_is_refused_not_followed(
        self, account: int, cli: Cli, tmp_path: Path, victim: Path
    ) -> None:
        target = tmp_path / "head.json"
        target.symlink_to(victim)
        stderr = cli.refused("audit", "checkpoint", "--out", str(target), "--as", ADMIN)
        assert stderr.strip() == (
            f"Cannot write {target}: it is a symbolic link, which the registry never follows."
        )
        assert victim.read_text() == SECRET_BEFORE and target.is_symlink()


class TestBackup:
    def test_a_symlink_is_refused_not_followed(
        self, account: int, cli: Cli, tmp_path: Path
    ) -> None:
        target = tmp_path / "registry.backup"
        target.symlink_to(tmp_path / "where-the-link-points")
        stderr = cli.refused("backup", str(target))
        assert stderr.strip() == f"{target} already exists; a backup never overwrites a file."
        assert not (tmp_path / "where-the-link-points").exists()


@pytest.mark.skipif(ON_POSTGRES, reason="the SQLite database file")
class TestSqliteDatabase:
    @pytest.mark.parametrize("umask", [0o022, 0o000], ids=["umask-022", "umask-000"])
    def test_the_database_and_its_wal_and_shm_are_0600(self, tmp_path: Path, umask: int) -> None:
        os.umask(umask)
        path = tmp_path / "new.db"
        engine = make_engine(f"sqlite:///{path}")
        try:
            with engine.begin() as conn:
                conn.execute(text("CREATE TABLE t (x INTEGER)"))
                conn.execute(text("INSERT INTO t VALUES (1)"))
            with engine.connect():  # the WAL and the shared memory exist while connected
                made = {p.name: mode(p) for p in tmp_path.iterdir() if p.name.startswith("new")}
        finally:
            engine.dispose()
        assert made == {"new.db": 0o600, "new.db-wal": 0o600, "new.db-shm": 0o600}

    def test_registry_init_makes_a_private_database(self, tmp_path: Path) -> None:
        path = tmp_path / "registry.db"
        cli = Cli.on(f"sqlite:///{path}", tmp_path / "registry.keyring")
        cli.ok("init", "--admin", ADMIN, "--name", "Ada Admin")
        assert mode(path) == 0o600 and mode(tmp_path / "registry.keyring") == 0o600

    def test_an_existing_database_is_left_as_it_is(self, tmp_path: Path) -> None:
        path = tmp_path / "old.db"
        sqlite3.connect(path).close()
        path.chmod(0o640)
        engine = make_engine(f"sqlite:///{path}")
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        finally:
            engine.dispose()
        assert mode(path) == 0o640


class TestKeyringLock:
    def test_a_symlink_at_the_lock_is_refused_not_followed(self, tmp_path: Path) -> None:
        path = tmp_path / "registry.keyring"
        keyring = Keyring.create(path)
        before = path.read_bytes()
        (tmp_path / "registry.keyring.lock").symlink_to(tmp_path / "created-by-the-link")
        with pytest.raises(VaultError, match=r"^Cannot write keyring file .*: .*\.$"):
            keyring.add_key()
        assert not (tmp_path / "created-by-the-link").exists()
        assert path.read_bytes() == before


class TestTheHelper:
    def test_a_failure_midway_leaves_the_old_file_and_no_temporary_one(
        self, tmp_path: Path
    ) -> None:
        target = tmp_path / "report.csv"
        target.write_text("complete old report\n")
        with pytest.raises(RuntimeError), files.private_file(target) as out:
            out.write("half of the new")
            raise RuntimeError("the process dies here")
        assert target.read_text() == "complete old report\n"
        assert leftovers(tmp_path) == []

    @pytest.mark.parametrize("umask", [0o022, 0o277], ids=["umask-022", "umask-277"])
    def test_the_mode_is_0600_whatever_the_umask(self, tmp_path: Path, umask: int) -> None:
        os.umask(umask)
        files.write_private(tmp_path / "out.json", b"{}\n")
        assert mode(tmp_path / "out.json") == 0o600

    def test_exclusive_never_replaces_a_file(self, tmp_path: Path) -> None:
        target = tmp_path / "backup.db"
        target.write_text("kept")
        with pytest.raises(FileExistsError):
            files.write_private(target, "new", exclusive=True)
        assert target.read_text() == "kept" and leftovers(tmp_path) == []

    def test_a_long_name_still_gets_a_temporary_file(self, tmp_path: Path) -> None:
        target = tmp_path / ("n" * 250)
        files.write_private(target, "x")
        assert target.read_text() == "x" and leftovers(tmp_path) == []
