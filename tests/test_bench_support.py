"""The helpers the benchmarks share (bench/_support.py), and ``make bench`` without the dev
tools: every benchmark it runs must work with ``pip install -e .`` alone (no pytest, no
Playwright, no Schemathesis), so each is run here, small, with the dev extra's modules made
unimportable (but those it names in ``NEEDS``: bench/notify.py's SMTP server). (httpx is no
longer among them: single sign-on needs it at run time.)"""

from __future__ import annotations

import importlib.util
import math
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from types import ModuleType

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _support() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_support", BENCH / "_support.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class TestPercentile:
    @pytest.mark.parametrize(
        ("fraction", "expected"), [(0.10, 1), (0.50, 5), (0.90, 9), (0.99, 10), (1.0, 10)]
    )
    def test_nearest_rank_of_one_to_ten(self, fraction: float, expected: float) -> None:
        """The smallest value with at least that share of the values at or below it."""
        assert _support().percentile([7, 3, 10, 1, 5, 9, 2, 8, 6, 4], fraction) == expected

    def test_float_noise_does_not_add_a_rank(self) -> None:
        assert 0.07 * 100 > 7
        assert _support().percentile(range(1, 101), 0.07) == 7

    def test_one_value_and_none(self) -> None:
        assert _support().percentile([2.5], 0.99) == 2.5
        assert math.isnan(_support().percentile([], 0.5))


# ------------------------------------------------------------------------------ make bench

MAKEFILE = BENCH.parent / "Makefile"
# Each benchmark `make bench` runs, at a size that takes seconds: the same code paths.
SMALL = {
    "import_accounts.py": ["--rows", "50"],
    "vault.py": ["--iterations", "20", "--rounds", "1", "--accounts", "2"],
    "handover.py": ["--sizes", "5"],
    "compliance.py": ["--accounts", "50", "--repeat", "1"],
    "pages.py": ["--accounts", "100", "--runs", "1", "--backend", "sqlite"],
    "verify.py": ["--accounts", "20", "--seconds", "1", "--rounds", "1", "--connections", "2"],
    "load.py": ["--seconds", "1", "--connections", "4", "--accounts", "50", "--unloaded", "20"],
    "cli_start.py": ["--runs", "2", "--warmup", "0"],
    "notify.py": ["--messages", "20", "--repeat", "1"],
}
# The dev tools a benchmark does need: bench/notify.py's SMTP server is aiosmtpd (which is
# why `make bench` installs the dev extra).
NEEDS = {"notify.py": {"aiosmtpd"}}
# Runs a script as ``python SCRIPT ARGS`` would, but with the modules named in argv[2] not
# installed: importing one fails as it does where only `make bench`'s install was made.
WITHOUT = """
import runpy, sys
script, blocked, *args = sys.argv[1:]
blocked = frozenset(blocked.split(","))
assert not blocked & {name.partition(".")[0] for name in sys.modules}, "imported at start-up"

class NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in blocked:
            raise ModuleNotFoundError(f"No module named {name!r} (a dev tool)", name=name)
        return None

sys.meta_path.insert(0, NotInstalled())
sys.argv = [script, *args]
runpy.run_path(script, run_name="__main__")
"""


def _made_by_make_bench() -> list[str]:
    """The scripts the Makefile's ``bench`` target runs, in order."""
    recipe = MAKEFILE.read_text().split("\nbench:", 1)[1].split("\n\n", 1)[0]
    return re.findall(r"bench/(\w+\.py)", recipe)


def _dev_only_modules() -> list[str]:
    """The top-level modules that only ``pip install -e ".[dev]"`` brings (pytest, httpx,
    their dependencies...): the dev extra's requirements and theirs, less what the project's
    own requirements bring."""

    def closure(names: list[str]) -> set[str]:
        seen: set[str] = set()
        while names:
            name = canonicalize_name(names.pop())
            if name in seen:
                continue
            seen.add(name)
            try:
                required = metadata.requires(name) or []
            except metadata.PackageNotFoundError:
                continue
            for requirement in map(Requirement, required):
                if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                    names.append(requirement.name)
        return seen

    ours = [Requirement(r) for r in metadata.requires("social-media-registry") or []]
    base = [r.name for r in ours if r.marker is None or r.marker.evaluate({"extra": ""})]
    dev = [r.name for r in ours if r.marker is not None and r.marker.evaluate({"extra": "dev"})]
    only_dev = closure(dev) - closure(base)
    return sorted(
        module
        for module, dists in metadata.packages_distributions().items()
        if all(canonicalize_name(d) in only_dev for d in dists)
    )


class TestMakeBench:
    def test_every_benchmark_it_runs_has_a_small_size_here(self) -> None:
        assert sorted(_made_by_make_bench()) == sorted(SMALL)

    @pytest.mark.slow
    @pytest.mark.parametrize("script", sorted(SMALL))
    def test_it_runs_without_the_dev_tools(self, script: str, tmp_path: Path) -> None:
        blocked = [m for m in _dev_only_modules() if m not in NEEDS.get(script, set())]
        assert {"pytest", "playwright", "schemathesis"} <= set(blocked)
        done = subprocess.run(
            [sys.executable, "-c", WITHOUT, str(BENCH / script), ",".join(blocked), *SMALL[script]],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-3000:])
        assert '"benchmark"' in done.stdout.splitlines()[-1]
