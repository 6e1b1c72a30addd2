"""The statistics of the method, on values with known answers."""

from __future__ import annotations

import math

import pytest

from wattlens.bench.method import robust_clip, summarize, t_quantile
from wattlens.stats import mad, median, percentile, stdev


@pytest.mark.parametrize(
    ("df", "expected"),
    [(1, 12.706205), (2, 4.302653), (4, 2.776445), (9, 2.262157), (29, 2.045230), (120, 1.979930)],
)
def test_t_quantile_matches_tables(df: int, expected: float) -> None:
    assert t_quantile(0.975, df) == pytest.approx(expected, abs=1e-5)


def test_t_quantile_is_symmetric_and_tends_to_normal() -> None:
    assert t_quantile(0.025, 7) == pytest.approx(-t_quantile(0.975, 7))
    assert t_quantile(0.975, 1e6) == pytest.approx(1.959964, abs=1e-4)


def test_summary_of_known_values() -> None:
    s = summarize([1.0, 2.0, 3.0, 4.0, 5.0])
    assert s.mean == 3.0
    assert s.sd == pytest.approx(math.sqrt(2.5))
    assert s.ci95 == pytest.approx(2.776445 * math.sqrt(2.5) / math.sqrt(5), rel=1e-6)
    assert s.cv == pytest.approx(math.sqrt(2.5) / 3.0)
    assert s.low == pytest.approx(3.0 - s.ci95) and s.high == pytest.approx(3.0 + s.ci95)


def test_single_value_has_no_interval() -> None:
    s = summarize([4.0])
    assert (s.sd, s.ci95, s.cv) == (0.0, 0.0, None)  # the spread of one value is unknown, never 0


def test_percentile_is_linear_interpolation() -> None:
    xs = [10.0, 20.0, 30.0, 40.0]
    assert percentile(xs, 50) == 25.0
    assert percentile(xs, 95) == pytest.approx(38.5)
    assert percentile(xs, 0) == 10.0 and percentile(xs, 100) == 40.0
    assert median([3.0, 1.0, 2.0]) == 2.0


def test_stdev_and_mad() -> None:
    assert stdev([2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]) == pytest.approx(2.13809, rel=1e-5)
    assert mad([1.0, 1.0, 2.0, 2.0, 4.0, 6.0, 9.0]) == 1.0


def test_robust_clip_tames_one_outlier() -> None:
    values = [1.0, 1.1, 0.9, 1.05, 0.95, 100.0]
    clipped, _lo, hi = robust_clip(values, k=3.0)
    assert max(clipped) == pytest.approx(hi) and hi < 2.0
    assert clipped[:5] == values[:5]  # the inliers are untouched


def test_one_repeat_has_an_unknown_spread_not_zero() -> None:
    """``--repeats 1``: the CI and CV cannot be computed from one value; they are unknown (None), never 0
    (issue 18, finding 11)."""
    from wattlens.bench.runner import CellStats

    one = summarize([2.0])
    assert one.cv is None and one.n == 1
    assert summarize([2.0, 2.2]).cv is not None
    stats = CellStats.__new__(CellStats)
    object.__setattr__(stats, "summary", one)
    assert stats.ci95_j is None and stats.cv is None
