"""Measure a query function the benchmark way: warm-up excluded, steady-state windows, repeats, CI, CV.

``measure_queries(fn, inputs, ...)`` is the one primitive every benchmark (and ``wattlens optimize``)
uses:

* ``warmup`` batches run first, outside any window (first-call allocation, lazy init, JIT, cache fill).
* Each of ``repeats`` windows runs batches, cycling through ``inputs`` from the start, until **every
  input was queried and the window lasted at least ``min_window_s``** (optimum-benchmark's "both
  iterations and duration" rule, anchors §4; ML.ENERGY's steady-state minimum, anchors §3.1).
* Per repeat: gross energy from the meter, idle energy = idle power x window duration, net = gross - idle.
  J per query is on the *net* basis when an idle baseline is known, else on the *gross* basis (stated
  in ``basis``). ``j_per_query_low/high`` combine the meter's own interval (systematic; for net, the
  window's and the baseline's low ends paired, as one meter's error moves both) with the 95 %
  t-interval across repeats (random): low = mean(meter low) - CI, high = mean(meter high) + CI.
* Latency: each query's latency is the latency of the batch it rode in (what its caller waited).
* Asynchronous devices (CUDA, MPS): ``sync`` (e.g. ``Workload.synchronize``) is called after every batch,
  inside its latency, and after warm-up / decode state preparation, before a window opens, so that queued
  kernels are timed with their batch and counted in their own window. The monitor's sources also synchronise
  at window edges (the NVML source's ``before_edge``), but latency needs it per batch.

The harness does as little as possible inside a window: two ``perf_counter`` calls and one list append
per batch; ``harness_overhead_frac`` reports what it cost (``benchmarks/bench_overhead.py``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from wattlens.bench.method import MIN_REPEATS, RepeatSummary, summarize
from wattlens.bench.records import IdlePower, PhaseResult, WindowComponent, WindowRow
from wattlens.stats import mean, percentile

BASIS_NET = "net"
BASIS_GROSS = "gross"
DECODE_CHUNK_BATCHES = 64  # prefilled states held at once while measuring decode (bounds KV-cache memory)


@dataclass
class CellStats:
    """Everything measured for one (fn, inputs, batch) cell over its repeats.

    Energies ``gross_j``/``idle_j``/``net_j`` are totals over the measured windows (warm-up excluded);
    ``j_per_query*`` are per query on ``basis``.
    """

    phase: str
    batch: int
    repeats: int
    warmup: int
    min_window_s: float
    queries_per_repeat: list[int]
    expected_queries: int  # queries sent in the measured windows
    inputs_per_repeat: int  # every repeat had to cover this many distinct inputs
    completed_queries: int  # queries whose outputs came back (len(outputs) == len(batch) when sized)
    duration_s: float  # total measured window time
    busy_s: float  # time inside ``fn`` during the windows
    latencies_s: list[float]  # one per batch (every query in a batch waited that long)
    basis: str
    source: str
    j_per_query: float | None
    j_per_query_low: float | None
    j_per_query_high: float | None
    summary: RepeatSummary | None  # of the per-repeat J per query
    per_repeat_j_per_query: list[float]
    gross_j: float | None
    idle_j: float | None
    net_j: float | None
    idle: IdlePower | None
    windows: list[WindowRow] = field(default_factory=list)
    outputs: list[Any] | None = None  # first pass over the inputs, aligned with them (collect_outputs=True)
    notes: list[str] = field(default_factory=list)

    # --- derived ------------------------------------------------------------------------------
    @property
    def queries(self) -> int:
        return sum(self.queries_per_repeat)

    @property
    def ci95_j(self) -> float | None:
        if self.summary is None or self.summary.n < 2:  # one repeat: the interval is unknown, not 0
            return None
        return self.summary.ci95

    @property
    def cv(self) -> float | None:
        return None if self.summary is None else self.summary.cv

    @property
    def p50_ms(self) -> float | None:
        return percentile(self.latencies_s, 50) * 1e3 if self.latencies_s else None

    @property
    def p95_ms(self) -> float | None:
        return percentile(self.latencies_s, 95) * 1e3 if self.latencies_s else None

    @property
    def throughput_qps(self) -> float | None:
        return self.queries / self.duration_s if self.duration_s > 0 else None

    @property
    def mean_power_w(self) -> float | None:
        return None if self.gross_j is None or self.duration_s <= 0 else self.gross_j / self.duration_s

    @property
    def gross_j_per_query(self) -> float | None:
        return None if self.gross_j is None or not self.queries else self.gross_j / self.queries

    @property
    def net_j_per_query(self) -> float | None:
        return None if self.net_j is None or not self.queries else self.net_j / self.queries

    @property
    def harness_overhead_frac(self) -> float | None:
        """Share of the measured window spent outside ``fn`` (loop, timing, meter edges)."""
        return None if self.duration_s <= 0 else max(0.0, self.duration_s - self.busy_s) / self.duration_s

    def result(self) -> PhaseResult:
        """What is kept of this phase (the stored record; latencies, raw windows and outputs are not in it)."""
        return PhaseResult(
            phase=self.phase,
            batch=self.batch,
            repeats=self.repeats,
            warmup=self.warmup,
            min_window_s=self.min_window_s,
            queries=self.queries,
            queries_per_repeat=tuple(self.queries_per_repeat),
            expected_queries=self.expected_queries,
            inputs_per_repeat=self.inputs_per_repeat,
            completed_queries=self.completed_queries,
            duration_s=self.duration_s,
            busy_s=self.busy_s,
            basis=self.basis,
            source=self.source,
            j_per_query=self.j_per_query,
            j_per_query_low=self.j_per_query_low,
            j_per_query_high=self.j_per_query_high,
            ci95_j=self.ci95_j,
            cv=self.cv,
            per_repeat_j_per_query=tuple(self.per_repeat_j_per_query),
            gross_j=self.gross_j,
            idle_j=self.idle_j,
            net_j=self.net_j,
            gross_j_per_query=self.gross_j_per_query,
            net_j_per_query=self.net_j_per_query,
            idle=self.idle,
            mean_power_w=self.mean_power_w,
            p50_ms=self.p50_ms,
            p95_ms=self.p95_ms,
            throughput_qps=self.throughput_qps,
            harness_overhead_frac=self.harness_overhead_frac,
            notes=tuple(self.notes),
        )

    def to_dict(self) -> dict[str, object]:
        return self.result().to_dict()


# --- helpers -------------------------------------------------------------------------------------


def _epoch_batches(inputs: Sequence[Any], batch: int) -> list[list[Any]]:
    """One pass over the inputs in full-size batches (the last wraps around to the start).

    Why full size: batch size is a measured variable; a ragged last batch would mix two batch sizes.
    """
    n = len(inputs)
    return [[inputs[(k * batch + j) % n] for j in range(batch)] for k in range(math.ceil(n / batch))]


def _open_monitor(monitor: Any) -> tuple[Any, bool]:
    if monitor is not None:
        return monitor, False
    from wattlens.tracking import Monitor  # lazily: only when the caller gave none

    return Monitor(), True


def window_row(phase: str, repeat: int, m: Any, queries: int, idle: IdlePower | None, sub: int = 0) -> WindowRow:
    """One raw timeline row: the window's start/duration/energy per component (kept by store.save_timeline)."""
    comps = tuple(WindowComponent.of(c) for c in (getattr(m, "components", None) or []))
    idle_j = None if idle is None else idle.power_w * m.duration_s
    gross = m.energy_j
    return WindowRow(
        phase=phase,
        repeat=repeat,
        sub=sub,
        name=getattr(m, "name", phase),
        start_unix_s=getattr(m, "start_unix_s", None),
        duration_s=m.duration_s,
        queries=queries,
        energy_j=gross,
        low_j=m.low_j,
        high_j=m.high_j,
        idle_j=idle_j,
        net_j=None if gross is None or idle_j is None else gross - idle_j,
        source=getattr(m, "source", "unknown"),
        components=comps,
    )


@dataclass
class _Acc:
    """Per-repeat accumulators (one repeat may span several sub-windows for decode)."""

    queries: int = 0
    duration_s: float = 0.0
    gross_j: float | None = 0.0
    low_j: float | None = 0.0
    high_j: float | None = 0.0

    def add(self, m: Any, queries: int) -> None:
        self.queries += queries
        self.duration_s += m.duration_s
        e, lo, hi = m.energy_j, m.low_j, m.high_j
        if e is None or self.gross_j is None:
            self.gross_j = self.low_j = self.high_j = None
            return
        self.gross_j += e
        self.low_j += e if lo is None else lo  # type: ignore[operator]
        self.high_j += e if hi is None else hi  # type: ignore[operator]


def _summarize_cell(
    phase: str,
    accs: list[_Acc],
    idle: IdlePower | None,
    *,
    batch: int,
    warmup: int,
    min_window_s: float,
    inputs_per_repeat: int,
    completed: int,
    busy_s: float,
    latencies: list[float],
    windows: list[WindowRow],
    sources: list[str],
) -> CellStats:
    """Turn per-repeat accumulators into the cell's statistics (shared by every phase)."""
    from wattlens.meters.base import SOURCE_RANK, UNAVAILABLE

    duration = sum(a.duration_s for a in accs)
    source = min(sources, key=lambda s: SOURCE_RANK.get(s, 0)) if sources else UNAVAILABLE
    notes: list[str] = []
    energy_known = bool(accs) and all(a.gross_j is not None for a in accs)
    if idle is None:
        notes.append("no idle baseline: J per query is gross (idle included)")
    if len(accs) < MIN_REPEATS:
        notes.append(f"{len(accs)} repeats < {MIN_REPEATS}: the confidence interval is wide or undefined")
    common: dict[str, Any] = dict(
        phase=phase,
        batch=batch,
        repeats=len(accs),
        warmup=warmup,
        min_window_s=min_window_s,
        queries_per_repeat=[a.queries for a in accs],
        expected_queries=sum(a.queries for a in accs),
        inputs_per_repeat=inputs_per_repeat,
        completed_queries=completed,
        duration_s=duration,
        busy_s=busy_s,
        latencies_s=latencies,
        basis=BASIS_NET if idle is not None else BASIS_GROSS,
        idle=idle,
        windows=windows,
        idle_j=None if idle is None else idle.power_w * duration,
    )
    if not energy_known:
        return CellStats(
            **common,
            source=UNAVAILABLE,
            j_per_query=None,
            j_per_query_low=None,
            j_per_query_high=None,
            summary=None,
            per_repeat_j_per_query=[],
            gross_j=None,
            net_j=None,
            notes=[*notes, "energy unavailable for some window"],
        )
    gross = sum(a.gross_j for a in accs)  # type: ignore[misc]
    per_q, low_q, high_q = [], [], []
    for a in accs:
        if idle is None:
            e, lo, hi = a.gross_j, a.low_j, a.high_j
        else:
            # Net bounds pair low with low and high with high: the window and its baseline are read by the same
            # meter with the same coefficients, so the meter's systematic error moves both the same way (the
            # estimator computes each bound with every coefficient at its low/high end). Pairing low with high
            # would count that one error twice and swamp the net figure.
            e = a.gross_j - idle.power_w * a.duration_s  # type: ignore[operator]
            b1 = a.low_j - idle.low_w * a.duration_s  # type: ignore[operator]
            b2 = a.high_j - idle.high_w * a.duration_s  # type: ignore[operator]
            lo, hi = min(b1, b2, e), max(b1, b2, e)
        q = max(a.queries, 1)
        per_q.append(e / q)  # type: ignore[operator]
        low_q.append(lo / q)  # type: ignore[operator]
        high_q.append(hi / q)  # type: ignore[operator]
    s = summarize(per_q)
    net = None if common["idle_j"] is None else gross - common["idle_j"]
    low = mean(low_q) - s.ci95
    if low < 0:  # energy drawn by the work cannot be negative: the spread across repeats exceeds the mean
        cv = "n/a" if s.cv is None else f"{s.cv:.0%}"
        notes = [
            *notes,
            f"interval low end {low:.3g} J/query clamped at 0: repeats disagree more than their mean "
            f"(CV {cv}), typically a contended machine; re-run on a quiet one",
        ]
        low = 0.0
    return CellStats(
        **common,
        source=source,
        j_per_query=s.mean,
        j_per_query_low=low,
        j_per_query_high=mean(high_q) + s.ci95,
        summary=s,
        per_repeat_j_per_query=per_q,
        gross_j=gross,
        net_j=net,
        notes=notes,
    )


def _check_args(inputs: Sequence[Any], batch: int, repeats: int, warmup: int, min_window_s: float) -> None:
    if not inputs:
        raise ValueError("measure_queries needs at least one input")
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    if warmup < 0 or min_window_s < 0:
        raise ValueError("warmup and min_window_s must be >= 0")


def _close_window(mon: Any, name: str) -> None:
    """Close a window left open by a failing query so the monitor stays usable for the next cell."""
    try:
        cancel = getattr(mon, "cancel", None)
        cancel(name) if cancel is not None else mon.end(name)
    except Exception:  # the original error is the one worth raising
        pass


def _completed(out: Any, n: int) -> int:
    """Queries answered by one call: all of them unless the output is sized and shorter."""
    try:
        return min(len(out), n)
    except TypeError:
        return n


@dataclass
class _CellLog:
    """What a cell's windows accumulate, shared by ``measure_queries`` and ``measure_decode``.

    Filled only between windows (after ``mon.end``), never inside one, so it adds nothing to measured time.
    """

    phase: str
    idle: IdlePower | None
    batch: int
    warmup: int
    min_window_s: float
    inputs_per_repeat: int
    latencies: list[float] = field(default_factory=list)
    accs: list[_Acc] = field(default_factory=list)
    windows: list[WindowRow] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    busy_s: float = 0.0
    completed: int = 0

    def record(self, m: Any, lat: list[float], done: int) -> None:
        """One closed window: its per-batch latencies, completed queries and the meter's source."""
        self.busy_s += sum(lat)
        self.completed += done
        self.latencies.extend(lat)
        self.sources.append(getattr(m, "source", "unknown"))

    def summarize(self) -> CellStats:
        return _summarize_cell(
            self.phase,
            self.accs,
            self.idle,
            batch=self.batch,
            warmup=self.warmup,
            min_window_s=self.min_window_s,
            inputs_per_repeat=self.inputs_per_repeat,
            completed=self.completed,
            busy_s=self.busy_s,
            latencies=self.latencies,
            windows=self.windows,
            sources=self.sources,
        )


def _start_cell(
    phase: str,
    inputs: Sequence[Any],
    batch: int,
    monitor: Any,
    repeats: int,
    warmup: int,
    min_window_s: float,
    idle: Any,
) -> tuple[Any, bool, list[list[Any]], _CellLog]:
    """Validate, open (or borrow) the monitor, cut the batches and start the cell's log."""
    _check_args(inputs, batch, repeats, warmup, min_window_s)
    mon, owned = _open_monitor(monitor)
    idle_p = IdlePower.of(idle if idle is not None else getattr(mon, "idle", None))
    log = _CellLog(phase, idle_p, batch, warmup, min_window_s, len(inputs))
    return mon, owned, _epoch_batches(inputs, batch), log


# --- the primitive ---------------------------------------------------------------------------------


def measure_queries(
    fn: Callable[[list[Any]], Any],
    inputs: Sequence[Any],
    batch: int = 1,
    monitor: Any = None,
    repeats: int = 5,
    warmup: int = 2,
    min_window_s: float = 1.0,
    *,
    idle: Any = None,
    phase: str = "query",
    collect_outputs: bool = False,
    progress: Callable[[int, int], None] | None = None,
    sync: Callable[[], None] | None = None,
) -> CellStats:
    """Measure ``fn`` (which takes a list batch) over ``inputs``; see the module docstring for the method.

    ``idle``: an IdleBaseline, watts, or None (then ``monitor.idle`` is used when set).
    ``progress(done_repeats, repeats)`` is called after each window, outside it.
    ``sync``: waits for an asynchronous device (CUDA/MPS); called after each batch, inside its latency.
    """
    mon, owned, batches, log = _start_cell(phase, inputs, batch, monitor, repeats, warmup, min_window_s, idle)
    n_in, n_b = len(inputs), len(batches)
    perf = time.perf_counter
    outputs: list[Any] | None = [] if collect_outputs else None
    try:
        for k in range(warmup):
            fn(batches[k % n_b])
        if sync is not None:
            sync()  # warm-up work must not spill into the first window
        for r in range(repeats):
            wname = f"{phase}#{r}"
            lat_r: list[float] = []
            n_q = done = 0
            k = 0
            mon.begin(wname)
            t_start = perf()
            try:
                while True:
                    b = batches[k % n_b]
                    t0 = perf()
                    out = fn(b)
                    if sync is not None:
                        sync()
                    t1 = perf()
                    lat_r.append(t1 - t0)
                    done += _completed(out, batch)
                    if outputs is not None and r == 0 and k < n_b:
                        outputs.append(out)
                    k += 1
                    n_q += batch
                    if n_q >= n_in and t1 - t_start >= min_window_s:
                        break
            except BaseException:
                _close_window(mon, wname)
                raise
            m = mon.end(wname)
            log.record(m, lat_r, done)
            acc = _Acc()
            acc.add(m, n_q)
            log.accs.append(acc)
            row = window_row(phase, r, m, n_q, log.idle)
            log.windows.append(replace(row, latencies_ms=tuple(round(x * 1e3, 4) for x in lat_r)))
            if progress is not None:
                progress(r + 1, repeats)
    finally:
        if owned:
            mon.close()
    stats = log.summarize()
    if outputs is not None:
        stats.outputs = flatten_outputs(outputs, n_in)
    return stats


def flatten_outputs(per_batch: list[Any], n: int) -> list[Any]:
    """Per-batch outputs -> one output per input (sized outputs are split; others repeated per query)."""
    flat: list[Any] = []
    for out in per_batch:
        try:
            flat.extend(list(out))
        except TypeError:
            flat.append(out)
    return flat[:n]


def measure_decode(
    prefill: Callable[[list[Any]], Any],
    decode: Callable[[Any], Any],
    inputs: Sequence[Any],
    batch: int = 1,
    monitor: Any = None,
    repeats: int = 5,
    warmup: int = 2,
    min_window_s: float = 1.0,
    *,
    idle: Any = None,
    progress: Callable[[int, int], None] | None = None,
    sync: Callable[[], None] | None = None,
) -> CellStats:
    """Decode measured in its own windows, never as generate - prefill (the AIES flaw, anchors §2.5).

    Prefill states are prepared *outside* the window (in chunks of at most DECODE_CHUNK_BATCHES, to bound
    KV-cache memory); each window then only decodes. A repeat is the sum of its sub-windows and lasts
    until all inputs were decoded and the summed window time reached ``min_window_s``. ``sync`` as in
    :func:`measure_queries` (also after the states are prepared, so prefill work stays outside the window).
    """
    mon, owned, batches, log = _start_cell("decode", inputs, batch, monitor, repeats, warmup, min_window_s, idle)
    n_in, n_b = len(inputs), len(batches)
    perf = time.perf_counter
    try:
        for k in range(warmup):
            decode(prefill(batches[k % n_b]))
        for r in range(repeats):
            acc = _Acc()
            k, sub = 0, 0
            size = min(DECODE_CHUNK_BATCHES, n_b)
            while acc.queries < n_in or acc.duration_s < min_window_s:
                chunk = [batches[(k + j) % n_b] for j in range(size)]
                k += len(chunk)
                states = [prefill(b) for b in chunk]  # outside the window
                if sync is not None:
                    sync()
                wname = f"decode#{r}.{sub}"
                lat_r: list[float] = []
                done = 0
                mon.begin(wname)
                try:
                    for st in states:
                        t0 = perf()
                        out = decode(st)
                        if sync is not None:
                            sync()
                        lat_r.append(perf() - t0)
                        done += _completed(out, batch)
                except BaseException:
                    _close_window(mon, wname)
                    raise
                m = mon.end(wname)
                del states
                log.record(m, lat_r, done)
                acc.add(m, batch * len(chunk))
                log.windows.append(window_row("decode", r, m, batch * len(chunk), log.idle, sub))
                sub += 1
                # Fewer, longer sub-windows when decode is fast: size the next chunk to the time still missing.
                per_batch_s = max(m.duration_s / len(chunk), 1e-9)
                missing_s = max(min_window_s - acc.duration_s, 0.0)
                size = max(1, min(DECODE_CHUNK_BATCHES, math.ceil(missing_s / per_batch_s)))
            log.accs.append(acc)
            if progress is not None:
                progress(r + 1, repeats)
    finally:
        if owned:
            mon.close()
    return log.summarize()


def with_idle(stats: CellStats, idle: Any) -> CellStats:
    """The same windows restated against another idle baseline (e.g. the mean of before and after a cell).

    Rebuilt from the raw window rows (``stats.windows``), so nothing is re-measured.
    """
    idle_p = IdlePower.of(idle)
    by_repeat: dict[int, _Acc] = {}
    windows = []
    for w in stats.windows:
        acc = by_repeat.setdefault(w.repeat, _Acc())
        acc.add(w, w.queries or 0)
        idle_j = None if idle_p is None else idle_p.power_w * w.duration_s
        net = None if w.energy_j is None or idle_j is None else w.energy_j - idle_j
        windows.append(replace(w, idle_j=idle_j, net_j=net))
    accs = [by_repeat[r] for r in sorted(by_repeat)]
    out = _summarize_cell(
        stats.phase,
        accs,
        idle_p,
        batch=stats.batch,
        warmup=stats.warmup,
        min_window_s=stats.min_window_s,
        inputs_per_repeat=stats.inputs_per_repeat,
        completed=stats.completed_queries,
        busy_s=stats.busy_s,
        latencies=stats.latencies_s,
        windows=windows,
        sources=[w.source for w in stats.windows],
    )
    out.outputs = stats.outputs
    return out
