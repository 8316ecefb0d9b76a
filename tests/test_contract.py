"""The public contract stays put: the OpenAPI document and every command's ``--help`` text.

DESIGN.md makes names, flags and labels a contract; a refactor must not move them. The
snapshots in ``tests/contract/`` are what the contract is today; a change to them is a
deliberate act: run ``python tests/test_contract.py --update`` and commit the new files
with the reason in the message.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
from typer.testing import CliRunner

HERE = Path(__file__).resolve().parent
SNAPSHOTS = HERE / "contract"
OPENAPI = SNAPSHOTS / "openapi.json"
HELP = SNAPSHOTS / "help.txt"
HELP_ENV = {"COLUMNS": "100", "TERM": "dumb", "NO_COLOR": "1"}


def openapi_document() -> str:
    from registry.config import Settings
    from registry.http.app import create_app

    app = create_app(Settings(database_url="sqlite://", keyring="/nonexistent.keyring"))
    # In the order the application serves it (paths, fields), not sorted: a client or a
    # generated SDK sees that order, so a refactor keeps it too.
    return json.dumps(app.openapi(), indent=1, ensure_ascii=False) + "\n"


def _paths(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command and group below ``command`` (a Click or Typer group), as argv words."""
    yield path
    commands = getattr(command, "commands", {})
    for name in sorted(commands):
        yield from _paths(commands[name], (*path, name))


def help_texts() -> str:
    from cli.main import app

    root = typer.main.get_command(app)
    runner = CliRunner()
    parts = []
    for path in _paths(root):
        result = runner.invoke(app, [*path, "--help"], env=HELP_ENV, prog_name="registry")
        assert result.exit_code == 0, (path, result.output)
        parts.append(f"=== registry {' '.join(path)}\n{result.output}")
    return "".join(parts)


class TestContract:
    def test_the_openapi_document_is_unchanged(self) -> None:
        assert openapi_document() == OPENAPI.read_text(encoding="utf-8")

    def test_every_help_text_is_unchanged(self) -> None:
        assert help_texts() == HELP.read_text(encoding="utf-8")


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit("usage: python tests/test_contract.py --update")
    sys.path.insert(0, str(HERE.parent))
    SNAPSHOTS.mkdir(exist_ok=True)
    OPENAPI.write_text(openapi_document(), encoding="utf-8")
    HELP.write_text(help_texts(), encoding="utf-8")
    print(f"wrote {OPENAPI} and {HELP}")
