"""Descriptive statistics, one home: mean, geometric mean, stdev, median, percentile, MAD.

Stdlib only (``math``; the ``statistics`` module costs ~3 ms to import, too much for the meters) and below
every layer. Empty input is treated the same way by every function: ``ValueError("<name> of no values")`` —
never a silent 0 or NaN. Where "no value" is a legitimate answer (a figure nobody measured), use
:func:`median_of_known` or :func:`percentile_of_known`, which drop unknowns (``None``) and answer ``None`` when
nothing is left.

>>> median([3.0, 1.0, 2.0])
2.0
>>> percentile([1.0, 2.0, 3.0, 4.0], 50)
2.5
>>> median_of_known([None, 4.0, 2.0])
3.0
>>> median_of_known([None]) is None
True
>>> percentile_of_known([], 95) is None
True
"""

from __future__ import annotations

import math

TYPE_CHECKING = False  # not collections.abc at run time: that imports `collections` (~1 ms of a first Monitor())
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence


def _require(values: Sequence[float], what: str) -> None:
    if not values:
        raise ValueError(f"{what} of no values")


def mean(values: Sequence[float]) -> float:
    _require(values, "mean")
    return math.fsum(values) / len(values)


def geometric_mean(values: Sequence[float]) -> float:
    """Geometric mean of positive values (e.g. ratios).

    >>> geometric_mean([0.5, 2.0])
    1.0
    """
    _require(values, "geometric_mean")
    return math.exp(math.fsum(math.log(v) for v in values) / len(values))


def stdev(values: Sequence[float]) -> float:
    """Sample standard deviation (n - 1); 0.0 for a single value."""
    _require(values, "stdev")
    n = len(values)
    if n < 2:
        return 0.0
    m = mean(values)
    return math.sqrt(math.fsum((v - m) ** 2 for v in values) / (n - 1))


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolation percentile (numpy's default 'linear' method), ``q`` in [0, 100]."""
    _require(values, "percentile")
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return float(xs[lo] + (xs[hi] - xs[lo]) * (pos - lo))


def median(values: Sequence[float]) -> float:
    _require(values, "median")
    return percentile(values, 50.0)


def mad(values: Sequence[float]) -> float:
    """Median absolute deviation (unscaled)."""
    m = median(values)
    return median([abs(v - m) for v in values])


def percentile_of_known(values: Iterable[float | None], q: float) -> float | None:
    """:func:`percentile` of the values that are known (not None); None when none is."""
    known = [v for v in values if v is not None]
    return percentile(known, q) if known else None


def median_of_known(values: Iterable[float | None]) -> float | None:
    """Median of the values that are known (not None); None when none is."""
    return percentile_of_known(values, 50.0)


def wilson_interval(share: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a share observed on ``n`` items (sound for accuracy even near 1).

    >>> tuple(round(x, 3) for x in wilson_interval(0.97, 450))
    (0.95, 0.982)
    """
    if n <= 0:
        raise ValueError("wilson_interval: n must be positive")
    p = min(1.0, max(0.0, share))
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)
