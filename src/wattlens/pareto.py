"""The Pareto front, one home: the optimizer's search and its report, the analyze sweep and the bench figures all
use this function.

A point is on the front when no other point is at least as good on every objective and strictly better on
one (equal points are both on it). Objectives are given as :class:`Objective`\\ s (a value getter and a
direction). A *required* objective leaves out the items that lack it; an optional one (e.g. peak RSS, known for
some trials only) is compared only between two items that both have it. Stdlib only and below every layer
(``tests/test_layers.py``).

>>> pts = [(1.0, 0.90), (2.0, 0.95), (3.0, 0.94)]  # (energy, quality)
>>> pareto_front(pts, [Objective(lambda p: p[0]), Objective(lambda p: p[1], minimize=False)])
[(1.0, 0.9), (2.0, 0.95)]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Objective(Generic[T]):
    value: Callable[[T], float | None]
    minimize: bool = True
    required: bool = True


def dominates(a: T, b: T, objectives: Sequence[Objective[T]]) -> bool:
    """``a`` at least as good as ``b`` on every objective both have, and strictly better on one."""
    better = False
    for obj in objectives:
        x, y = obj.value(a), obj.value(b)
        if x is None or y is None:
            continue
        sx, sy = (x, y) if obj.minimize else (-x, -y)
        if sx > sy:
            return False
        if sx < sy:
            better = True
    return better


def pareto_front(items: Iterable[T], objectives: Sequence[Objective[T]]) -> list[T]:
    """Non-dominated items, sorted by the first objective (then the second) in its better-first direction; items
    that tie on both keep their input order."""
    pool = [it for it in items if all(o.value(it) is not None for o in objectives if o.required)]

    def order(it: T) -> tuple[float, ...]:
        keys = []
        for obj in objectives[:2]:
            v = obj.value(it)
            keys.append(0.0 if v is None else (v if obj.minimize else -v))
        return tuple(keys)

    if len(objectives) == 2 and all(o.required for o in objectives):
        return _front_2d(sorted(pool, key=order), order)
    front = [it for it in pool if not any(dominates(o, it, objectives) for o in pool if o is not it)]
    return sorted(front, key=order)


def _front_2d(ranked: list[T], order: Callable[[T], tuple[float, ...]]) -> list[T]:
    """The front of two required objectives in one pass (a sweep of thousands of points stays O(n log n)): in
    better-first order an item is on the front when its second objective beats every earlier item's, or it
    equals the last item kept."""
    front: list[T] = []
    last: tuple[float, ...] | None = None
    for it in ranked:
        key = order(it)
        if last is None or key[1] < last[1] or key == last:
            front.append(it)
            last = key
    return front
