"""What the benchmarks share: command-line numbers, percentiles, and fresh databases."""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

PG_ENV = "REGISTRY_TEST_DATABASE_URL"


class BenchError(Exception):
    """The benchmark cannot go on: a server that would not start, a wrong answer, output
    that cannot be read. The script prints it and exits non-zero."""


def positive(value: str) -> int:
    """An argparse type: a whole number of at least 1."""
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


def percentile(values: Iterable[float], fraction: float) -> float:
    """The nearest-rank percentile: the smallest value with at least ``fraction`` of all the
    values at or below it (of 1..10, p50 is 5 and p90 is 9); NaN when there are none."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    # rounded first, so float noise (0.07 * 100 is 7.000000000000001) cannot add a rank
    rank = max(1, min(len(ordered), math.ceil(round(fraction * len(ordered), 9))))
    return ordered[rank - 1]


def pg_url() -> str | None:
    """The PostgreSQL URL the tests use, when one is set."""
    url = os.environ.get(PG_ENV, "")
    return url if url.startswith("postgresql") else None


@contextmanager
def fresh_database(backend: str, directory: Path) -> Iterator[str]:
    """The URL of an empty database: a SQLite file in ``directory``, or a new schema in the
    PostgreSQL database of :data:`PG_ENV` (dropped after). The tests' own
    ``tests.conftest.empty_database``, with the backend chosen here rather than by the
    environment."""
    from tests.conftest import empty_database  # the test tooling only when a bench needs it

    with empty_database(directory, "bench", postgres=backend == "postgresql") as (url, engine):
        engine.dispose()  # the benchmark makes its own
        yield url
