"""The edges of the command line: bad settings, bad bytes, bad paths, refused before any work.

Each refusal is one sentence on stderr and exit 1 (never a traceback), and a refused command
changes nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from sqlalchemy import inspect, text

from cli.commands import vault as cli_vault
from cli.main import app as cli_app
from registry.errors import InvalidInput
from registry.models import HandoverReport
from registry.services import credentials, handover
from registry.validation import clean_text
from tests.conftest import (
    ON_POSTGRES,
    Api,
    Cli,
    FreshDatabase,
    assert_cli_refused,
    assert_refused,
    empty_database,
    registry_env,
    table_rows,
)
from tests.factories import CAST, World
from vault import Secret

ADMIN, CED1 = CAST["admin"][0], CAST["ced1"][0]
STAFF, RITA = CAST["agr_staff"][0], CAST["agr_requester"][0]


@pytest.fixture
def account(fresh_db: FreshDatabase) -> int:
    """An AGR account held by CED and a staff member, with a password on file."""
    with fresh_db.scope() as session:
        world = World.build(session, fresh_db.settings())
        account_id = world.account("AgrNews", holders=("ced1", "agr_staff")).id or 0
        credentials.put(
            session,
            keyring=fresh_db.keyring(),
            actor=world.actor("agr_staff"),
            account_id=account_id,
            kind="password",
            value=Secret("known-to-sam"),
        )
    return account_id


class TestHandoverCsv:
    def test_a_path_that_cannot_be_written_is_refused_before_the_handover(
        self, account: int, cli: Cli, fresh_db: FreshDatabase, tmp_path: Path
    ) -> None:
        before = table_rows(fresh_db.engine)
        target = tmp_path / "no-such-folder" / "hr.csv"
        stderr = cli.refused("handover", STAFF, "--to", RITA, "--csv", str(target), "--as", ADMIN)
        assert stderr.strip() == (
            f"Cannot write {target}: No such file or directory; nothing changed."
        )
        assert table_rows(fresh_db.engine) == before

    @pytest.mark.parametrize(
        ("flags", "said"),
        [([], "The handover is done"), (["--dry-run"], "Nothing changed (a preview)")],
    )
    def test_the_report_is_printed_even_when_the_csv_cannot_be_written(
        self,
        account: int,
        cli: Cli,
        flags: list[str],
        said: str,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        # The CSV's folder is removed once the work is done, as the report is made: the
        # finished file then has nowhere to go (a full disk or a lost mount fails the same way).
        folder = tmp_path / "hr"
        folder.mkdir()
        target = folder / "hr.csv"
        made = handover.report_csv

        def folder_gone(report: HandoverReport) -> str:
            shutil.rmtree(folder)
            return made(report)

        monkeypatch.setattr(handover, "report_csv", folder_gone)
        result = cli("handover", STAFF, "--to", RITA, "--csv", str(target), *flags, "--as", ADMIN)
        stderr = assert_cli_refused(result)
        assert stderr.strip() == (
            f"{said}, but {target} could not be written: No such file or directory."
        )
        assert "Credentials to rotate" in result.stdout and "known to a holder" in result.stdout

    def test_a_refused_handover_leaves_no_csv_behind(
        self, account: int, cli: Cli, tmp_path: Path
    ) -> None:
        target = tmp_path / "hr.csv"
        cli.refused(
            "handover", STAFF, "--to", "nobody@gov.mb.ca", "--csv", str(target), "--as", ADMIN
        )
        assert not target.exists()

    def test_an_existing_csv_is_replaced_by_the_report(
        self, account: int, cli: Cli, tmp_path: Path
    ) -> None:
        target = tmp_path / "hr.csv"
        target.write_text("old,rows\n" * 1000)
        report = cli.json(
            "handover", STAFF, "--to", RITA, "--dry-run", "--csv", str(target), "--as", ADMIN
        )
        written = target.read_text(encoding="utf-8")
        assert written.startswith(",".join(handover.HR_COLUMNS) + "\n")
        assert "old,rows" not in written and len(written.splitlines()) == 2
        assert report["dry_run"] is True


class EndlessStdin:
    """A standard input that never ends: reading all of it would never return."""

    def isatty(self) -> bool:
        return False

    def read(self, size: int = -1) -> str:
        assert size >= 0, "read to the end of an endless stream"
        return "x" * size

    @property
    def buffer(self) -> EndlessStdin.Bytes:
        return self.Bytes()

    class Bytes:
        def read(self, size: int = -1) -> bytes:
            assert size >= 0, "read to the end of an endless stream"
            return b"x" * size


class TestSecretsThatAreNotText:
    def test_stdin_that_is_not_utf8_is_refused(self, account: int, cli: Cli) -> None:
        result = cli.runner.invoke(
            cli_app,
            ["vault", "put", str(account), "--kind", "password", "--as", CED1],
            input=b"caf\xe9\n",
            env=cli.env,
        )
        assert assert_cli_refused(result).strip() == (
            "The secret is not valid UTF-8 text; nothing was stored."
        )

    def test_an_endless_stdin_is_refused_without_reading_it_all(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        monkeypatch.setattr(sys, "stdin", EndlessStdin())  # as `< /dev/zero`
        with pytest.raises(typer.Exit):
            cli_vault._read_secret()
        assert "The secret is longer than 8192 characters" in capsys.readouterr().err

    def test_a_closed_stdin_is_refused(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        monkeypatch.setattr(sys, "stdin", None)
        with pytest.raises(typer.Exit):
            cli_vault._read_secret()
        assert "There is no standard input to read the secret from" in capsys.readouterr().err

    def test_a_lone_surrogate_over_http_is_refused_not_a_500(self, api: Api) -> None:
        imported = api.client.post(
            "/accounts/import",
            headers={**api.headers("ced1"), "Content-Type": "text/csv"},
            content=(
                b"platform,handle,url,category,department,login_email,purpose,holders\n"
                b"facebook,AgrNews,https://facebook.com/AgrNews,official,AGR,"
                b"agr.social@gov.mb.ca,News,ced.one@gov.mb.ca;sam.staff@agr.gov.mb.ca\n"
            ),
        )
        assert imported.status_code == 201, imported.text
        [account_id] = imported.json()["account_ids"]
        response = api.client.put(
            f"/accounts/{account_id}/credentials/password",
            headers={**api.headers("ced1"), "Content-Type": "application/json"},
            content=b'{"value": "caf\\ud800"}',
        )
        assert_refused(response, 422, "The secret is not valid UTF-8 text")


class TestArgumentsThatAreNotText:
    def test_the_command_refuses_them_before_anything_runs(self, tmp_path: Path) -> None:
        env = {
            **os.environ,
            **registry_env(f"sqlite:///{tmp_path / 'none.db'}", tmp_path / "none.keyring"),
        }
        result = subprocess.run(  # a real process: the bytes reach Python as surrogates
            [
                sys.executable,
                "-c",
                "from cli.main import main; main()",
                b"people",
                b"add",
                b"x@gov.mb.ca",
                b"--name",
                b"N\xff",
            ],
            capture_output=True,
            env=env,
            check=False,
        )
        assert result.returncode == 1
        assert result.stderr.decode().strip() == (
            "Argument 5 (N\\xff) is not valid UTF-8 text; nothing was done."
        )
        assert not (tmp_path / "none.db").exists()

    def test_text_fields_refuse_lone_surrogates(self) -> None:
        with pytest.raises(InvalidInput, match=r"^Name is not valid UTF-8 text\.$"):
            clean_text("N\udcff", field="Name", max_length=200)

    def test_in_process_the_service_refuses_them_too(self, cli: Cli, account: int) -> None:
        # CliRunner passes arguments without the console script's check: the name is refused
        # by the service, as it would be from any other caller.
        stderr = cli.refused(
            "people", "add", "new.person@gov.mb.ca", "--name", "N\udcff", "--department", "AGR",
            "--as", ADMIN,
        )  # fmt: skip
        assert stderr.strip() == "Name is not valid UTF-8 text."


NOT_A_URL = "REGISTRY_DATABASE_URL is not a usable database URL"
BAD_SETTINGS = [
    ({"REGISTRY_DATABASE_URL": "bogus"}, f"{NOT_A_URL}: it cannot be parsed"),
    (
        {"REGISTRY_DATABASE_URL": "mysql://x/y"},
        NOT_A_URL.replace("URL", "URL mysql://x/y", 1) + ": its driver MySQLdb is not installed",
    ),
    (
        {"REGISTRY_DATABASE_URL": "foo://x"},
        NOT_A_URL.replace("URL", "URL foo://x", 1) + ": there is no database dialect 'foo'",
    ),
    (
        {"REGISTRY_REVIEW_INTERVAL_DAYS": "abc"},
        "REGISTRY_REVIEW_INTERVAL_DAYS='abc' is not usable: input should be a valid integer",
    ),
    (
        {"REGISTRY_REVIEW_INTERVAL_DAYS": "0"},
        "REGISTRY_REVIEW_INTERVAL_DAYS='0' is not usable: input should be greater than or "
        "equal to 1.",
    ),
    (
        {"REGISTRY_GOV_DOMAINS": ","},
        "REGISTRY_GOV_DOMAINS=',' is not usable: it must name at least one approved domain",
    ),
]

COMMANDS = [
    ("people", "list", "--as", ADMIN),
    ("init", "--admin", ADMIN, "--name", "Admin"),
    ("db", "current"),
    ("db", "upgrade"),
    ("verify", "--platform", "x", "--handle", "someone"),
    ("backup", "{tmp}/never-written.db"),
    ("restore", "{tmp}/never-read.db"),
    ("serve",),
]


class TestBadSettings:
    @pytest.mark.parametrize(("env", "said"), BAD_SETTINGS, ids=lambda v: str(v)[:40])
    def test_each_is_one_sentence(self, cli: Cli, env: dict[str, str], said: str) -> None:
        assert said in cli.refused("people", "list", "--as", ADMIN, env=env)

    @pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
    def test_every_command_that_opens_the_database_says_so(
        self, cli: Cli, command: tuple[str, ...], tmp_path: Path
    ) -> None:
        args = [arg.replace("{tmp}", str(tmp_path)) for arg in command]
        for env, said in (BAD_SETTINGS[0], BAD_SETTINGS[3]):
            stderr = cli.refused(*args, env=env)
            assert stderr.splitlines()[0] == said or stderr.startswith(said), stderr
        assert not (tmp_path / "never-written.db").exists()

    def test_a_password_in_the_url_is_never_shown(self, cli: Cli) -> None:
        stderr = cli.refused(
            "people", "list", "--as", ADMIN,
            env={"REGISTRY_DATABASE_URL": "postgresql+psycopg2://u:hunter2@host/db"},
        )  # fmt: skip
        assert "hunter2" not in stderr and "u:***@host" in stderr

    def test_several_bad_settings_are_all_named(self, cli: Cli) -> None:
        stderr = cli.refused(
            "people", "list", "--as", ADMIN,
            env={"REGISTRY_ROTATION_AGE_DAYS": "-1", "REGISTRY_REQUEST_WAIT_DAYS": "x"},
        )  # fmt: skip
        assert "REGISTRY_ROTATION_AGE_DAYS='-1'" in stderr
        assert "REGISTRY_REQUEST_WAIT_DAYS='x'" in stderr

    def test_the_actor_still_comes_from_registry_actor(self, cli: Cli, account: int) -> None:
        listed = cli("people", "list", "--json", env={"REGISTRY_ACTOR": ADMIN})
        assert listed.exit_code == 0 and STAFF in listed.stdout


class TestServe:
    @pytest.mark.parametrize("flags", [["--port", "99999999"], ["--port", "0"], ["--workers", "0"]])
    def test_out_of_range_numbers_are_usage_errors(self, cli: Cli, flags: list[str]) -> None:
        result = cli("serve", *flags)
        assert result.exit_code == 2, (result.stdout, result.stderr, result.exception)
        assert "Invalid value" in result.stderr and "Traceback" not in result.stderr


class TestVerifyCommand:
    def test_an_uninitialised_database_is_named(self, tmp_path: Path) -> None:
        with empty_database(tmp_path, "uninitialised") as (url, _):
            stderr = Cli.on(url, tmp_path / "k").refused(
                "verify", "--platform", "x", "--handle", "someone"
            )
        assert stderr.strip().endswith("is not initialised; run `registry init` first.")

    @pytest.mark.skipif(ON_POSTGRES, reason="SQLite's write lock")
    def test_it_reads_while_a_writer_holds_the_lock(
        self, account: int, cli: Cli, fresh_db: FreshDatabase
    ) -> None:
        with fresh_db.engine.connect() as writer:
            writer.execute(text("UPDATE account SET purpose = purpose"))  # BEGIN IMMEDIATE
            result = cli.ok("verify", "--platform", "facebook", "--handle", "AgrNews")
            writer.rollback()
        assert "is an official account of Agriculture" in result.stdout


class TestBackupPaths:
    def test_a_name_too_long_is_one_sentence(self, cli: Cli, tmp_path: Path) -> None:
        target = tmp_path / ("b" * 300)
        stderr = cli.refused("backup", str(target))
        assert stderr.strip() == (
            f"Cannot use {target}: File name too long; the backup was not written."
        )

    def test_a_folder_that_is_a_file(self, cli: Cli) -> None:
        stderr = cli.refused("backup", "/etc/passwd/x.db")
        assert stderr.strip() == "There is no folder /etc/passwd; the backup was not written."


class TestRefusedInitChangesNothing:
    @pytest.mark.parametrize(
        ("admin", "name", "env", "said"),
        [
            ("bad", "Boss", {}, "E-mail address 'bad' must contain exactly one '@'."),
            ("me@gmail.com", "Me", {}, "not on an approved government domain"),
            ("boss@gov.mb.ca", "Bo\x07ss", {}, "Name contains a control character."),
            ("boss@gov.mb.ca", " ", {}, "Name must not be blank."),
            ("boss@gov.mb.ca", "Boss", {"REGISTRY_CED_DEPARTMENT": "C D"}, "Department code"),
        ],
    )
    def test_no_keyring_and_no_tables(
        self, tmp_path: Path, admin: str, name: str, env: dict[str, str], said: str
    ) -> None:
        keyring = tmp_path / "new.keyring"
        with empty_database(tmp_path, "new") as (url, engine):
            stderr = Cli.on(url, keyring).refused("init", "--admin", admin, "--name", name, env=env)
            assert inspect(engine).get_table_names() == []
        assert said in stderr
        assert not keyring.exists()


class TestKeyringPaths:
    def test_a_keyring_path_through_a_file_is_one_sentence(self, cli: Cli, account: int) -> None:
        through_a_file = {"REGISTRY_KEYRING": "/etc/passwd/x"}
        stderr = cli.refused(
            "vault", "reveal", str(account), "--kind", "password", "--reason", "check",
            "--as", CED1, env=through_a_file,
        )  # fmt: skip
        assert stderr.strip() == (
            "The credential vault is unavailable: Cannot read keyring file /etc/passwd/x: not a "
            "directory. Until it is fixed, only what needs the keyring is refused (credentials, "
            "verifying or sealing the audit log, restoring a backup); everything else still "
            "works."
        )
        # and everything else does still work
        listed = cli("people", "list", "--json", "--as", ADMIN, env=through_a_file)
        assert listed.exit_code == 0 and STAFF in listed.stdout

    def test_init_with_a_keyring_name_too_long(self, tmp_path: Path) -> None:
        keyring = tmp_path / ("k" * 300)
        with empty_database(tmp_path, "new") as (url, engine):
            stderr = Cli.on(url, keyring).refused("init", "--admin", ADMIN, "--name", "Admin")
            assert inspect(engine).get_table_names() == []
        assert stderr.strip() == f"Cannot use the keyring path {keyring}: file name too long."
