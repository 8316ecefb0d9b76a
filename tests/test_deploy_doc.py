"""docs/deploy.md cannot drift from the command line: every ``registry …`` command it quotes
names a command that exists, with flags that command has and arguments it parses.

A command is found where a shell would run it: a ``registry`` (or ``…/bin/registry``) word
that starts a line of a ``sh``/``cron``/``ini`` code block, follows ``sudo -u registry``, a
cron line's user or ``ExecStart=``, or starts an inline code span, and is followed by a
command name. Each is checked twice: ``--help`` of its command path exits 0 (through Typer's
CliRunner, as a user would ask), and the rest of the words parse as that command's options
and arguments (Click's own parser: an unknown flag, a missing value or a value of the wrong
type fails). A command in a code block must be complete; a span in the text may leave out
required options (it names the command, as in "`registry audit checkpoint` writes…").
Nothing is run: no database is opened.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer
from typer._click.core import Command  # Typer 0.29 carries its own copy of Click
from typer._click.exceptions import MissingParameter, UsageError
from typer.core import TyperGroup
from typer.testing import CliRunner

from cli.main import app as cli_app

DOC = Path(__file__).resolve().parents[1] / "docs" / "deploy.md"

# Code blocks that hold commands; diagrams (```text) and nginx's configuration do not.
COMMAND_BLOCKS = frozenset({"sh", "bash", "console", "cron", "ini", ""})
FENCE = re.compile(r"^ *```(\w*)\n(.*?)^ *```", re.S | re.M)
SPAN = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
# Where the shell's own syntax starts, the registry command's words end.
SHELL_END = frozenset({"|", "||", "&&", ";", "&"})
REDIRECTION = (">", "<", "1>", "2>", "&>")
# Words after which a bare ``registry`` is the command, not a user or a database name.
COMMAND_POSITION = frozenset({"registry", *SHELL_END, "then", "do", "exec"})
COMMAND_WORD = re.compile(r"^[a-z][a-z-]*$")


@dataclass(frozen=True)
class Quoted:
    """One ``registry`` command line as the page quotes it."""

    words: tuple[str, ...]  # after ``registry``
    complete: bool  # from a code block (all required parameters given), not a span in prose
    line: str

    def __str__(self) -> str:
        return " ".join(("registry", *self.words))


def _words(line: str) -> list[str]:
    """The shell words of ``line``, with ``$(…)`` as one placeholder word and cron's ``\\%``
    read as ``%``."""
    line = re.sub(r"\$\([^()]*\)", "X", line.replace("\\%", "%"))
    return shlex.split(line, comments=True)


def _is_registry(word: str, previous: str | None) -> bool:
    word = word.rpartition("=")[2]  # ExecStart=/srv/registry/.venv/bin/registry
    if word.endswith("bin/registry"):
        return True
    return word == "registry" and (previous is None or previous in COMMAND_POSITION)


def commands_in(line: str, *, complete: bool) -> list[Quoted]:
    """Every registry command ``line`` runs."""
    words = _words(line)
    found = []
    for at, word in enumerate(words):
        previous = words[at - 1] if at else None
        following = words[at + 1 : at + 2]
        if not _is_registry(word, previous) or not following:
            continue
        if not COMMAND_WORD.match(following[0]) or following[0] == "registry":
            continue  # "$@", a user name followed by the command, …
        rest = []
        for later in words[at + 1 :]:
            if later in SHELL_END or later.startswith(REDIRECTION):
                break
            rest.append(later)
        found.append(Quoted(tuple(rest), complete, line))
    return found


def quoted_commands(text: str) -> list[Quoted]:
    """Every registry command in the code blocks and the inline spans of ``text``."""
    found: list[Quoted] = []
    for info, body in FENCE.findall(text):
        if info not in COMMAND_BLOCKS:
            continue
        for line in body.replace("\\\n", " ").splitlines():
            found += commands_in(line, complete=True)
    prose = FENCE.sub("", text)
    for span in SPAN.findall(prose):
        found += commands_in(span, complete=False)
    return found


def resolve(words: tuple[str, ...]) -> tuple[list[str], Command, list[str]]:
    """The command path the words name, its Click command and the words left for it."""
    command: Command = typer.main.get_command(cli_app)
    path: list[str] = []
    rest = list(words)
    while isinstance(command, TyperGroup) and rest and not rest[0].startswith("-"):
        sub = command.commands.get(rest[0])
        if sub is None:
            raise AssertionError(f"`registry {' '.join([*path, rest[0]])}`: no such command")
        path.append(rest.pop(0))
        command = sub
    return path, command, rest


def check(quoted: Quoted) -> None:
    """Fail unless ``quoted`` names an existing command whose flags and arguments parse."""
    path, command, rest = resolve(quoted.words)
    helped = CliRunner().invoke(cli_app, [*path, "--help"])
    assert helped.exit_code == 0, (str(quoted), helped.output)
    if isinstance(command, TyperGroup):
        assert not rest, (
            f"`{quoted}`: {' '.join(rest)} is not a command of `registry {' '.join(path)}`"
        )
        return
    try:
        with command.make_context(" ".join(["registry", *path]), list(rest)):
            pass
    except MissingParameter as exc:
        if quoted.complete:
            raise AssertionError(f"`{quoted}` is incomplete: {exc.format_message()}") from None
    except UsageError as exc:
        raise AssertionError(f"`{quoted}` does not parse: {exc.format_message()}") from None


QUOTED = quoted_commands(DOC.read_text(encoding="utf-8"))


class TestDeployDocCommands:
    @pytest.mark.parametrize("quoted", QUOTED, ids=str)
    def test_the_command_exists_and_its_words_parse(self, quoted: Quoted) -> None:
        check(quoted)

    def test_the_page_quotes_every_step_of_a_deployment(self) -> None:
        """The finder finds what the page must say (so an empty find cannot pass)."""
        quoted = {str(q) for q in QUOTED}
        for needed in (
            "registry db upgrade",
            "registry init --admin ada.admin@gov.mb.ca --name Ada Admin",
            "registry serve --host 127.0.0.1 --port 8000 --workers 4",
            "registry remind",
            "registry remind --digest",
            "registry vault purge",
            "registry notify run",
            "registry audit checkpoint --out /srv/registry/checkpoints/head-X.json",
            "registry backup /srv/backups/registry-X.backup",
        ):
            assert needed in quoted, f"docs/deploy.md no longer quotes `{needed}`"


class TestTheCheckItself:
    """The check fails on the mistakes it is there to catch."""

    @pytest.mark.parametrize(
        ("line", "complete"),
        [
            ("registry serve --wrokers 4", True),  # a misspelt flag
            ("registry serve --workers four", True),  # a value of the wrong type
            ("registry remnd", True),  # no such command
            ("registry audit chekpoint --out head.json", True),  # no such subcommand
            ("registry audit checkpoint", True),  # a required option left out of a code block
            ("registry init --admin", False),  # a flag without its value
        ],
    )
    def test_a_wrong_command_fails(self, line: str, complete: bool) -> None:
        [quoted] = commands_in(line, complete=complete)
        with pytest.raises(AssertionError):
            check(quoted)

    def test_a_span_may_leave_out_required_options(self) -> None:
        [quoted] = commands_in("registry audit checkpoint", complete=False)
        check(quoted)

    @pytest.mark.parametrize(
        ("line", "expected"),
        [
            ("sudo -u registry registry db upgrade", ["registry db upgrade"]),
            (
                "0 8 * * 1 registry /usr/local/bin/registry remind --digest",
                ["registry remind --digest"],
            ),
            (
                "ExecStart=/srv/registry/.venv/bin/registry serve --workers 4",
                ["registry serve --workers 4"],
            ),
            (
                "registry backup /b/r-$(date -u +\\%Y).backup 2>&1 | tee log",
                ["registry backup /b/r-X.backup"],
            ),
            ("registry remind >/dev/null 2>>errors.log", ["registry remind"]),
            ("sudo -u postgres createdb --owner registry registry", []),
            ("install -d -o registry -g registry -m 0750 /srv/registry", []),
            ('exec /srv/registry/.venv/bin/registry "$@"', []),
        ],
    )
    def test_commands_are_found_where_a_shell_runs_them(
        self, line: str, expected: list[str]
    ) -> None:
        assert [str(q) for q in commands_in(line, complete=True)] == expected
