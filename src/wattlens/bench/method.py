"""Statistics of the benchmark method: mean, confidence interval (Student t), CV, percentiles, robust scale.

Pure Python (no numpy, no scipy) so that the method can be tested on synthetic readings with known
answers and stays importable everywhere. Why a t-distribution: a benchmark cell has 5-10 repeats, where
the normal 1.96 would understate the interval by 40 % (t(0.975, 4) = 2.776).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from wattlens.records import Record
from wattlens.stats import mad, mean, median, stdev

# The task metric of a trained model is computed on at least this many inputs (the measured queries, then more
# outside the windows): the digits task's whole held-out split, so the figure equals the model's recorded held-out
# accuracy; a 95 % Wilson half-width of <= 4.6 points at any accuracy. 8 queries would show 1.00 for a 0.97 model.
QUALITY_MIN_N = 450
MIN_REPEATS = 5  # the method's floor (benchmark-anchors.md §11.7: >= 5-10 runs with mean +/- CI)
MAD_TO_SIGMA = 1.4826  # MAD x this = sigma for normal data


# --- Student t quantile ----------------------------------------------------------------------------


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the regularised incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    ln_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(ln_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(ln_front) * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    x = df / (df + t * t)
    tail = 0.5 * betainc(df / 2.0, 0.5, x)
    return 1.0 - tail if t >= 0 else tail


def t_quantile(p: float, df: float) -> float:
    """Quantile of Student's t (bisection on the CDF; exact to ~1e-10)."""
    if not 0.0 < p < 1.0:
        raise ValueError("p must be in (0, 1)")
    if df <= 0:
        raise ValueError("df must be > 0")
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12 * max(1.0, hi):
            break
    return 0.5 * (lo + hi)


# --- summary of repeats ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RepeatSummary(Record):
    """Mean of n repeats with its 95 % confidence half-width (t, n-1 df) and coefficient of variation."""

    n: int
    mean: float
    sd: float
    ci95: float  # half-width; 0.0 when n < 2 (not computable, flagged by validity)
    cv: float | None  # sd / |mean|; None when the mean is 0 or n < 2 (unknown)

    @property
    def low(self) -> float:
        return self.mean - self.ci95

    @property
    def high(self) -> float:
        return self.mean + self.ci95


def summarize(values: Sequence[float]) -> RepeatSummary:
    n = len(values)
    m = mean(values)
    sd = stdev(values)
    ci = t_quantile(0.975, n - 1) * sd / math.sqrt(n) if n >= 2 else 0.0
    cv = sd / abs(m) if m != 0 and n >= 2 else None  # one repeat says nothing of the spread: unknown, never 0
    return RepeatSummary(n=n, mean=m, sd=sd, ci95=ci, cv=cv)


def robust_clip(values: Sequence[float], k: float = 3.0) -> tuple[list[float], float, float]:
    """Clip values to median +/- k x scaled MAD; returns (clipped values, lower bound, upper bound).

    Why: one extreme model (Llama-2-7b base at 170x the task mean in PHP's zero-shot runs) must not
    stretch the band edges that every other model is rated against (the AIES weakness, anchors §2.2).
    """
    med = median(values)
    scale = MAD_TO_SIGMA * mad(values)
    if scale == 0.0:
        return list(values), med, med
    lo, hi = med - k * scale, med + k * scale
    return [min(max(v, lo), hi) for v in values], lo, hi
