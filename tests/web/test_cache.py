"""What a write to the store makes the page recompute: a ``measure`` record only History, a new cell only its own
run's views (and the run list), and a rebuilt leaderboard is computed in the background while the previous one is
answered, marked stale with the time it was computed."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from benchmarks.web_store import cell_result, write_measurements, write_run

from wattlens.store import open_store
from wattlens.web import views
from wattlens.web.cache import CELL_COUNTS, MEASUREMENTS, RUN_LIST, ResultsCache, changed_scopes, run_scope


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Any]:
    with open_store(str(tmp_path / "cache.sqlite")) as s:
        yield s


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How many times each run's leaderboard was computed from the store."""
    counts: Counter[str] = Counter()
    real = views.leaderboard

    def counting(store: Any, run_id: str | None = None, **kw: Any) -> Any:
        counts[str(run_id)] += 1
        return real(store, run_id, **kw)

    monkeypatch.setattr(views, "leaderboard", counting)
    return counts


def _wait(done: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "the background rebuild did not finish"
        time.sleep(0.02)


def test_changed_scopes_names_what_changed() -> None:
    old: dict[str, object] = {
        "measurements": (1, 1),
        "runs": {"a": ("done", 1.0), "b": ("done", 2.0)},
        "cells": {"a": (3, 1.0)},
    }
    assert changed_scopes(old, old) == set()
    assert changed_scopes(old, {**old, "measurements": (2, 2)}) == {MEASUREMENTS}
    assert changed_scopes(old, {**old, "cells": {"a": (3, 1.0), "b": (1, 3.0)}}) == {CELL_COUNTS, run_scope("b")}
    new_run = {**old, "runs": {"a": ("done", 1.0), "b": ("done", 2.0), "c": ("running", 4.0)}}
    assert changed_scopes(old, new_run) == {RUN_LIST, run_scope("c")}


def test_a_measure_record_recomputes_history_only(store: Any, built: Counter[str]) -> None:
    run = write_run(store, 40, seed=1)
    write_measurements(store, 2)
    cache = ResultsCache(store, recheck_s=0)
    first = views.leaderboard_view(cache, {"run": run})
    assert len(views.history_view(cache, {}).measurements) == 2 and built[run] == 1
    write_measurements(store, 1, seed=9)
    again = views.leaderboard_view(cache, {"run": run})
    assert built[run] == 1 and again.stale is None and again.rows == first.rows  # kept, and not stale
    assert len(views.history_view(cache, {}).measurements) == 3  # History shows the new record at once


def test_a_new_cell_recomputes_its_run_only_and_the_old_board_is_served_meanwhile(
    store: Any, built: Counter[str]
) -> None:
    import random

    other, run = write_run(store, 40, seed=1), write_run(store, 40, seed=2)
    cache = ResultsCache(store, recheck_s=0)
    for run_id in (other, run):
        views.leaderboard_view(cache, {"run": run_id, "task": "text-classification"})
    before = views.leaderboard_view(cache, {"run": run, "task": "text-classification"})
    assert dict(built) == {other: 1, run: 1} and before.total == 8
    result = cell_result(random.Random(0), "text-classification", "late/model", 1, "fp32", 0.01)
    store.save_cell(run, "text-classification|late/model|batch=1|fp32", "ok", result.to_dict())
    stale = views.leaderboard_view(cache, {"run": run, "task": "text-classification"})
    assert stale.total == 8 and stale.stale is not None  # the previous board, answered at once, and said so
    assert stale.stale.computed_unix_s <= time.time() and "being computed" in stale.stale.message
    _wait(lambda: not cache.rebuilding())
    fresh = views.leaderboard_view(cache, {"run": run, "task": "text-classification"})
    assert fresh.total == 9 and fresh.stale is None and "late/model" in {r.model for r in fresh.rows}
    assert views.leaderboard_view(cache, {"run": other, "task": "text-classification"}).stale is None
    assert dict(built) == {other: 1, run: 2}  # the other run was not recomputed
    assert {r.run_id: r.cells for r in views.runs_view(cache, {}).runs} == {other: 40, run: 41}


def test_a_failed_rebuild_is_dropped_and_the_next_request_says_why(
    store: Any, built: Counter[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run = write_run(store, 16, seed=3)
    cache = ResultsCache(store, recheck_s=0)
    views.leaderboard_view(cache, {"run": run})
    store.set_run_status(run, "running")

    def broken(*_a: object, **_k: object) -> None:
        raise RuntimeError("cannot read the store")

    monkeypatch.setattr(views, "leaderboard", broken)
    assert views.leaderboard_view(cache, {"run": run}).stale is not None
    _wait(lambda: not cache.rebuilding())
    with pytest.raises(RuntimeError, match="cannot read the store"):
        views.leaderboard_view(cache, {"run": run})  # computed in the request now: the server answers 500
