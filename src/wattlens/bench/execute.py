"""Run a suite cell by cell into the store: nothing lost, failures recorded, resumable.

Per cell (each committed to the store the moment it finishes, with its raw timeline):

1. idle baseline *before* (shared with the previous cell's *after*: the machine is idle between cells);
2. model loading in its own ``load`` window (PHP's "load model" task, anchors §1.1), never mixed into
   the query windows;
3. ``measure_queries`` over the task's inputs (warm-up excluded, steady-state windows, repeats);
4. for generation: prefill and decode in their own windows (``measure_decode``), not by subtraction;
5. quality on the first pass's outputs, token counts;
6. idle baseline *after*; J per query is restated against the mean of before and after, and a drift
   between the two is shown as a warning;
7. validity checks -> status ``ok`` or ``invalid`` (with reasons); an exception -> ``failed`` (with the
   error) and the run goes on.

Ctrl-C or kill -9 loses at most the cell in flight; ``resume_run`` skips the cells already stored.
"""

from __future__ import annotations

import gc
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from wattlens._logging import get_logger
from wattlens.bench.method import QUALITY_MIN_N
from wattlens.bench.records import (
    CellConfig,
    CellResult,
    CoTenantLoad,
    IdleBaselines,
    IdlePower,
    LoadResult,
    PerUnit,
    RunSummary,
    TokenCounts,
    WindowComponent,
    WindowRow,
)
from wattlens.bench.runner import CellStats, flatten_outputs, measure_decode, measure_queries, window_row, with_idle
from wattlens.bench.suites import Cell, Suite
from wattlens.bench.validity import CONTENTION_SLACK_CPUS, STATUS_FAILED, check_cell, check_contention, is_contended
from wattlens.errors import caused_by_interrupt
from wattlens.meters import cotenant
from wattlens.stats import wilson_interval

logger = get_logger(__name__)
RUN_KIND = "bench"
METHOD = (
    "wattlens-bench-1: warm-up excluded; >= repeats windows, each covering all inputs and >= min_window_s; "
    "idle baseline before and after every cell (net = gross - idle); 95 % t-interval and CV over repeats; "
    "load, query, prefill and decode in their own windows; CUDA/MPS synchronised after every batch and at "
    "window edges; validity checks shown as status invalid; other processes' CPU load over the windows measured "
    "(/proc/stat), a cell that lost the CPUs it asked for shown as status contended"
)
RESULT_SCHEMA = 1


# --- progress reporting (the CLI provides rich bars or plain lines) -------------------------------


class Progress:
    """No-op progress sink; subclasses draw. Calls never happen inside a measured window."""

    def start(self, run_id: str, total: int, done: int) -> None: ...

    def cell_start(self, index: int, cell: Cell) -> None: ...

    def step(self, text: str) -> None: ...

    def cell_done(self, index: int, cell: Cell, status: str, line: str) -> None: ...

    def finish(self, status: str) -> None: ...


# --- environment -------------------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(module: str) -> str | None:
    try:
        from importlib.metadata import version

        return version(module)
    except Exception:  # not installed
        return None


def environment(monitor: Any = None) -> dict[str, object]:
    """What a result needs to be compared across machines: versions, CPU, the meter set-up."""
    env: dict[str, object] = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "versions": {m: _version(m) for m in ("wattlens", "torch", "transformers", "diffusers", "onnxruntime")},
    }
    if monitor is not None and hasattr(monitor, "describe"):
        try:
            env["monitor"] = monitor.describe()
        except Exception:  # informative only
            pass
    env.update(_hardware_names(monitor))
    return env


def _hardware_names(monitor: Any) -> dict[str, object]:
    """GPU names by device id and the memory size, so that lifecycle figures can find the hardware later."""
    from wattlens.meters.estimator import machine_memory_gb
    from wattlens.tracking.hardware import gpu_names

    gb = machine_memory_gb()
    return {"gpus": gpu_names(getattr(monitor, "sources", None) or ()), "memory_gb": gb if gb > 0 else None}


# --- one cell ------------------------------------------------------------------------------------------


@dataclass
class CellOutcome:
    """One cell as measured: its stored result, its raw timeline, and the idle power measured after it."""

    cell: Cell
    status: str
    result: CellResult
    error: str | None = None
    timeline: list[WindowRow] = field(default_factory=list)
    idle_after: IdlePower | None = None


def _measure_idle(monitor: Any, seconds: float, label: str, timeline: list[WindowRow]) -> IdlePower | None:
    if seconds <= 0 or not hasattr(monitor, "measure_idle"):
        return None
    t0 = time.time()
    base = monitor.measure_idle(seconds)
    idle = IdlePower.of(base)
    dur = float(getattr(base, "duration_s", seconds) or seconds)
    timeline.append(
        WindowRow(
            phase=f"idle-{label}",
            name=f"idle-{label}",
            start_unix_s=t0,
            duration_s=dur,
            energy_j=None if idle is None else idle.power_w * dur,
            low_j=None if idle is None else idle.low_w * dur,
            high_j=None if idle is None else idle.high_w * dur,
            source=getattr(base, "source", "unknown"),
            components=tuple(WindowComponent(domain=d, power_w=w) for d, w in getattr(base, "power_w", {}).items()),
        )
    )
    return idle


def _load(cell: Cell, monitor: Any) -> tuple[Any, LoadResult, WindowRow]:
    """Load the model inside its own window; returns (workload, load stats, timeline row)."""
    from wattlens.workloads import load_workload

    # threads=0 means the library default: restore it explicitly, since torch.set_num_threads by an earlier
    # cell of the run is process-wide and would otherwise leak into this one.
    threads = cell.threads or _default_threads()
    monitor.begin("load")
    t0 = time.perf_counter()
    try:
        w = load_workload(
            task=cell.task,
            model=cell.model,
            batch=cell.batch,
            precision=cell.precision,
            threads=threads,
            engine=cell.engine,
            device=cell.device,
            **cell.options_dict,
        )
        sync = _sync_of(w)
        if sync is not None:
            sync()  # the host-to-device copy of the weights belongs to the load window
    except BaseException:
        _cancel(monitor, "load")
        raise
    m = monitor.end("load")
    stats = LoadResult(
        duration_s=m.duration_s,
        wall_s=time.perf_counter() - t0,
        energy_j=m.energy_j,
        low_j=m.low_j,
        high_j=m.high_j,
        source=m.source,
    )
    return w, stats, window_row("load", 0, m, 0, None)


_LIB_DEFAULT_THREADS: dict[str, int] = {}


def _default_threads() -> int | None:
    """A library-default cell's threads: the library's own count, or fewer when other processes hold CPUs now.

    PyTorch starts one intra-op thread per core; with cores taken by other work those threads spin and burn CPU
    time while they wait, which would be charged to the model. None means "the library's default".
    """
    restore = _LIB_DEFAULT_THREADS.get("torch")  # set only when a cell of this run changes torch's threads
    free = cotenant.free_cpus(0.1)
    if free is None:
        return restore
    lib = restore or _torch_threads_now() or cotenant.logical_cpus()
    usable = max(1, min(lib, int(free + 0.5)))
    if usable >= lib:
        return restore  # a quiet machine: the library's own default, recorded as such
    logger.info("%.1f of %d CPUs are busy with other processes: this cell uses %d threads", lib - free, lib, usable)
    return usable


def _torch_threads_now() -> int | None:
    """torch's intra-op thread count when torch is already imported (a cell without torch never pays for it)."""
    torch = sys.modules.get("torch")
    try:
        return None if torch is None else int(torch.get_num_threads())
    except Exception:
        return None


def _sync_of(w: Any) -> Callable[[], None] | None:
    """The workload's device synchronisation when it runs on an asynchronous device (CUDA, MPS), else None
    (nothing added to the measured loop on the CPU)."""
    device = str(getattr(w, "device", "cpu") or "cpu")
    sync = getattr(w, "synchronize", None)
    return sync if callable(sync) and (device.startswith("cuda") or device == "mps") else None


def _cell_config(cell: Cell, resolved_device: str | None = None) -> CellConfig:
    """The cell's config with the device the workload actually runs on (``auto`` resolved); the request is
    kept beside it when it differs."""
    resolved = resolved_device or cell.device
    return CellConfig(
        batch=cell.batch,
        precision=cell.precision,
        threads=cell.threads,
        engine=cell.engine,
        device=resolved,
        device_requested=cell.device if resolved != cell.device else None,
        options=dict(cell.options),
    )


def _release_device_memory() -> None:
    """Hand cached CUDA memory back between cells (only when torch already initialised CUDA)."""
    torch = sys.modules.get("torch")
    try:
        if torch is not None and torch.cuda.is_initialized():
            torch.cuda.empty_cache()
    except Exception:  # informative housekeeping only
        pass


def _remember_default_threads(suite: Suite | None) -> None:
    """Read torch's default intra-op thread count before any cell changes it (only if a cell will; None: now)."""
    if "torch" in _LIB_DEFAULT_THREADS or (suite is not None and all(c.threads == 0 for c in suite.cells)):
        return
    try:
        import torch

        _LIB_DEFAULT_THREADS["torch"] = int(torch.get_num_threads())
    except Exception:  # no torch: nothing to restore
        pass


def _cancel(monitor: Any, name: str) -> None:
    try:
        cancel = getattr(monitor, "cancel", None)
        cancel(name) if cancel is not None else monitor.end(name)
    except Exception:  # the load error is the one to report
        pass


def _per_unit(
    unit: str, q: CellStats, phases: Mapping[str, CellStats], tokens: tuple[int, int] | None, n_inputs: int
) -> PerUnit:
    """J per output token / per image where the task's unit makes it meaningful."""
    jpq = q.j_per_query
    in_per_q = out_per_q = j_out = j_pre = j_dec = None
    if tokens is not None and n_inputs:
        in_per_q, out_per_q = tokens[0] / n_inputs, tokens[1] / n_inputs
        if jpq is not None and out_per_q > 0:
            j_out = jpq / out_per_q
        pre, dec = phases.get("prefill"), phases.get("decode")
        if pre is not None and pre.j_per_query is not None and in_per_q > 0:
            j_pre = pre.j_per_query / in_per_q
        if dec is not None and dec.j_per_query is not None and out_per_q > 1:
            # prefill already produced the first new token; decode produces the rest
            j_dec = dec.j_per_query / (out_per_q - 1)
    return PerUnit(
        unit=unit,
        input_tokens_per_query=in_per_q,
        output_tokens_per_query=out_per_q,
        j_per_output_token=j_out,
        prefill_j_per_input_token=j_pre,
        decode_j_per_token=j_dec,
        j_per_image=jpq if unit == "image" else None,  # one image per query (classified, detected, ... generated)
    )


@dataclass(frozen=True)
class QualityFigure:
    """The task metric, the number of inputs it was computed on, and its 95 % Wilson interval."""

    value: float
    n: int
    low: float
    high: float


def _quality(w: Any, task: Any, cell: Cell, inputs: list[Any], outputs: list[Any]) -> QualityFigure | None:
    """The task metric on the measured queries and, for a trained model, more inputs run outside the windows."""
    if w.weights != "random" and len(inputs) < QUALITY_MIN_N and not w.generative:
        inputs = task.inputs(QUALITY_MIN_N, cell.seed)
        per_batch = [w.run(inputs[i : i + cell.batch]) for i in range(0, len(inputs), cell.batch)]
        outputs = flatten_outputs(per_batch, len(inputs))
    value = w.quality(inputs, outputs)
    if value is None or not inputs:
        return None
    low, high = wilson_interval(value, len(inputs))
    return QualityFigure(value=float(value), n=len(inputs), low=low, high=high)


@dataclass(frozen=True)
class _Measured:
    """What was measured on a loaded workload, before the idle baseline after it is known."""

    phases: dict[str, CellStats]
    quality: QualityFigure | None
    metric: str | None
    tokens: TokenCounts
    weights: str
    params: int | None
    generative: bool
    unit: str
    engine: str
    precision: str
    threads: int | None
    info: Mapping[str, object]
    device: str
    input_description: str
    threads_used: int | None
    text_input: bool


def run_cell(
    cell: Cell,
    monitor: Any,
    idle_before: IdlePower | None,
    idle_s: float,
    progress: Progress | None = None,
    max_power_w: float | None = None,
) -> CellOutcome:
    """Measure one cell; never raises for a model failure (returns a ``failed`` outcome instead)."""
    progress = progress or Progress()
    timeline: list[WindowRow] = []
    base = CellResult(
        schema=RESULT_SCHEMA, task=cell.task, model=cell.model, config=_cell_config(cell), cell=cell.to_dict()
    )
    t_cell = time.time()
    w = None
    try:
        progress.step("loading model")
        w, load_stats, load_row = _load(cell, monitor)
        base = replace(base, config=_cell_config(cell, getattr(w, "device", None)))
        timeline.append(load_row)
        before = cotenant.snapshot()
        measured = _measure_loaded(cell, w, monitor, idle_before, progress, timeline)
        load_by_others = _cotenant_load(before, cotenant.snapshot(), measured.threads_used)
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # one model failing must not stop the run
        if caused_by_interrupt(exc):  # a Ctrl-C that a C extension turned into another error
            raise KeyboardInterrupt from exc
        tb = traceback.format_exc(limit=6)
        idle_after = _measure_idle(monitor, idle_s, "after", timeline)
        error = f"{type(exc).__name__}: {exc}"
        res = replace(base, error=error, traceback=tb, cell_s=time.time() - t_cell)
        return CellOutcome(cell, STATUS_FAILED, res, error, timeline, idle_after)
    finally:
        if w is not None:
            w.close()
            w = None
        gc.collect()  # free the model before the idle baseline and the next cell's load (big models on GPUs)
        _release_device_memory()
    progress.step("idle baseline (after)")
    idle_after = _measure_idle(monitor, idle_s, "after", timeline)
    return _finish(
        cell, base, measured, load_stats, idle_before, idle_after, timeline, t_cell, max_power_w, load_by_others
    )


def _cotenant_load(
    start: cotenant.CpuSnapshot | None, end: cotenant.CpuSnapshot | None, threads_used: int | None
) -> CoTenantLoad | None:
    """Other processes' CPU load over the cell's windows (None where /proc/stat cannot be read)."""
    others = None if start is None or end is None else cotenant.others_cpus(start, end)
    if others is None or end is None or start is None:
        return None
    machine = cotenant.logical_cpus()
    cell_cpus = min(machine, threads_used or _LIB_DEFAULT_THREADS.get("torch") or machine)
    threshold = machine - cell_cpus + CONTENTION_SLACK_CPUS
    return CoTenantLoad(
        others_cpus=round(others, 3),
        machine_cpus=machine,
        cell_cpus=cell_cpus,
        threshold_cpus=threshold,
        duration_s=round(end.wall_s - start.wall_s, 3),
        contended=is_contended(others, machine, cell_cpus, end.wall_s - start.wall_s),
    )


def _measure_loaded(
    cell: Cell, w: Any, monitor: Any, idle: IdlePower | None, progress: Progress, timeline: list[WindowRow]
) -> _Measured:
    from wattlens.workloads import get_task

    task = get_task(cell.task)
    inputs = task.inputs(cell.queries, cell.seed)
    # sync: CUDA/MPS queue kernels asynchronously; each batch's latency and window must include its work
    sync = _sync_of(w)
    # the same method for every phase: batch, meter, repeats, warm-up, minimum window, idle baseline, sync
    kw: dict[str, Any] = dict(
        batch=cell.batch,
        monitor=monitor,
        repeats=cell.repeats,
        warmup=cell.warmup,
        min_window_s=cell.min_window_s,
        idle=idle,
        sync=sync,
    )

    def windows(phase: str) -> Callable[[int, int], None]:  # progress between windows (never inside one)
        progress.step(f"{phase} windows 0/{cell.repeats}")
        return lambda done, total: progress.step(f"{phase} windows {done}/{total}")

    phases = {"query": measure_queries(w.run, inputs, collect_outputs=True, progress=windows("query"), **kw)}
    if w.generative and cell.phases:
        phases["prefill"] = measure_queries(w.prefill, inputs, phase="prefill", progress=windows("prefill"), **kw)
        phases["decode"] = measure_decode(w.prefill, w.decode, inputs, progress=windows("decode"), **kw)
    outputs = phases["query"].outputs or []
    quality: QualityFigure | None = None
    if cell.quality:
        progress.step("quality")
        quality = _quality(w, task, cell, inputs, outputs)
    tokens = w.count_tokens(inputs, outputs)
    info = dict(getattr(w, "info", {}) or {})
    metric = info.get("metric") or task.metric or None
    return _Measured(
        phases=phases,
        quality=quality,
        metric=None if metric is None else str(metric),
        tokens=TokenCounts(input_total=tokens[0], output_total=tokens[1], inputs=len(inputs)),
        weights=w.weights,
        params=w.params,
        generative=w.generative,
        unit=task.unit,
        engine=w.engine,
        precision=w.precision,
        threads=w.threads,
        info=info,
        device=getattr(w, "device", None) or cell.device,
        input_description=task.input_description,
        threads_used=w.threads if isinstance(w.threads, int) and w.threads > 0 else None,
        text_input=str(task.modality).startswith("text"),
    )


def _finish(
    cell: Cell,
    base: CellResult,
    measured: _Measured,
    load: LoadResult,
    before: IdlePower | None,
    after: IdlePower | None,
    timeline: list[WindowRow],
    t_cell: float,
    max_power_w: float | None = None,
    load_by_others: CoTenantLoad | None = None,
) -> CellOutcome:
    idle = IdlePower.mean_of(before, after)
    phases = {k: (with_idle(v, idle) if idle is not None else v) for k, v in measured.phases.items()}
    for p in phases.values():
        timeline.extend(p.windows)
    tokens = measured.tokens
    validity = check_cell(
        phases,
        generative=measured.generative,
        input_tokens=tokens.input_total,
        output_tokens=tokens.output_total if measured.generative else None,
        idle_before_w=None if before is None else before.power_w,
        idle_after_w=None if after is None else after.power_w,
        max_power_w=max_power_w,
        text_input=measured.text_input,
    )
    if load_by_others is not None:
        c = load_by_others
        check_contention(validity, c.others_cpus, c.machine_cpus, c.cell_cpus, c.duration_s)
    q = phases["query"]
    no_max = "power <= maximum: no maximum known for this boundary (set max_power_w in the suite or --max-power-w)"
    res = replace(
        base,
        quality=None if measured.quality is None else measured.quality.value,
        quality_n=None if measured.quality is None else measured.quality.n,
        quality_low=None if measured.quality is None else measured.quality.low,
        quality_high=None if measured.quality is None else measured.quality.high,
        metric=measured.metric,
        tokens=tokens,
        weights=measured.weights,
        params=measured.params,
        generative=measured.generative,
        unit=measured.unit,
        engine=measured.engine,
        precision=measured.precision,
        threads=measured.threads,
        info=measured.info,
        device=measured.device,
        input_description=measured.input_description,
        threads_used=measured.threads_used,
        text_input=measured.text_input,
        load=load,
        status=validity.status,
        reasons=tuple(validity.reasons),
        warnings=tuple(validity.warnings),
        checks_skipped=() if max_power_w else (no_max,),
        query=q.result(),
        phases={k: v.result() for k, v in phases.items() if k != "query"},
        per_unit=_per_unit(measured.unit, q, phases, (tokens.input_total, tokens.output_total), tokens.inputs),
        idle=IdleBaselines(before=before, after=after, used=idle),
        cotenant=load_by_others,
        cell_s=time.time() - t_cell,
    )
    return CellOutcome(cell, validity.status, res, None, timeline, after)


# --- a whole run -------------------------------------------------------------------------------------------


def run_config(suite: Suite, carbon: Mapping[str, object] | None = None) -> dict[str, object]:
    """What is stored with the run: enough to resume it without the original suite file."""
    from wattlens.bench.ratings import RATING_VERSION, REFERENCE_TIER

    return {
        "suite": suite.to_dict(),
        "carbon": dict(carbon or {}),
        "method": METHOD,
        "rating": {
            "rule": RATING_VERSION,
            "reference population": "wattlens/bench/data/reference_population.csv: PHP per-model kWh per "
            "1,000 queries (benchmark-anchors.md §1.3-1.4), frozen; tier "
            f"{REFERENCE_TIER.label}",
            "like with like": "a result is rated against the reference only when its tier (device kind "
            "and boundary) matches, on its gross figure; otherwise rating_reference is "
            "n/a with both tiers named",
            "within run": "per task and tier with >= 3 ok results: the same rule over this run's own "
            "results, labelled 'relative to this run's N models'",
            "stars": "5 = cheapest fifth of the population named in rating_band; raw Wh shown beside them",
        },
    }


def start_run(
    store: Any,
    suite: Suite,
    *,
    carbon: Mapping[str, object] | None = None,
    monitor: Any = None,
    run_id: str | None = None,
) -> str:
    return store.create_run(RUN_KIND, run_config(suite, carbon), run_id=run_id, environment=environment(monitor))


def execute(
    store: Any,
    run_id: str,
    suite: Suite,
    *,
    monitor: Any = None,
    progress: Progress | None = None,
    on_cell: Callable[[CellOutcome], None] | None = None,
    retry_failed: bool = False,
) -> RunSummary:
    """Run every cell of ``suite`` not yet stored for ``run_id`` (a fresh run or a resumed one).

    ``retry_failed``: also re-run cells stored as ``failed`` (e.g. after installing a missing model).
    """
    progress = progress or Progress()
    idle_s = suite.idle_s
    owned = monitor is None
    if owned:
        from wattlens.tracking import Monitor

        monitor = Monitor(attribution=suite.attribution)
    t0 = time.time()
    _remember_default_threads(suite)
    pending = pending_cells(store, run_id, suite, retry_failed)
    counts: dict[str, int] = {}
    status = "done"
    try:
        store.set_run_status(run_id, "running")
        progress.start(run_id, len(suite.cells), len(suite.cells) - len(pending))
        timeline0: list[WindowRow] = []
        idle = _measure_idle(monitor, idle_s, "before", timeline0) if pending else None
        for i, cell in enumerate(pending):
            progress.cell_start(i, cell)
            out = run_cell(cell, monitor, idle, idle_s, progress, suite.max_power_w)
            if i == 0:
                out.timeline[:0] = timeline0
            _save_or_keep_cell(store, run_id, cell.key, out)
            counts[out.status] = counts.get(out.status, 0) + 1
            idle = out.idle_after if out.idle_after is not None else idle
            progress.cell_done(i, cell, out.status, summary_line(out))
            if on_cell is not None:
                on_cell(out)
    except KeyboardInterrupt:
        status = "interrupted"
        store.set_run_status(run_id, status)
        progress.finish(status)
        raise
    finally:
        if owned:
            monitor.close()
    return close_run(store, run_id, suite, pending, counts, status, progress, t0)


KEPT_CELL = "bench-cell"  # the kind of a finished cell kept in the retry file when the store refused it


def _save_or_keep_cell(store: Any, run_id: str, key: str, out: Any) -> None:
    """Commit a finished cell; when the store refuses it (locked past its retries, read-only, full), keep it in
    the retry file (:mod:`wattlens.store.pending`) so that ``--resume`` saves it instead of measuring it again,
    then stop the run with the store's error."""
    from wattlens.store import StoreError
    from wattlens.store.pending import keep

    timeline = [dict(r.to_dict()) if hasattr(r, "to_dict") else dict(r) for r in out.timeline]
    try:
        store.save_cell(run_id, key, out.status, out.result, out.error, timeline=timeline)
    except StoreError as exc:
        error = str(exc).splitlines()[0]
        record = {"kind": KEPT_CELL, "run_id": run_id, "cell_key": key, "status": out.status}
        result = out.result.to_dict() if hasattr(out.result, "to_dict") else out.result  # JSON in the file
        record |= {"result": result, "error": out.error, "timeline": timeline}
        try:
            path = keep(store.url, record, error)
        except OSError as keep_exc:
            raise StoreError(f"{error}; the finished cell {key} could not be kept either ({keep_exc})") from exc
        raise StoreError(f"{error}; the finished cell {key} is kept in {path} and saved by --resume") from exc


def _restore_kept_cells(store: Any) -> int:
    """Save the cells (and records) kept in the retry file for this store; returns how many were saved."""
    from wattlens.store.pending import _replay

    def save(record: Mapping[str, Any]) -> None:
        if record.get("kind") != KEPT_CELL:
            store.save_measurement(record)
            return
        rid, key = str(record["run_id"]), str(record["cell_key"])
        timeline = list(record.get("timeline") or [])
        store.save_cell(rid, key, str(record["status"]), record.get("result"), record.get("error"), timeline=timeline)

    try:
        return _replay(store.url, save)
    except (OSError, ValueError):  # an unreadable retry file: the cells are measured again instead
        return 0


def pending_cells(store: Any, run_id: str, suite: Suite, retry_failed: bool = False) -> list[Cell]:
    """The cells of ``suite`` a run still has to measure (done ones skipped; failed ones too unless retried).
    Cells kept in the retry file by an earlier attempt that the store refused are saved first."""
    if hasattr(store, "url") and not getattr(store, "read_only", False):
        _restore_kept_cells(store)
    done_before = store.done_keys(run_id)
    if retry_failed:
        done_before -= {c["cell_key"] for c in store.cells(run_id) if c["status"] == STATUS_FAILED}
    return [c for c in suite.cells if c.key not in done_before]


def close_run(
    store: Any,
    run_id: str,
    suite: Suite,
    pending: list[Cell],
    counts: Mapping[str, int],
    status: str,
    progress: Progress,
    t0: float,
) -> RunSummary:
    """Set the run's final status, tell the progress sink, and summarise what this call did."""
    store.set_run_status(run_id, status)
    progress.finish(status)
    return RunSummary(
        run_id=run_id,
        status=status,
        done=len(suite.cells) - len(pending) + sum(counts.values()),
        total=len(suite.cells),
        counts=dict(counts),
        duration_s=time.time() - t0,
    )


def summary_line(out: CellOutcome) -> str:
    if out.status == STATUS_FAILED:
        return f"failed: {out.error}"
    q = out.result.query
    if q is None or q.j_per_query is None:
        txt = "energy unavailable"
    else:
        txt = (
            f"{q.j_per_query:.4g} J/query [{q.j_per_query_low or 0:.3g}, {q.j_per_query_high or 0:.3g}] {q.basis}, "
            f"CV {(q.cv or 0):.1%}"
        )
    if q is not None and q.p50_ms is not None:
        txt += f", p50 {q.p50_ms:.1f} ms"
    if out.status != "ok":
        txt += f" — {out.status}: {'; '.join(out.result.reasons or ())}"
    return txt
