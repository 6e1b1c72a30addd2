"""The one Pareto-front function (``wattlens.pareto``): the one-pass front of two objectives is the definition's
front (no other point at least as good on both and better on one), in the same order, ties included."""

from __future__ import annotations

import itertools
import random

import pytest

from wattlens.pareto import Objective, dominates, pareto_front

Point = tuple[int, int, int]  # (x, y, id)


def _by_definition(points: list[Point], objectives: list[Objective[Point]]) -> list[Point]:
    front = [p for p in points if not any(dominates(q, p, objectives) for q in points if q is not p)]
    return sorted(front, key=lambda p: tuple(p[i] if o.minimize else -p[i] for i, o in enumerate(objectives)))


@pytest.mark.parametrize("directions", list(itertools.product([True, False], repeat=2)))
def test_two_objectives_match_the_definition_ties_included(directions: tuple[bool, bool]) -> None:
    rng = random.Random(0)
    objectives = [Objective(lambda p: p[0], minimize=directions[0]), Objective(lambda p: p[1], minimize=directions[1])]
    for _ in range(500):
        points = [(rng.randint(0, 3), rng.randint(0, 3), i) for i in range(rng.randint(0, 10))]  # many ties
        assert pareto_front(points, objectives) == _by_definition(points, objectives)


def test_equal_points_are_both_on_the_front_in_input_order() -> None:
    pts = [(1.0, 2.0, "b"), (1.0, 2.0, "a"), (2.0, 2.0, "c"), (0.5, 3.0, "d")]
    front = pareto_front(pts, [Objective(lambda p: p[0]), Objective(lambda p: p[1])])
    assert [p[2] for p in front] == ["d", "b", "a"]


def test_an_optional_objective_compares_only_items_that_have_it() -> None:
    pts = [(1.0, 0.9, None), (1.0, 0.9, 100.0), (2.0, 0.95, 50.0), (3.0, None, 10.0)]
    objectives = [
        Objective(lambda p: p[0]),
        Objective(lambda p: p[1], minimize=False),
        Objective(lambda p: p[2], required=False),
    ]
    assert pareto_front(pts, objectives) == [(1.0, 0.9, None), (1.0, 0.9, 100.0), (2.0, 0.95, 50.0)]
