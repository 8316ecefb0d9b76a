"""The command line, through Typer's CliRunner and once as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from registry.services import accounts
from tests.conftest import Cli, FreshDatabase
from tests.factories import CAST, World

ADMIN = CAST["admin"][0]
CED1 = CAST["ced1"][0]
STAFF = CAST["agr_staff"][0]
CSV = (
    "platform,handle,url,category,department,login_email,purpose,holders\n"
    f"facebook,ManitobaAg,https://facebook.com/ManitobaAg,official,AGR,agr.social@gov.mb.ca,"
    f"Farm news,{CED1};{STAFF}\n"
)


@pytest.fixture
def cli(cli: Cli, fresh_db: FreshDatabase) -> Cli:
    """The command on a fresh registry holding the cast of tests.factories."""
    with fresh_db.scope() as session:
        World.build(session, fresh_db.settings())
    return cli


class TestInit:
    def test_init_twice_is_harmless_and_says_so(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("REGISTRY_DATABASE_URL", f"sqlite:///{tmp_path / 'new.db'}")
        runner = CliRunner()
        first = runner.invoke(
            app, ["init", "--admin", "Boss@gov.mb.ca", "--name", "Boss", "--json"]
        )
        assert first.exit_code == 0, first.stderr
        body = json.loads(first.stdout)
        assert body["created"] is True
        assert body["admin"]["email"] == "boss@gov.mb.ca"
        assert body["admin"]["department"] == "CED"
        keyring = Path(body["keyring"])
        assert body["keyring_created"] is True and keyring.stat().st_mode & 0o777 == 0o600
        second = runner.invoke(app, ["init", "--admin", "other@gov.mb.ca", "--name", "Other"])
        assert second.exit_code == 0
        assert (
            "already initialised (administrator boss@gov.mb.ca); nothing changed" in second.stdout
        )
        listed = runner.invoke(app, ["people", "list", "--as", "boss@gov.mb.ca", "--json"])
        assert [p["email"] for p in json.loads(listed.stdout)] == ["boss@gov.mb.ca"]

    def test_init_refuses_a_broken_keyring_instead_of_replacing_it(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        keyring = tmp_path / "broken.keyring"
        keyring.write_text("{not json")
        keyring.chmod(0o600)
        monkeypatch.setenv("REGISTRY_DATABASE_URL", f"sqlite:///{tmp_path / 'new.db'}")
        monkeypatch.setenv("REGISTRY_KEYRING", str(keyring))
        result = CliRunner().invoke(app, ["init", "--admin", "boss@gov.mb.ca", "--name", "B"])
        assert result.exit_code == 1
        assert "credential vault is unavailable" in result.stderr
        assert keyring.read_text() == "{not json"

    def test_init_refuses_a_non_government_admin(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("REGISTRY_DATABASE_URL", f"sqlite:///{tmp_path / 'new.db'}")
        result = CliRunner().invoke(app, ["init", "--admin", "me@gmail.com", "--name", "Me"])
        assert result.exit_code == 1
        assert "not on an approved government domain" in result.stderr
        assert "Traceback" not in result.stderr + result.stdout

    def test_commands_on_an_uninitialised_database_say_so(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("REGISTRY_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
        result = CliRunner().invoke(app, ["people", "list", "--as", ADMIN])
        assert result.exit_code == 1
        assert "not initialised; run `registry init` first" in result.stderr


class TestActing:
    def test_missing_unknown_and_env_actor(self, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
        assert "--as EMAIL" in cli.refused("people", "list")
        unknown = cli.refused("people", "list", "--as", "ghost@gov.mb.ca")
        assert "No person with e-mail ghost@gov.mb.ca" in unknown
        monkeypatch.setenv("REGISTRY_ACTOR", ADMIN)
        assert len(cli.json("people", "list")) == len(CAST)

    def test_role_refusal_is_one_sentence_on_stderr(self, cli: Cli) -> None:
        result = cli("departments", "add", "EDU", "Education", "--as", CED1)
        assert result.exit_code == 1
        assert result.stderr.strip() == (
            "ced.one@gov.mb.ca may not add departments; that needs the admin role."
        )
        assert result.stdout == ""


class TestAccountsFromTheCli:
    def test_import_show_list_grant_revoke(self, cli: Cli, tmp_path: Path) -> None:
        path = tmp_path / "accounts.csv"
        path.write_text(CSV)
        imported = cli.json("accounts", "import", str(path), "--as", CED1)
        [account_id] = imported["account_ids"]
        # what the command wrote to the audit log is sealed with the registry's keyring
        assert "The audit log is whole" in cli.ok("audit", "verify", "--as", ADMIN).stdout
        shown = cli.json("accounts", "show", str(account_id), "--as", STAFF)
        assert shown["id"] == account_id and shown["status"] == "active"
        assert shown["holders"] == [CED1, STAFF]
        listed = cli.json("accounts", "list", "--department", "AGR", "--as", ADMIN)
        assert [a["id"] for a in listed] == [account_id]
        table = cli.ok("accounts", "list", "--as", ADMIN)
        assert "ManitobaAg" in table.stdout
        refused = cli.refused("access", "revoke", str(account_id), STAFF, "--as", CED1)
        assert f"account {account_id} (facebook @ManitobaAg)" in refused
        granted = cli.json("access", "grant", str(account_id), CAST["ced2"][0], "--as", CED1)
        assert granted["holder"] == CAST["ced2"][0]
        cli.ok("access", "revoke", str(account_id), STAFF, "--as", CED1)
        after = cli.json("accounts", "show", str(account_id), "--as", ADMIN)
        assert after["holders"] == [CED1, CAST["ced2"][0]]

    def test_bad_import_names_every_row_and_imports_nothing(self, cli: Cli, tmp_path: Path) -> None:
        path = tmp_path / "bad.csv"
        path.write_text(
            CSV + CSV.splitlines()[1].replace("ManitobaAg", "Other").replace(STAFF, "") + "\n"
        )
        result = cli("accounts", "import", str(path), "--as", CED1)
        assert result.exit_code == 1
        lines = result.stderr.splitlines()
        assert lines[0] == "Nothing was imported: 1 row of 2 is invalid."
        assert lines[1].strip().startswith("line 3: it needs at least 2 active holders")
        assert cli.json("accounts", "list", "--as", ADMIN) == []

    def test_a_racing_duplicate_is_one_sentence(
        self, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        path = tmp_path / "accounts.csv"
        path.write_text(CSV)
        cli.ok("accounts", "import", str(path), "--as", CED1)
        monkeypatch.setattr(accounts, "live_handles", lambda session: {})
        result = cli.refused("accounts", "import", str(path), "--as", CED1)
        assert "clashed with another made at the same moment" in result
        assert len(cli.json("accounts", "list", "--as", ADMIN)) == 1

    def test_missing_file(self, cli: Cli, tmp_path: Path) -> None:
        assert "Cannot read" in cli.refused(
            "accounts", "import", str(tmp_path / "nope.csv"), "--as", CED1
        )

    def test_unknown_account_id(self, cli: Cli) -> None:
        result = cli.refused("accounts", "show", "999", "--as", ADMIN)
        assert result.strip() == "No account with id 999."


class TestPeopleAndTokens:
    def test_people_add_show_and_token_lifecycle(self, cli: Cli) -> None:
        added = cli.json(
            "people",
            "add",
            "new.one@gov.mb.ca",
            "--name",
            "New One",
            "--department",
            "AGR",
            "--role",
            "requester",
            "--role",
            "dept_approver",
            "--as",
            ADMIN,
        )
        assert added["roles"] == ["dept_approver", "requester"]
        shown = cli.json("people", "show", "NEW.ONE@gov.mb.ca", "--as", ADMIN)
        assert shown["id"] == added["id"]
        created = cli.json("tokens", "create", "new.one@gov.mb.ca", "--as", ADMIN)
        assert created["token"].startswith("smr_")
        listed = cli.json("tokens", "list", "--as", "new.one@gov.mb.ca")
        assert [t["id"] for t in listed] == [created["id"]]
        assert "token" not in listed[0] and created["token"] not in json.dumps(listed)
        revoked = cli.json("tokens", "revoke", str(created["id"]), "--as", ADMIN)
        assert revoked["revoked_at"] is not None

    def test_plain_token_output_prints_the_token_alone_on_stdout(self, cli: Cli) -> None:
        result = cli.ok("tokens", "create", CED1, "--as", ADMIN)
        assert result.stdout.strip().startswith("smr_") and len(result.stdout.split()) == 1
        assert "shown only now" in result.stderr

    def test_bad_role_is_a_usage_error_not_a_traceback(self, cli: Cli) -> None:
        result = cli(
            "people",
            "add",
            "x@gov.mb.ca",
            "--name",
            "X",
            "--department",
            "AGR",
            "--role",
            "boss",
            "--as",
            ADMIN,
        )
        assert result.exit_code == 2 and "boss" in result.stderr
        assert result.exception is None or isinstance(result.exception, SystemExit)


class TestInstalledCommand:
    def test_the_installed_registry_command_runs_end_to_end(self, tmp_path: Path) -> None:
        """The console script from pyproject, as a real process: init, add, import, refuse."""
        command = Path(sys.executable).parent / "registry"
        assert command.exists(), "install the project (pip install -e .) first"
        env = {
            **os.environ,
            "REGISTRY_DATABASE_URL": f"sqlite:///{tmp_path / 'proc.db'}",
            "REGISTRY_ACTOR": "boss@gov.mb.ca",
        }

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [str(command), *args], env=env, capture_output=True, text=True, timeout=60
            )

        assert run("init", "--admin", "boss@gov.mb.ca", "--name", "Boss").returncode == 0
        assert run("departments", "add", "AGR", "Agriculture").returncode == 0
        assert (
            run(
                "people", "add", CED1, "--name", "C", "--department", "CED", "--role", "ced"
            ).returncode
            == 0
        )
        assert run("people", "add", STAFF, "--name", "S", "--department", "AGR").returncode == 0
        path = tmp_path / "accounts.csv"
        path.write_text(CSV)
        imported = run("accounts", "import", str(path), "--json")
        assert imported.returncode == 0, imported.stderr
        assert json.loads(imported.stdout)["imported"] == 1
        refused = run("access", "revoke", "1", STAFF)
        assert refused.returncode == 1
        assert "Cannot revoke" in refused.stderr and "Traceback" not in refused.stderr
        bad_revision = run("db", "downgrade", "nosuch")
        assert bad_revision.returncode == 1 and "Traceback" not in bad_revision.stderr
        assert "nosuch" in bad_revision.stderr
        current = run("db", "current")
        assert current.returncode == 0 and "up to date" in current.stdout


class TestWorkflowFromTheCli:
    def test_request_lifecycle_in_process(self, cli: Cli) -> None:
        requester, approver = CAST["agr_requester"][0], CAST["agr_approver"][0]
        created = cli.json(
            "request",
            "new",
            "--platform",
            "x",
            "--handle",
            "@MBAg",
            "--url",
            "https://x.com/MBAg",
            "--category",
            "official",
            "--department",
            "AGR",
            "--login-email",
            "agr.social@gov.mb.ca",
            "--purpose",
            "News",
            "--holder",
            STAFF,
            "--as",
            requester,
        )
        rid = str(created["id"])
        assert created["state"] == "submitted" and created["holders"] == [STAFF]
        queue = cli.json("request", "list", "--awaiting-me", "--as", approver)
        assert [r["id"] for r in queue] == [created["id"]]
        cli.ok("request", "approve", rid, "--comment", "Go", "--as", approver)
        assert "add holders when approving" in cli.refused("request", "approve", rid, "--as", CED1)
        done = cli.json("request", "approve", rid, "--holder", CED1, "--as", CED1)
        assert done["state"] == "approved"
        shown = cli.ok("request", "show", rid, "--as", ADMIN)
        assert "Go" in shown.stdout and "approved" in shown.stdout
        blank = cli.refused("request", "reject", rid, "--reason", " ", "--as", CED1)
        assert blank.strip() == "Reason must not be blank."
        withdraw = cli.refused("request", "withdraw", rid, "--as", requester)
        assert "already approved; a decided request never changes" in withdraw


class TestFullFlowAsAUserWould:
    def test_request_approve_approve_decommission_as_subprocesses(self, tmp_path: Path) -> None:
        """request -> approve -> approve -> active -> decommission -> decommissioned."""
        command = Path(sys.executable).parent / "registry"
        env = {**os.environ, "REGISTRY_DATABASE_URL": f"sqlite:///{tmp_path / 'flow.db'}"}
        env.pop("REGISTRY_ACTOR", None)

        def run(*args: str, who: str) -> dict[str, object]:
            done = subprocess.run(
                [str(command), *args, "--as", who, "--json"],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert done.returncode == 0, done.stderr
            return json.loads(done.stdout)  # type: ignore[no-any-return]

        boss, rita, dana = "boss@gov.mb.ca", "rita@agr.gov.mb.ca", "dana@agr.gov.mb.ca"
        cora, carl = "cora@gov.mb.ca", "carl@gov.mb.ca"
        subprocess.run(
            [str(command), "init", "--admin", boss, "--name", "Boss"],
            env=env,
            check=True,
            capture_output=True,
            timeout=60,
        )
        run("departments", "add", "AGR", "Agriculture", who=boss)
        for email, dept, role in [
            (rita, "AGR", "requester"),
            (dana, "AGR", "dept_approver"),
            (cora, "CED", "ced"),
            (carl, "CED", "ced"),
        ]:
            run(
                "people",
                "add",
                email,
                "--name",
                email.split("@")[0],
                "--department",
                dept,
                "--role",
                role,
                who=boss,
            )
        request = run(
            "request",
            "new",
            "--platform",
            "facebook",
            "--handle",
            "ManitobaAg",
            "--url",
            "https://facebook.com/ManitobaAg",
            "--category",
            "official",
            "--department",
            "AGR",
            "--login-email",
            "agr.social@gov.mb.ca",
            "--purpose",
            "Farm news",
            "--holder",
            rita,
            who=rita,
        )
        rid = str(request["id"])
        assert run("request", "approve", rid, who=dana)["state"] == "department_approved"
        # A requester names holders of their own department; CED adds its holder at the end.
        approved = run(
            "request", "approve", rid, "--comment", "Welcome", "--holder", cora, who=carl
        )
        assert approved["state"] == "approved"
        account_id = str(approved["account_id"])
        account = run("accounts", "show", account_id, who=rita)
        assert account["status"] == "active" and account["holders"] == [cora, rita]
        closing = run("request", "decommission", account_id, "--reason", "Program ended", who=rita)
        run("request", "approve", str(closing["id"]), who=dana)
        run("request", "approve", str(closing["id"]), who=cora)
        final = run("accounts", "show", account_id, who=boss)
        assert final["status"] == "decommissioned" and final["holders"] == []
        assert final["decommissioned_at"]


class TestVerifyCommand:
    def test_exit_codes_and_answers(self, cli: Cli, tmp_path: Path) -> None:
        path = tmp_path / "accounts.csv"
        path.write_text(CSV)
        cli.ok("accounts", "import", str(path), "--as", CED1)
        official = cli.ok("verify", "--platform", "facebook", "--handle", "@manitobaag", "--json")
        assert json.loads(official.stdout)["official"] is True
        by_url = cli.ok("verify", "--url", "https://www.facebook.com/ManitobaAg/")
        assert "is an official account of Agriculture" in by_url.stdout
        unknown = cli("verify", "--platform", "x", "--handle", "nobody")
        assert unknown.exit_code == 1 and "is not an official government account" in unknown.stdout
        lookalike = cli("verify", "--url", "https://facebook.com.evil.io/ManitobaAg")
        assert lookalike.exit_code == 1 and "Traceback" not in lookalike.stderr
        both = cli.refused("verify", "--url", "https://x.com/a", "--platform", "x")
        assert "or a profile URL" in both and "either a platform and a handle" in both
