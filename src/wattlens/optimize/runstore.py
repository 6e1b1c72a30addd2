"""An optimize run's cells in the store: every trial, every judged variant and the result, each committed at once.

Cell keys: ``trial:<rung>:<config key>`` (a :class:`Trial`), ``variant:<key>`` (a :class:`QualityReport`),
``result`` (the :class:`OptimizeResult`). A resumed run reads the trials and variants back, so nothing already
measured is measured again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from wattlens.optimize.gen_results import GenOptimizeResult
from wattlens.optimize.request import OptimizeError, OptimizeRequest
from wattlens.optimize.results import OptimizeResult, QualityReport, Trial

RESULT_CELL = "result"
RUN_KIND = "optimize"


class RunCells:
    """The cells of one optimize run in ``store`` (any ``wattlens.store`` store)."""

    def __init__(self, store: Any, run_id: str) -> None:
        self.store = store
        self.run_id = run_id

    @classmethod
    def open(cls, store: Any, req: OptimizeRequest) -> RunCells:
        """A new run for ``req``, or the run ``req.run_id`` to resume (ValueError when the store has none)."""
        if req.run_id:
            if store.get_run(req.run_id) is None:
                raise OptimizeError(f"no run {req.run_id!r} to resume in this store")
            cells = cls(store, req.run_id)
        else:
            cells = cls(store, store.create_run(RUN_KIND, req.config_dict()))
        try:
            store.set_run_status(cells.run_id, "running")
        except BaseException:  # Ctrl-C right after the run was created: say it stopped
            cells.mark_interrupted()
            raise
        return cells

    def resumed(self) -> tuple[dict[str, Trial], dict[str, QualityReport]]:
        """(trials by cell key, quality reports by variant key) already stored for this run."""
        trials: dict[str, Trial] = {}
        quality: dict[str, QualityReport] = {}
        for cell in self.store.cells(self.run_id):
            key, res = cell["cell_key"], cell.get("result")
            if not isinstance(res, Mapping):
                continue
            if key.startswith("trial:"):
                trials[key] = Trial.from_dict(res).with_detail(resumed=True)
            elif key.startswith("variant:"):
                quality[key[len("variant:") :]] = QualityReport.from_dict(res)
        return trials, quality

    def save_trial(self, cell: str, t: Trial) -> None:
        self.store.save_cell(self.run_id, cell, "ok" if t.ok else "failed", t, None if t.ok else t.why)

    def save_quality(self, key: str, report: QualityReport) -> None:
        self.store.save_cell(self.run_id, f"variant:{key}", "ok", report)

    def save_result(self, result: OptimizeResult) -> None:
        self.store.save_cell(self.run_id, RESULT_CELL, "ok", result)

    def set_status(self, status: str) -> None:
        self.store.set_run_status(self.run_id, status)

    def mark_interrupted(self) -> None:
        """The run stopped before its result (Ctrl-C, an error): say so, so that ``--resume`` is offered. Best
        effort: a store that is gone must not replace the reason the run stopped."""
        try:
            self.store.set_run_status(self.run_id, "interrupted")
        except Exception:
            pass


R = TypeVar("R")


def open_run(
    store: Any, req: OptimizeRequest, stored: Callable[[str, Any], R | None]
) -> tuple[Any, RunCells, R | None]:
    """What every optimize run does first: the store (opened from ``req.store_url`` when not given), the run's
    cells (new, or ``req.run_id`` resumed, marked running), and — for a resumed run that was stopped after its
    result was stored — that result (``stored(run_id, store)``), the run then marked done: nothing is left to
    measure or compute."""
    if store is None:
        from wattlens.store import open_store

        store = open_store(req.store_url)
    cells = RunCells.open(store, req)
    try:
        finished = stored(cells.run_id, store) if req.run_id else None
        if finished is not None:
            cells.set_status("done")
    except BaseException:
        cells.mark_interrupted()
        raise
    return store, cells, finished


def close_quietly(*monitors: Any) -> None:
    """Close what a run opened (monitors); best effort, after the run's own outcome is decided."""
    for mon in monitors:
        try:
            if mon is not None:
                mon.close()
        except Exception:
            pass


def load_result(run_id: str, store_url: str | None = None, store: Any = None) -> OptimizeResult | None:
    """The stored result of an optimize run (the ``result`` cell), or None while it is unfinished."""
    if store is None:
        from wattlens.store import open_store

        store = open_store(store_url)
    for cell in store.cells(run_id):
        res = cell.get("result")
        if cell["cell_key"] == RESULT_CELL and isinstance(res, Mapping) and res.get("wattlens") != GENERATION:
            return OptimizeResult.from_dict(res)
    return None


GENERATION = "optimize-generation"  # the ``wattlens`` tag of a text-generation result (its own record)


def load_generation_result(run_id: str, store: Any) -> GenOptimizeResult | None:
    """The stored result of a text-generation optimize run, or None (unfinished, or not a generation run)."""
    for cell in store.cells(run_id):
        res = cell.get("result")
        if cell["cell_key"] == RESULT_CELL and isinstance(res, Mapping) and res.get("wattlens") == GENERATION:
            return GenOptimizeResult.from_dict(res)
    return None
