"""Pareto frontiers for the report's trade-off figures (pure Python, no numpy).

A point is on the frontier when no other point is at least as good on both objectives and
strictly better on one. "Good" is *lower* energy plus either *higher* quality or *lower* latency.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


def pareto_front(
    items: Sequence[T],
    x: Callable[[T], float | None],
    y: Callable[[T], float | None],
    *,
    minimize_x: bool = True,
    minimize_y: bool = True,
) -> list[T]:
    """Items on the Pareto frontier of (x, y), sorted by x ascending; items with a missing value are skipped."""
    pts = [(x(it), y(it), it) for it in items]
    pts = [(a, b, it) for a, b, it in pts if a is not None and b is not None]
    sx = 1.0 if minimize_x else -1.0
    sy = 1.0 if minimize_y else -1.0
    front = []
    for a, b, it in pts:
        dominated = False
        for c, d, _ in pts:
            no_worse = sx * c <= sx * a and sy * d <= sy * b
            better = sx * c < sx * a or sy * d < sy * b
            if no_worse and better:
                dominated = True
                break
        if not dominated:
            front.append((a, b, it))
    front.sort(key=lambda p: (p[0], sy * p[1]))
    return [it for _, _, it in front]
