"""The helpers the benchmarks share (bench/_support.py)."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from types import ModuleType

import pytest

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
