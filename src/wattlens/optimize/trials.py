"""Measuring one configuration: a trial at a fidelity, in this process or in a worker, and the confirmation rounds.

A trial runs the benchmark primitive (:func:`wattlens.bench.runner.measure_queries`) on the configuration's
function with the monitor it is given, then charges the memory term for the configuration's own footprint
(:mod:`wattlens.optimize.accounting`). Configurations that need an environment set before torch starts
(``OMP_WAIT_POLICY``) run in a worker subprocess (:mod:`wattlens.optimize.worker`). At the probe rung a
configuration whose first call already costs > 10x the cheapest probe's CPU per query is skipped
(:class:`ProbePruner`): it cannot survive the halving.

Confirmation (:meth:`TrialMeasurer.confirm`) re-measures the baseline and the finalists in interleaved,
time-bounded rounds, so drift and co-tenant noise hit all alike and the ratios come from one run.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from wattlens.optimize import procmem
from wattlens.optimize import space as SP
from wattlens.optimize.accounting import AS_MEASURED, PER_TRIAL, charge_footprint, split_components
from wattlens.optimize.models import ST_PATH
from wattlens.optimize.request import OptimizeRequest
from wattlens.optimize.results import Config, Fidelity, Trial, TrialDetail, config_int, config_key
from wattlens.optimize.runstore import RunCells
from wattlens.optimize.variants import VariantBank

if TYPE_CHECKING:
    from wattlens.optimize.worker import WorkerClient

QueryFn = Callable[[list[str]], Any]


class DualMonitor:
    """Opens every window on two monitors (process and machine attribution); ``end`` returns the primary's
    reading and keeps the secondary's energy in ``secondary_j`` — one measurement, both boundaries."""

    def __init__(self, primary: Any, secondary: Any | None) -> None:
        self.primary, self.secondary = primary, secondary
        self.idle = getattr(primary, "idle", None)
        self.secondary_j: list[float | None] = []

    def begin(self, name: str) -> None:
        if self.secondary is not None:
            self.secondary.begin(name)
        self.primary.begin(name)

    def end(self, name: str) -> Any:
        m = self.primary.end(name)
        if self.secondary is not None:
            self.secondary_j.append(self.secondary.end(name).energy_j)
        return m

    def cancel(self, name: str) -> None:
        for mon in (self.primary, self.secondary):
            try:
                if mon is not None:
                    mon.cancel(name)
            except Exception:  # the measurement's own error is the one to report
                pass


class ProbePruner:
    """At the probe rung, time one call first (it doubles as a warm-up): a configuration costing more than
    ``factor`` x the cheapest probe so far in CPU-seconds per query cannot survive the halving, so its probe is
    skipped (what a multi-thread configuration costs on a busy machine made this worth it)."""

    def __init__(self, factor: float = 10.0, min_probes: int = 3) -> None:
        self.factor = factor
        self.min_probes = min_probes
        self.best_cpu_per_query: float | None = None  # cheapest probe so far, CPU-s per query
        self.probes = 0

    def record(self, cpu_per_query: float) -> None:
        best = self.best_cpu_per_query
        self.best_cpu_per_query = cpu_per_query if best is None else min(best, cpu_per_query)
        self.probes += 1

    def check(self, fn: QueryFn, inputs: Sequence[str], batch: int, fid: Fidelity) -> str:
        """The reason to skip this probe, or "" to measure it normally."""
        best = self.best_cpu_per_query
        if fid.name != "probe" or self.probes < self.min_probes or not best:
            return ""
        c0 = time.process_time()
        fn((list(inputs) * (batch // max(1, len(inputs)) + 1))[:batch])
        cpq = (time.process_time() - c0) / batch
        if cpq > self.factor * best:
            return (
                f"pruned early: one call cost {cpq * 1e3:.1f} CPU-ms/query, > {self.factor:.0f}x the "
                f"cheapest probe so far ({best * 1e3:.2f})"
            )
        return ""


def trial_cell(config: Config, fid: Fidelity) -> str:
    """The store cell of one trial: ``trial:<rung>:<config key>``."""
    return f"trial:{fid.name}:{config_key(config)}"


class TrialMeasurer:
    """Measures configurations for one run: ``evaluate`` is what the search strategies call."""

    def __init__(
        self,
        req: OptimizeRequest,
        bank: VariantBank,
        monitor: Any,
        *,
        n_cpus: int,
        inputs: Sequence[str],
        cells: RunCells | None = None,
        done: dict[str, Trial] | None = None,
        rss0_mb: float | None = None,
        machine_monitor: Any = None,
    ) -> None:
        self.req = req
        self.bank = bank
        self.monitor = monitor
        self.machine_monitor = machine_monitor
        self.n_cpus = n_cpus
        self.inputs = list(inputs)
        self.cells = cells
        self.done = dict(done or {})  # trials a resumed run already measured, by cell key
        self.rss0_mb = rss0_mb  # RSS of this process before any model was loaded (runtime libraries)
        self.pruner = ProbePruner()
        self._workers: dict[str, WorkerClient] = {}

    # -- the search's callable ------------------------------------------------------------------------
    def evaluate(self, config: Config, fid: Fidelity, where: str | None = None) -> Trial:
        """The trial of ``config`` at ``fid``: the stored one when a resumed run has it, else measured and stored
        at once. ``where``: the process it ran in when not the search's own (a Ray worker), kept with the trial."""
        cell = trial_cell(config, fid)
        if cell in self.done:
            return self.done[cell]
        t = self.measure(config, fid)
        if where is not None:
            t = t.with_detail(process=where)
        if self.cells is not None:
            self.cells.save_trial(cell, t)
        return t

    def _inputs(self, config: Config, n: int) -> list[str]:
        texts = self.inputs[:n]
        if config.get("sort"):
            # offline: the corpus is known, so it is served longest-first (outputs are re-ordered by the caller)
            texts = sorted(texts, key=len, reverse=True)
        return texts

    def _footprint_mb(self, model_mb: float | None, rss_before: float | None) -> float | None:
        """Peak RSS one process serving only this configuration would need: runtime libraries (RSS of this
        process before any model was loaded) + the model's bytes + the trial's own working set (high-water mark
        during the trial minus RSS before it). The search process itself holds every variant at once, so its raw
        high-water mark would say nothing per configuration; baseline and recommendation are also measured for
        real in a fresh process (``deploy_rss_mb``)."""
        peak = procmem.rss_peak_mb()
        if self.rss0_mb is None or peak is None or rss_before is None:
            return None
        return self.rss0_mb + (model_mb or 0.0) + max(0.0, peak - rss_before)

    def measure(self, config: Config, fid: Fidelity, monitor: Any = None) -> Trial:
        """One trial of ``config`` at ``fid`` (gate first: a variant failing it is not measured)."""
        from wattlens.bench.runner import measure_queries
        from wattlens.optimize.hardware import knobs_for
        from wattlens.optimize.models import make_fn

        spec = SP.variant_of(dict(config))
        q, why = self.bank.gate(spec)
        if why:
            return Trial(dict(config), fid.name, quality=q.quality, ok=False, why=why)
        if config.get("wait") == "passive" and config.get("engine") == "torch":
            return self._measure_in_worker(config, fid, q.quality)
        v = self.bank.variant(spec)
        batch, threads = config_int(config, "batch"), config_int(config, "threads")
        inputs = self._inputs(config, max(fid.queries, batch))  # at least one real batch
        t0, c0, b0 = time.perf_counter(), time.process_time(), procmem.busy_cpu_s()
        with knobs_for(dict(config)) as knobs:
            if config.get("path") == ST_PATH:
                fn = self.bank.st_fn(threads)
            else:
                fn = make_fn(v, threads, str(config.get("wait", "default")))
            procmem.reset_peak_rss()
            rss_before = procmem.rss_now_mb()
            # one warm-up call suffices for big batches (it already touches every shape/arena)
            warm = fid.warmup if batch <= 16 else 1
            pruned = self.pruner.check(fn, inputs, batch, fid)
            if pruned:
                cost = time.perf_counter() - t0
                return Trial(
                    dict(config),
                    fid.name,
                    quality=q.quality,
                    ok=False,
                    why=pruned,
                    cost_s=cost,
                    extra=TrialDetail(pruned_early=True),
                )
            c_meas = time.process_time()
            stats = measure_queries(
                fn,
                inputs,
                batch=batch,
                monitor=monitor or self.monitor,
                repeats=fid.repeats,
                warmup=warm,
                min_window_s=fid.min_window_s,
                phase=fid.name,
            )
            thermal = knobs.thermal()
            if fid.name == "probe" and stats.queries:
                self.pruner.record((time.process_time() - c_meas) / (stats.queries + warm * batch))
        cost = time.perf_counter() - t0
        b1 = procmem.busy_cpu_s()
        # CPU the *other* processes used meanwhile, as a share of the machine: the contamination flag of the
        # anchors' method (co-tenants inflate multi-thread CPU time through spin-waiting and cache sharing)
        foreign = (
            None
            if b0 is None or b1 is None
            else max(0.0, ((b1 - b0) - (time.process_time() - c0)) / max(1e-9, cost * self.n_cpus))
        )
        split = split_components(stats.windows, stats.queries)
        footprint = self._footprint_mb(v.size_mb, rss_before)
        # the energy of THIS configuration: its memory term is charged for its own deployment footprint, not for
        # the search process that holds every variant at once (an artefact of the search, GBs)
        j, delta = charge_footprint(stats.j_per_query, split, footprint)

        def shift(x: float | None) -> float | None:
            return None if x is None else x + delta

        return Trial(
            dict(config),
            fid.name,
            j_per_query=j,
            quality=q.quality,
            p50_ms=stats.p50_ms,
            p95_ms=stats.p95_ms,
            peak_rss_mb=footprint,
            cost_s=cost,
            extra=TrialDetail(
                throughput_qps=stats.throughput_qps,
                j_low=shift(stats.j_per_query_low),
                j_high=shift(stats.j_per_query_high),
                cv=stats.cv,
                source=stats.source,
                basis=stats.basis,
                queries=stats.queries,
                duration_s=stats.duration_s,
                per_repeat=tuple(x + delta for x in stats.per_repeat_j_per_query),
                model_size_mb=v.size_mb,
                thermal=thermal,
                applied_knobs=dict(getattr(knobs, "applied", {})),
                co_tenant_cpu_share=foreign,
                cpu_j_per_query=split.cpu_j_per_query,
                memory_j_per_query=split.memory_j_per_query,
                meter_rss_mb=split.meter_rss_mb,
                meter_w_per_gb=split.meter_w_per_gb,
                memory_rescalable=split.rescalable,
                memory_j_per_gb=split.memory_j_per_gb,
                j_per_query_search_process=stats.j_per_query,
                footprint_mb=footprint if delta else None,
                footprint_basis=PER_TRIAL if delta else AS_MEASURED,
            ),
        )

    def _measure_in_worker(self, config: Config, fid: Fidelity, quality: float | None) -> Trial:
        from wattlens.optimize.worker import WorkerClient

        env = {"OMP_WAIT_POLICY": "PASSIVE"}
        key = json.dumps(env, sort_keys=True)
        if key not in self._workers:
            self._workers[key] = WorkerClient(env, self.req)
        t0 = time.perf_counter()
        res = self._workers[key].measure(dict(config), fid, self._inputs(config, fid.queries))
        cost = time.perf_counter() - t0
        if res.error:
            return Trial(dict(config), fid.name, ok=False, why=f"worker: {res.error}", cost_s=cost)
        return Trial(
            dict(config),
            fid.name,
            j_per_query=res.j_per_query,
            quality=quality,
            p50_ms=res.p50_ms,
            p95_ms=res.p95_ms,
            peak_rss_mb=res.peak_rss_mb,
            cost_s=cost,
            extra=dataclasses.replace(res.extra, process="worker (OMP_WAIT_POLICY=PASSIVE)"),
        )

    def close(self) -> None:
        """Stop the worker processes this measurer started."""
        for w in self._workers.values():
            w.close()
        self._workers.clear()

    # -- confirmation ---------------------------------------------------------------------------------
    def confirm(
        self, finalists: Sequence[Config], full: Fidelity, seen: Sequence[Trial] = ()
    ) -> dict[str, list[Trial]]:
        """Interleaved rounds (baseline, finalist 1, 2, ...) x ``confirm_rounds``: drift and co-tenant noise hit
        all alike, so the ratios come from one run; trials per configuration key.

        Windows are time-bounded: >= 1 s, and 16-64 queries chosen from the configuration's latency seen in the
        search (so a slow baseline costs about 1 s per round, not a minute)."""
        latency: dict[str, float] = {}
        for t in seen:
            if t.ok and t.p50_ms:
                latency[config_key(t.config)] = t.p50_ms / 1000.0 / max(1, config_int(t.config, "batch"))
        out: dict[str, list[Trial]] = {}
        dual = DualMonitor(self.monitor, self.machine_monitor)
        for r in range(self.req.confirm_rounds):
            for c in finalists:
                key = config_key(c)
                cell = f"trial:confirm{r}:{key}"
                t = self.done.get(cell) or self._confirm_one(c, key, latency.get(key), full, dual)
                if cell not in self.done and self.cells is not None:
                    self.cells.save_trial(cell, t)
                out.setdefault(key, []).append(t)
        return out

    def _confirm_one(self, c: Config, key: str, per_q: float | None, full: Fidelity, dual: DualMonitor) -> Trial:
        n0 = len(dual.secondary_j)
        n = 64 if per_q is None else int(min(64, max(16, 1.0 / max(per_q, 1e-6))))
        one = Fidelity("confirm", min(full.queries, n), 1, 1, 1.0)
        try:
            t = self.measure(c, one, monitor=dual)
        except Exception as exc:
            return Trial(dict(c), "confirm", ok=False, why=f"{type(exc).__name__}: {exc}")
        machine = [x for x in dual.secondary_j[n0:] if x is not None]
        if machine and t.ok and t.extra.queries:
            t = t.with_detail(j_per_query_machine=sum(machine) / t.extra.queries)
        return t
