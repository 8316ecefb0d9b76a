"""What the benchmarks share: command-line numbers, percentiles, and fresh databases."""

from __future__ import annotations

import argparse
import math
import os
import uuid
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
def fresh_database(backend: str, directory: Path, url: str | None = None) -> Iterator[str]:
    """The URL of an empty database: a new SQLite file ``bench.db`` in ``directory``, or a new
    schema in the PostgreSQL database ``url`` (by default :data:`PG_ENV`'s), dropped afterwards
    (as the tests' ``empty_database`` makes one). Needs only what ``make bench`` installs: no
    test tooling."""
    if backend != "postgresql":
        yield f"sqlite:///{directory / 'bench.db'}"
        return
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from registry.db import make_engine

    url = url or pg_url()
    if url is None:
        raise BenchError(f"{PG_ENV} does not name a PostgreSQL database")
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = make_engine(url)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            yield (
                make_url(url)
                .update_query_dict({"options": f"-csearch_path={schema}"})
                .render_as_string(hide_password=False)
            )
        finally:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()
