"""Benchmark: how long ``registry --help`` takes, against a bare Typer app of the same shape.

Run from the repository root::

    .venv/bin/python bench/cli_start.py [--runs N] [--warmup W]

What is timed is what a user waits for: the wall time of a new process, from start to exit,
of the installed console script ``registry --help`` (``.venv/bin/registry``, next to this
Python; ``python -m cli.main`` when there is no console script). The yardstick is a bare
Typer app written to a temporary folder with the registry's shape: the same sub-apps, the
same number of commands in each and the same number of options per command (plain optional
strings), no imports but Typer, started the same way (a launcher script like the console
script, which imports the app's module, so both run from cached bytecode after the warm-up).
All print their help to a pipe at 100 columns, with the same environment (the registry's
pointing at a database in the temporary folder, which ``--help`` never opens).

For information only, a minimal Typer app (one sub-app, one command with two options) is timed
too: what Typer, Click and Rich cost on their own, before any command is declared.

After W warm-up runs of each (default 2), N runs of each (default 15) alternate, the one
starting a round changing every time. Reported: the median and 90th percentile of each, the
ratio of the medians (goal: ``registry --help`` at most 1.5 times the bare app's), and the
modules ``registry --help`` imported that the bare app did not (seen by running each once
more under a wrapper that lists ``sys.modules`` at exit), with any heavy module among them
named. Every run must exit 0 and print a usage line. The last line printed is a JSON
summary; the exit status is 0 unless the benchmark cannot run (a command fails).
"""

from __future__ import annotations

# ruff: noqa: E402 -- the import path is fixed before the imports that depend on it
import sys
from pathlib import Path

# Run as ``bench/cli_start.py``, this file's folder comes first on the import path and
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
import json
import os
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass

from _support import BenchError, positive

GOAL_RATIO = 1.5
DEFAULT_RUNS = 15
DEFAULT_WARMUP = 2
COLUMNS = "100"
# Modules ``registry --help`` has no use for (tests/test_cli_startup.py asserts the same).
HEAVY = (
    "alembic",
    "cryptography",
    "fastapi",
    "jinja2",
    "psycopg",
    "pydantic",
    "pydantic_settings",
    "sqlalchemy",
    "sqlmodel",
    "starlette",
    "uvicorn",
    "registry.models",
    "registry.services",
)
# The console script's own text (what pip writes for ``registry = "cli.main:main"``), so the
# bare app starts exactly the same way.
LAUNCHER = """#!{python}
# -*- coding: utf-8 -*-
import re
import sys
from {module} import main
if __name__ == '__main__':
    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])
    sys.exit(main())
"""
# Run a script (or ``-m module``) with its arguments in this interpreter, as ``python`` would,
# and write the names in sys.modules to the file named first when it exits.
LIST_MODULES = """
import atexit, json, runpy, sys
out = sys.argv.pop(1)
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(sys.modules))))
if sys.argv[1] == "-m":
    sys.argv = sys.argv[2:]
    runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
else:
    sys.argv = sys.argv[1:]
    runpy.run_path(sys.argv[0], run_name="__main__")
"""


@dataclass
class Shape:
    """The registry's command tree: commands at the top, and each sub-app's commands."""

    top: list[int]  # options of each top-level command
    groups: dict[str, list[int]]  # sub-app name -> options of each of its commands

    @property
    def commands(self) -> int:
        return len(self.top) + sum(len(c) for c in self.groups.values())


def registry_shape() -> Shape:
    """Count the registry's sub-apps, commands and options (help excluded)."""
    import typer.main

    from cli.main import app

    def options(command: object) -> int:
        params = getattr(command, "params", [])
        return sum(1 for p in params if getattr(p, "name", None) != "help")

    root = typer.main.get_command(app)
    shape = Shape(top=[], groups={})
    for name, command in getattr(root, "commands", {}).items():
        children = getattr(command, "commands", None)
        if children is None:
            shape.top.append(options(command))
        else:
            shape.groups[name] = [options(child) for child in children.values()]
    return shape


def bare_module(shape: Shape) -> str:
    """A Typer app with the registry's shape and nothing else."""

    def command(decorator: str, name: str, count: int) -> list[str]:
        function = name.replace("-", "_")
        params = [
            f'    opt{i}: Annotated[str | None, typer.Option(help="Option {i}.")] = None,'
            for i in range(count)
        ]
        return [
            f'@{decorator}.command("{name}")',
            f"def {function}(",
            *params,
            ") -> None:",
            f'    """Command {name} of the bare app, which does nothing."""',
            "",
            "",
        ]

    lines = [
        '"""A bare Typer app shaped like the registry\'s command line (bench/cli_start.py)."""',
        "",
        "from __future__ import annotations",
        "",
        "from typing import Annotated",
        "",
        "import typer",
        "",
        "app = typer.Typer(",
        '    name="bare",',
        '    help="A bare Typer app with the registry\'s shape.",',
        "    no_args_is_help=True,",
        "    add_completion=False,",
        "    pretty_exceptions_enable=False,",
        ")",
    ]
    for index, name in enumerate(shape.groups):
        lines += [
            f'g{index} = typer.Typer(help="Sub-app {name}.", no_args_is_help=True)',
            f'app.add_typer(g{index}, name="{name}")',
        ]
    lines += ["", ""]
    for number, count in enumerate(shape.top):
        lines += command("app", f"top{number}", count)
    for index, counts in enumerate(shape.groups.values()):
        for number, count in enumerate(counts):
            lines += command(f"g{index}", f"g{index}-c{number}", count)
    lines += ["def main() -> None:", "    app()", ""]
    return "\n".join(lines)


def registry_command() -> tuple[list[str], str]:
    """What users run: the console script next to this Python, else ``python -m cli.main``."""
    script = Path(sys.executable).parent / "registry"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)], str(script)
    return [sys.executable, "-m", "cli.main"], f"{sys.executable} -m cli.main"


def run_once(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    """Seconds from start to exit of one ``--help``; BenchError when it does not show help."""
    started = time.perf_counter()
    done = subprocess.run(
        [*argv, "--help"], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0 or "Usage:" not in done.stdout:
        raise BenchError(
            f"{' '.join(argv)} --help exited {done.returncode}:\n{done.stdout}{done.stderr}"
        )
    return elapsed


def imported(argv: list[str], env: dict[str, str], cwd: Path) -> set[str]:
    """The modules a program's ``--help`` leaves in ``sys.modules``."""
    program = argv[1:] if argv[0] == sys.executable else argv  # a script, or -m module
    out = cwd / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", LIST_MODULES, str(out), *program, "--help"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"listing the modules of {' '.join(argv)} failed:\n{done.stderr}")
    names: list[str] = json.loads(out.read_text())
    return set(names)


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10, method="inclusive")[8]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runs",
        type=positive,
        default=DEFAULT_RUNS,
        help=f"timed runs of each, alternating (default {DEFAULT_RUNS})",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=DEFAULT_WARMUP,
        help=f"untimed runs of each first (default {DEFAULT_WARMUP})",
    )
    args = parser.parse_args(argv)
    if args.runs < 2:
        parser.error("--runs must be at least 2 (a 90th percentile needs two)")
    if args.warmup < 0:
        parser.error("--warmup must not be negative")

    shape = registry_shape()
    registry, shown = registry_command()
    with tempfile.TemporaryDirectory(prefix="cli-start-bench-") as folder:
        directory = Path(folder)
        programs: dict[str, list[str]] = {}
        for label, bare_shape in (("bare", shape), ("minimal", Shape(top=[], groups={"sub": [2]}))):
            (directory / f"{label}_cli.py").write_text(bare_module(bare_shape))
            launcher = directory / label
            launcher.write_text(LAUNCHER.format(python=sys.executable, module=f"{label}_cli"))
            launcher.chmod(0o755)
            programs[label] = [str(launcher)]
        programs["registry"] = registry
        env = {
            **os.environ,
            "COLUMNS": COLUMNS,
            "REGISTRY_DATABASE_URL": f"sqlite:///{directory / 'registry.db'}",
            "REGISTRY_KEYRING": str(directory / "registry.keyring"),
        }
        for name in ("PYTHONDONTWRITEBYTECODE", "PYTHONPROFILEIMPORTTIME", "REGISTRY_ACTOR"):
            env.pop(name, None)
        if registry[0] == sys.executable:  # not installed: ``-m cli.main`` from the checkout
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        print(f"registry: {shown} --help")
        print(
            f"bare:     a Typer app of the same shape ({len(shape.groups)} sub-apps, "
            f"{shape.commands} commands, {sum(shape.top) + sum(map(sum, shape.groups.values()))} "
            "options), started by the same kind of launcher"
        )
        print("minimal:  a Typer app with one sub-app and one command (for information)")
        print(f"runs:     {args.warmup} warm-up + {args.runs} timed of each, alternating")

        labels = list(programs)
        for _ in range(args.warmup):
            for label in labels:
                run_once(programs[label], env, directory)
        times: dict[str, list[float]] = {label: [] for label in labels}
        for number in range(args.runs):
            for label in labels[number % 3 :] + labels[: number % 3]:
                times[label].append(run_once(programs[label], env, directory))

        extra = sorted(
            imported(registry, env, directory) - imported(programs["bare"], env, directory)
        )
    heavy = [m for m in extra if m in HEAVY or m.startswith(tuple(f"{h}." for h in HEAVY))]

    medians = {label: statistics.median(values) * 1000 for label, values in times.items()}
    p90s = {label: p90(values) * 1000 for label, values in times.items()}
    ratio = medians["registry"] / medians["bare"]
    to_minimal = medians["registry"] / medians["minimal"]
    goal_met = ratio <= GOAL_RATIO
    for label in ("minimal", "bare", "registry"):
        print(
            f"{label + ':':9} median {medians[label]:6.1f} ms, p90 {p90s[label]:6.1f} ms, "
            f"min {min(times[label]) * 1000:6.1f} ms"
        )
    verdict = "met" if goal_met else "NOT met"
    print(
        f"ratio:    registry / bare = {ratio:.2f} (goal: ratio at most {GOAL_RATIO:g}: {verdict}); "
        f"registry / minimal = {to_minimal:.2f}"
    )
    listed = ", ".join(extra[:12]) + (", ..." if len(extra) > 12 else "")
    print(f"imports:  registry --help imported {len(extra)} modules beyond the bare app: {listed}")
    print(f"heavy:    {', '.join(heavy) if heavy else 'none'} (of {', '.join(HEAVY)})")
    summary = {
        "benchmark": "cli_start",
        "runs": args.runs,
        "registry_median_ms": round(medians["registry"], 1),
        "bare_median_ms": round(medians["bare"], 1),
        "registry_p90_ms": round(p90s["registry"], 1),
        "bare_p90_ms": round(p90s["bare"], 1),
        "registry_min_ms": round(min(times["registry"]) * 1000, 1),
        "bare_min_ms": round(min(times["bare"]) * 1000, 1),
        "minimal_median_ms": round(medians["minimal"], 1),
        "ratio": round(ratio, 3),
        "ratio_to_minimal": round(to_minimal, 3),
        "goal_ratio": GOAL_RATIO,
        "goal_met": goal_met,
        "extra_modules": len(extra),
        "heavy_modules": heavy,
        "commands": shape.commands,
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        print(json.dumps({"benchmark": "cli_start", "error": str(exc)[:500]}))
        sys.exit(2)
