"""The command line starts light: help loads little beyond Typer, a command only what it uses.

Each case runs ``registry`` in a new process, the way the console script does (``from cli.main
import main``), under a wrapper that writes the names in ``sys.modules`` to a file when the
process exits; the test then names the modules that case must not have loaded. How long it
takes is measured by ``bench/cli_start.py``, not here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import FreshDatabase
from tests.factories import CAST, World

ADMIN = CAST["admin"][0]

WRAPPER = """
import atexit, json, sys
out = sys.argv.pop(1)
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(sys.modules))))
sys.argv[0] = "registry"
from cli.main import main
main()
"""

# Whatever a command does, these belong to ``registry serve`` (the web stack) and to
# ``registry init`` / ``registry db`` (migrations) alone.
WEB_AND_MIGRATIONS = (
    "fastapi",
    "starlette",
    "uvicorn",
    "jinja2",
    "alembic",
    "registry.http",
    "registry.migrate",
)
# Help reads nothing: no database, no settings, no crypto. (Typer itself imports pydantic to
# coerce parameters once a sub-app or command is named, so only the top-level help is free of it.)
HELP_FORBIDDEN = (
    *WEB_AND_MIGRATIONS,
    "sqlalchemy",
    "sqlmodel",
    "pydantic_settings",
    "cryptography",
    "psycopg",
    "vault",
    "registry.config",
    "registry.db",
    "registry.keys",
    "registry.models",
    "registry.services",
    "registry.jobs",
)
TOP_HELP_FORBIDDEN = (*HELP_FORBIDDEN, "pydantic")
# The public question reads the registry; it never opens the keyring.
VERIFY_FORBIDDEN = (*WEB_AND_MIGRATIONS, "cryptography", "vault", "registry.keys")


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    modules: set[str]

    def loaded(self, forbidden: tuple[str, ...]) -> list[str]:
        """The modules of ``forbidden`` (or inside one of those packages) that were imported."""
        prefixes = tuple(f"{name}." for name in forbidden)
        return sorted(m for m in self.modules if m in forbidden or m.startswith(prefixes))


def registry(tmp_path: Path, *args: str, database_url: str | None = None) -> Run:
    """Run ``registry ARGS`` in a new process and list what it imported."""
    out = tmp_path / "modules.json"
    out.unlink(missing_ok=True)
    env = dict(os.environ)
    env["COLUMNS"] = "100"
    if database_url is not None:
        env["REGISTRY_DATABASE_URL"] = database_url
    done = subprocess.run(
        [sys.executable, "-c", WRAPPER, str(out), *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.exists(), done.stderr
    return Run(done.returncode, done.stdout, done.stderr, set(json.loads(out.read_text())))


class TestHelpIsLight:
    def test_top_level_help_loads_nothing_heavy(self, tmp_path: Path) -> None:
        run = registry(tmp_path, "--help")
        assert run.returncode == 0, run.stderr
        assert "Usage: registry" in run.stdout and "handover" in run.stdout
        assert {"cli.main", "typer"} <= run.modules  # the wrapper saw the command line load
        assert run.loaded(TOP_HELP_FORBIDDEN) == []

    @pytest.mark.parametrize(
        "args",
        [
            ["vault"],
            ["accounts", "list"],
            ["people", "add"],
            ["tokens", "create"],
            ["verify"],
            ["serve"],
            ["init"],
            ["db"],
            ["db", "upgrade"],
        ],
        ids=lambda args: " ".join(["registry", *args, "--help"]),
    )
    def test_help_of_a_command_loads_nothing_heavy(self, tmp_path: Path, args: list[str]) -> None:
        run = registry(tmp_path, *args, "--help")
        assert run.returncode == 0, run.stderr
        assert "Usage: registry" in run.stdout
        assert {"cli.main", "typer"} <= run.modules
        assert run.loaded(HELP_FORBIDDEN) == []

    def test_enum_choices_still_appear_in_the_help(self, tmp_path: Path) -> None:
        """``--role`` takes its choices from the light enum, as before."""
        run = registry(tmp_path, "people", "add", "--help")
        assert run.returncode == 0, run.stderr
        for role in ("requester", "dept_approver", "ced", "admin", "auditor"):
            assert role in run.stdout
        assert run.loaded(HELP_FORBIDDEN) == []


@pytest.fixture
def registered(fresh_db: FreshDatabase) -> FreshDatabase:
    """The test cast and one active account, @ManitobaAg on Facebook."""
    with fresh_db.scope() as session:
        World.build(session, fresh_db.settings()).account("ManitobaAg")
    return fresh_db


class TestCommandsLoadWhatTheyUse:
    def test_accounts_list_loads_its_service_but_no_web_stack_or_migrations(
        self, tmp_path: Path, registered: FreshDatabase
    ) -> None:
        run = registry(
            tmp_path, "accounts", "list", "--as", ADMIN, "--json", database_url=registered.url
        )
        assert run.returncode == 0, run.stderr
        assert [a["handle"] for a in json.loads(run.stdout)] == ["ManitobaAg"]
        assert {"sqlalchemy", "registry.services.accounts"} <= run.modules
        assert run.loaded(WEB_AND_MIGRATIONS) == []

    def test_verify_answers_without_the_web_stack_or_the_keyring(
        self, tmp_path: Path, registered: FreshDatabase
    ) -> None:
        official = registry(
            tmp_path,
            "verify",
            "--platform",
            "facebook",
            "--handle",
            "@manitobaag",
            "--json",
            database_url=registered.url,
        )
        assert official.returncode == 0, official.stderr
        assert json.loads(official.stdout)["official"] is True
        assert "registry.services.verify" in official.modules
        assert official.loaded(VERIFY_FORBIDDEN) == []

        unknown = registry(
            tmp_path,
            "verify",
            "--platform",
            "facebook",
            "--handle",
            "nobody_here",
            database_url=registered.url,
        )
        assert unknown.returncode == 1, unknown.stderr
        assert unknown.loaded(VERIFY_FORBIDDEN) == []

    def test_a_refused_command_still_says_why_in_one_sentence(self, tmp_path: Path) -> None:
        """Errors are still turned into a sentence when the modules load late."""
        run = registry(
            tmp_path,
            "accounts",
            "list",
            "--as",
            ADMIN,
            database_url=f"sqlite:///{tmp_path / 'empty.db'}",
        )
        assert run.returncode == 1
        assert "not initialised" in run.stderr and "Traceback" not in run.stderr
        assert run.loaded(WEB_AND_MIGRATIONS) == []


class TestLightDefinitions:
    def test_the_models_re_export_the_light_enums(self) -> None:
        from registry import enums, models
        from registry.models import base

        for name in ("Role", "PersonStatus", "Category", "AccountStatus"):
            assert getattr(models, name) is getattr(enums, name)
            assert getattr(base, name) is getattr(enums, name)

    def test_the_token_default_in_the_help_is_the_services(self) -> None:
        """``tokens create --days`` defaults to what the service applies: both read the one
        definition in the light ``registry.defaults``, which the help can import."""
        import typer.main

        from cli.main import app
        from registry import defaults
        from registry.services import tokens

        group = typer.main.get_command(app).commands["tokens"]  # type: ignore[attr-defined]
        [days] = [p for p in group.commands["create"].params if p.name == "days"]
        assert days.default == tokens.DEFAULT_DAYS == defaults.TOKEN_DAYS
