"""``optimize()``: find the lowest-energy way to serve a model under quality/latency/memory limits.

Pipeline (one process; torch configurations needing ``OMP_WAIT_POLICY`` run in a worker subprocess):

1. load the unmodified model(s); held-aside quality inputs (seed 1) separate from measurement inputs (seed 0);
2. build every model-level *variant* once and measure its quality against the unmodified model's outputs
   (cheap, once per variant: it does not depend on threads). A lossy composition (e.g. pruning + int8) is
   only built when each lossy part passed the gate alone; failures are *measured* and reported, not ruled;
3. search the runtime grid of the surviving variants (successive halving; Optuna for large spaces),
   every trial committed to the store as a cell (``trial:<rung>:<config key>``) so ``--resume`` skips it;
   a probe whose first call already costs > 10x the cheapest probe's CPU per query is skipped (it cannot
   survive the halving; listed in ``search.pruned_early``);
4. confirm: baseline, the baseline at one thread (a contention-robust reference) and the finalists re-measured
   in interleaved, time-bounded rounds (same-run ratios, medians), quality re-checked at each finalist's exact
   batching;
5. hidden costs, savings per year, payback of the search's own metered energy; artefact of the winner.

Energy accounting per configuration: the meter's CPU term as measured + its memory term (W/GB x RSS x wall time)
charged for THAT configuration's deployment footprint, never the search process's RSS (which holds every variant
at once): per-trial footprint estimate during the search, the fresh-process measurement (``deploy_rss_mb``) for
the baseline and the recommendation once the deploy check ran; ``saving_factor`` is baseline J / recommended J on
that basis. The search-process figures stay beside them (``j_per_query_search_process``,
``saving_factor_search_process``); ``assumptions`` says which footprint each role used. The baseline is the
library's own call path (``config.path``): ``SentenceTransformer(path).encode`` for a sentence-transformers model
when the library is installed, else transformers' AutoModel with the same pooling.

Where the result lives (what ``wattlens report OPT_RUN_ID`` reads): the run's cell ``"result"``
(``store.cells(run_id)`` -> the row whose ``cell_key == "result"``, its ``result`` column), status ``ok``.
Trials are cells ``trial:<rung>:<key>``; variant quality cells ``variant:<key>``.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from wattlens.optimize import search as S
from wattlens.optimize import space as SP
from wattlens.optimize.models import ST_PATH, TF_PATH
from wattlens.optimize.procmem import status_mb
from wattlens.optimize.quality import compare, gate

RESULT_CELL = "result"


@dataclass
class OptimizeRequest:
    model: str
    task: str = "sentence-similarity"
    mode: str = "online"  # online | offline
    candidates: list[str] = field(default_factory=list)
    min_quality: float | None = 0.99
    max_p95_ms: float | None = None
    max_rss_mb: float | None = None
    budget_s: float | None = None
    strategy: str = "auto"  # auto | halving | optuna | exhaustive
    hardware_knobs: bool = False
    transforms: list[str] | None = None
    queries: int = 200  # per full-fidelity window
    repeats: int = 3
    quality_inputs: int = 128
    confirm_rounds: int = 3
    seed: int = 0
    device: str = "cpu"
    queries_per_day: float = 1_000_000
    country: str | None = None
    region: str | None = None
    price_per_kwh: float | None = None
    currency: str | None = None
    artefact_dir: str | None = None
    store_url: str | None = None
    run_id: str | None = None  # resume this run
    attribution: str = "process"
    deploy_check: bool = True
    batches: list[int] | None = None
    threads: list[int] | None = None
    gen_tokens: int = 8
    compile_backend: str = "inductor"

    def config_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("store_url", "run_id", "artefact_dir"):
            d.pop(k, None)
        return d


# --------------------------------------------------------------------------------------------------
# helpers


def public_config(c: dict[str, Any]) -> dict[str, Any]:
    """The configuration without its 'nothing changed' entries (readable labels, stable JSON)."""
    drop = {
        "quant": "none",
        "prune": "none",
        "compile": False,
        "wait": "default",
        "sort": False,
        "power_limit": None,
        "gpu_clock": None,
    }
    return {k: v for k, v in c.items() if not (k in drop and v == drop[k])}


def _rss_reset() -> bool:
    """Reset the kernel's peak-RSS mark of this process (Linux >= 4.0), so a trial's peak is its own."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _busy_cpu_s() -> float | None:
    """Machine-wide busy CPU seconds (user+nice+system+irq+softirq+steal) from /proc/stat."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
        return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def _loadavg() -> list[float] | None:
    """1/5/15-minute load averages: evidence of co-tenants competing for the CPUs while we measured."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _rss_now_mb() -> float | None:
    return status_mb("VmRSS")


def _rss_peak_mb() -> float | None:
    peak = status_mb("VmHWM")
    if peak is not None:
        return peak
    try:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    except Exception:
        return None


class _DualMonitor:
    """Opens every window on two monitors (process and machine attribution); ``end`` returns the primary's
    reading and keeps the secondary's in ``last_secondary`` — one measurement, both boundaries."""

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
            except Exception:
                pass


def make_monitor(attribution: str = "process") -> Any:
    from wattlens.tracking import Monitor

    return Monitor(attribution=attribution)


def parse_duration(text: str | float | None) -> float | None:
    """``5m`` / ``90s`` / ``1h`` / ``120`` -> seconds."""
    if text is None or text == "":
        return None
    if isinstance(text, (int, float)):
        return float(text)
    t = text.strip().lower()
    mult = {"s": 1, "m": 60, "h": 3600}.get(t[-1])
    return float(t[:-1]) * mult if mult else float(t)


# --------------------------------------------------------------------------------------------------
# the optimizer


_TOKENIZERS_PARALLELISM = "TOKENIZERS_PARALLELISM"


class Optimizer:
    """Holds models, variants, quality cache, the store and the meter for one optimisation run."""

    def __init__(
        self,
        req: OptimizeRequest,
        *,
        progress: Callable[[str], None] | None = None,
        monitor: Any = None,
        store: Any = None,
    ) -> None:
        self.req = req
        self.say = progress or (lambda msg: None)
        self.models = [req.model, *[c for c in req.candidates if c != req.model]]
        self.bases: dict[str, Any] = {}
        self.variants: dict[str, Any] = {}
        self.variant_errors: dict[str, str] = {}
        self.variant_quality: dict[str, dict[str, Any]] = {}
        self.onnx_cache: dict[str, str] = {}
        self.done: dict[str, S.Trial] = {}  # resumed trials by cell key
        self.rejected: list[dict[str, Any]] = []
        self.workers: dict[str, Any] = {}
        self.store = store
        self.run_id: str | None = None
        self.mon = monitor
        self.mon_machine: Any = None
        self.build_cpu_s = 0.0
        self.rss0: float | None = None
        self.load0: list[float] | None = None
        self.phases: dict[str, float] = {}
        self.best_probe_cpq: float | None = None  # cheapest probe so far, CPU-s per query
        self.n_probe = 0
        from wattlens.optimize.models import scratch_dir

        self.workdir = scratch_dir()

    # -- set-up -----------------------------------------------------------------------------------
    def _open_store(self) -> None:
        if self.store is None:
            from wattlens.store import open_store

            self.store = open_store(self.req.store_url)
        if self.req.run_id:
            run = self.store.get_run(self.req.run_id)
            if run is None:
                raise ValueError(f"no run {self.req.run_id!r} to resume in this store")
            self.run_id = self.req.run_id
            for cell in self.store.cells(self.run_id):
                key, res = cell["cell_key"], cell.get("result")
                if key.startswith("trial:") and isinstance(res, dict):
                    t = S.Trial.from_dict(res)
                    t.extra = {**(t.extra or {}), "resumed": True}
                    self.done[key] = t
                elif key.startswith("variant:") and isinstance(res, dict):
                    self.variant_quality[key[len("variant:") :]] = res
            self.say(f"resuming {self.run_id}: {len(self.done)} trials already measured")
        else:
            self.run_id = self.store.create_run("optimize", self.req.config_dict())
        self.store.set_run_status(self.run_id, "running")

    def _texts(self, n: int, seed: int) -> tuple[list[str], list[Any] | None]:
        """``n`` task inputs; the measurement set (seed) and the quality set (seed + 1) never overlap in use."""
        from wattlens.workloads import data

        task = self.req.task
        if task == "text-classification":
            rows = data.sentiment(n, seed=seed)
            return [r["text"] for r in rows], [r["label"] for r in rows]
        if task == "text-generation":
            return [r["text"] for r in data.prompts(n, seed=seed)], None
        return [r["text"] for r in data.paraphrase_groups(n, seed=seed)], None

    def base(self, name: str) -> Any:
        if name not in self.bases:
            from wattlens.optimize.models import load_base

            t0 = time.process_time()
            self.bases[name] = load_base(name, self.req.task, device=self.req.device, gen_tokens=self.req.gen_tokens)
            self.build_cpu_s += time.process_time() - t0
        return self.bases[name]

    # -- variants and quality ---------------------------------------------------------------------
    def variant(self, spec: dict[str, Any]) -> Any:
        """Build (once) the variant for ``spec``; raises TransformError (cached) when it cannot be built."""
        from wattlens.optimize.models import build_variant
        from wattlens.optimize.transforms import TransformError

        key = S.config_key(spec)
        if key in self.variant_errors:
            raise TransformError(self.variant_errors[key])
        if key not in self.variants:
            try:
                v = build_variant(
                    self.base(spec["model"]),
                    spec,
                    self.workdir,
                    onnx_cache=self.onnx_cache,
                    compile_backend=self.req.compile_backend,
                )
            except Exception as exc:  # any failure of a transform: record and skip, never end the search
                self.variant_errors[key] = f"{type(exc).__name__}: {exc}"
                raise TransformError(self.variant_errors[key]) from exc
            self.build_cpu_s += v.build_s
            self.variants[key] = v
        return self.variants[key]

    def reference(self, batch: int, sort: bool) -> Any:
        """The unmodified primary model's outputs on the held-aside quality inputs."""
        key = f"__ref__|{batch}|{sort}"
        if key not in self.variant_quality:
            self.variant_quality[key] = {"outputs": self._outputs(self.base_spec(), batch, sort)}
        return self.variant_quality[key]["outputs"]

    def _outputs(self, spec: dict[str, Any], batch: int, sort: bool) -> Any:
        from wattlens.optimize.models import make_fn, ordered_call

        if spec.get("path") == ST_PATH:  # the library's own call path (baseline): its outputs, as served
            fn = self._st_fn(self.quality_threads())
        else:
            fn = make_fn(self.variant(spec), self.quality_threads())
        out = ordered_call(fn, self.q_texts, batch, sort)
        if self.req.task == "text-generation":
            return out
        import numpy as np

        return np.stack([np.asarray(o) for o in out])

    def _st_fn(self, threads: int) -> Callable[[list[str]], Any]:
        from wattlens.optimize.models import load_st, st_fn

        if getattr(self, "_st", None) is None:
            t0 = time.process_time()
            self._st = load_st(self.base(self.req.model).path)
            self.build_cpu_s += time.process_time() - t0
        return st_fn(self._st, threads)

    def baseline_path(self) -> str:
        """``sentence-transformers`` when the model is one and the library is importable (what its users call),
        else ``transformers`` (AutoModel + the same pooling by hand)."""
        from wattlens.optimize.models import st_available

        return ST_PATH if st_available(self.base(self.req.model)) else TF_PATH

    def quality_threads(self) -> int:
        return 1  # outputs do not depend on threads; one thread costs the fewest CPU-seconds

    def quality_of(self, spec: dict[str, Any], batch: int, sort: bool) -> dict[str, Any]:
        """Quality metrics of a variant at a batching policy (cached; stored as a ``variant:`` cell)."""
        key = S.config_key({**spec, "_b": batch, "_s": sort})
        if key not in self.variant_quality:
            out = self._outputs(spec, batch, sort)
            ref = self.reference(batch, sort)
            if spec["model"] != self.req.model and self.req.task in ("sentence-similarity", "feature-extraction"):
                # different embedding spaces: compare the *similarity structure* (rank agreement of pairwise
                # similarities), not vectors
                from wattlens.workloads.metrics import similarity_spearman

                rho = similarity_spearman(ref, out, pairs=5000, seed=0)
                res = {"similarity_spearman": rho, "quality": rho, "metric": "similarity_spearman"}
            else:
                res = compare(self.req.task, ref, out, self.q_labels)
            res["batch"], res["sort"] = batch, sort
            self.variant_quality[key] = res
            if self.store is not None and self.run_id:
                self.store.save_cell(self.run_id, f"variant:{key}", "ok", res)
        return self.variant_quality[key]

    def base_spec(self, model: str | None = None) -> dict[str, Any]:
        return {
            "model": model or self.req.model,
            "engine": "torch",
            "precision": "fp32",
            "quant": "none",
            "prune": "none",
            "compile": False,
        }

    def quality_batch(self) -> tuple[int, bool]:
        return (1, False) if self.req.mode == "online" else (32, True)

    def screen_variants(self, variants: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Quality-gate every variant (fewest lossy transforms first); compositions whose parts failed alone
        are skipped with that reason. Returns the variants that passed."""
        b, s = self.quality_batch()
        passed: list[dict[str, Any]] = []
        failed_parts: dict[tuple[str, str, str], str] = {}
        for spec in sorted(variants, key=lambda v: len(SP.lossy_knobs(v))):
            lossy = SP.lossy_knobs(spec)
            if len(lossy) > 1:
                why = "; ".join(failed_parts[p] for p in (_part(spec, k) for k in lossy) if p in failed_parts)
                if why:
                    self._reject(spec, None, f"not built: a lossy part fails the gate alone ({why})")
                    continue
            try:
                q = self.quality_of(spec, b, s)
            except Exception as exc:  # transform error: record, skip
                self._reject(spec, None, f"transform failed: {exc}")
                continue
            why = gate(q["quality"], self.req.min_quality)
            if why:
                self._reject(spec, q, why)
                if len(lossy) == 1:
                    failed_parts[_part(spec, lossy[0])] = f"{_part(spec, lossy[0])[2]}: {why}"
                continue
            passed.append(spec)
            self.say(f"  variant {SP.describe({**spec, 'threads': '-', 'batch': '-'})}: quality {q['quality']:.4f} ok")
        return passed

    def _reject(self, config: dict[str, Any], q: dict[str, Any] | None, why: str, trial: S.Trial | None = None) -> None:
        entry = {
            "config": public_config(config),
            "label": SP.describe(config),
            "why": why,
            "quality": None if q is None else q.get("quality"),
            "quality_detail": None if q is None else {k: v for k, v in q.items() if k != "outputs"},
        }
        if trial is not None:
            entry.update({k: getattr(trial, k) for k in ("j_per_query", "p50_ms", "p95_ms", "peak_rss_mb")})
        if not any(r["label"] == entry["label"] and r["why"] == why for r in self.rejected):
            self.rejected.append(entry)
        self.say(f"  rejected {entry['label']}: {why}")

    # -- measuring one trial ----------------------------------------------------------------------
    def _rss_estimate(self, model_mb: float | None, rss_before: float | None) -> float | None:
        """Peak RSS one process serving only this configuration would need: runtime libraries (RSS of this
        process before any model was loaded) + the model's bytes + the trial's own working set (high-water
        mark during the trial minus RSS before it). The search process itself holds every variant at once, so
        its raw high-water mark would say nothing per configuration; baseline and recommendation are also
        measured for real in a fresh process (``deploy_rss_mb``)."""
        peak = _rss_peak_mb()
        if self.rss0 is None or peak is None or rss_before is None:
            return None
        return self.rss0 + (model_mb or 0.0) + max(0.0, peak - rss_before)

    def evaluate(self, config: dict[str, Any], fid: S.Fidelity) -> S.Trial:
        cell = f"trial:{fid.name}:{S.config_key(config)}"
        if cell in self.done:
            return self.done[cell]
        t = self._measure(config, fid)
        if self.store is not None and self.run_id:
            self.store.save_cell(self.run_id, cell, "ok" if t.ok else "failed", t.to_dict(), None if t.ok else t.why)
        return t

    def _inputs(self, config: dict[str, Any], n: int) -> list[str]:
        texts = self.m_texts[:n]
        if config.get("sort"):
            # offline: the corpus is known, so it is served longest-first (outputs are re-ordered by the caller)
            texts = sorted(texts, key=len, reverse=True)
        return texts

    def _measure(self, config: dict[str, Any], fid: S.Fidelity, monitor: Any = None) -> S.Trial:
        from wattlens.bench.runner import measure_queries
        from wattlens.optimize.hardware import knobs_for
        from wattlens.optimize.models import make_fn

        spec = SP.variant_of(config)
        b, s = self.quality_batch()
        q = self.quality_of(spec, b, s)
        why = gate(q["quality"], self.req.min_quality)
        if why:
            return S.Trial(dict(config), fid.name, quality=q["quality"], ok=False, why=why)
        if config.get("wait") == "passive" and config.get("engine") == "torch":
            return self._measure_in_worker(config, fid, q["quality"])
        v = self.variant(spec)
        inputs = self._inputs(config, max(fid.queries, int(config["batch"])))  # at least one real batch
        t0, c0, b0 = time.perf_counter(), time.process_time(), _busy_cpu_s()
        with knobs_for(config) as knobs:
            if config.get("path") == ST_PATH:
                fn = self._st_fn(int(config["threads"]))
            else:
                fn = make_fn(v, int(config["threads"]), config.get("wait", "default"))
            _rss_reset()
            rss_before = _rss_now_mb()
            # one warm-up call suffices for big batches (it already touches every shape/arena)
            warm = fid.warmup if int(config["batch"]) <= 16 else 1
            pruned = self._probe_prune(fn, inputs, int(config["batch"]), fid)
            if pruned:
                return S.Trial(
                    dict(config),
                    fid.name,
                    quality=q["quality"],
                    ok=False,
                    why=pruned,
                    cost_s=time.perf_counter() - t0,
                    extra={"pruned_early": True},
                )
            c_meas = time.process_time()
            stats = measure_queries(
                fn,
                inputs,
                batch=int(config["batch"]),
                monitor=monitor or self.mon,
                repeats=fid.repeats,
                warmup=warm,
                min_window_s=fid.min_window_s,
                phase=fid.name,
            )
            thermal = knobs.thermal()
            if fid.name == "probe" and stats.queries:
                cpq = (time.process_time() - c_meas) / (stats.queries + warm * int(config["batch"]))
                self.best_probe_cpq = min(self.best_probe_cpq or cpq, cpq)
                self.n_probe += 1
        cost = time.perf_counter() - t0
        b1 = _busy_cpu_s()
        # CPU the *other* processes used meanwhile, as a share of the machine: the contamination flag of the
        # anchors' method (co-tenants inflate multi-thread CPU time through spin-waiting and cache sharing)
        foreign = (
            None
            if b0 is None or b1 is None
            else max(0.0, ((b1 - b0) - (time.process_time() - c0)) / max(1e-9, cost * self.ctx.n_cpus))
        )
        split = _split_components(stats)
        footprint = self._rss_estimate(v.size_mb, rss_before)
        # the energy of THIS configuration: its memory term is charged for its own deployment footprint, not for
        # the search process that holds every variant at once (an artefact of the search, GBs)
        j, delta = _charge_footprint(stats.j_per_query, split, footprint)
        shift = lambda x: None if x is None else x + delta
        return S.Trial(
            dict(config),
            fid.name,
            j_per_query=j,
            quality=q["quality"],
            p50_ms=stats.p50_ms,
            p95_ms=stats.p95_ms,
            peak_rss_mb=footprint,
            cost_s=cost,
            extra={
                "throughput_qps": stats.throughput_qps,
                "j_low": shift(stats.j_per_query_low),
                "j_high": shift(stats.j_per_query_high),
                "cv": stats.cv,
                "source": stats.source,
                "basis": stats.basis,
                "queries": stats.queries,
                "duration_s": stats.duration_s,
                "per_repeat": [x + delta for x in stats.per_repeat_j_per_query],
                "model_size_mb": v.size_mb,
                "thermal": thermal,
                "applied_knobs": dict(getattr(knobs, "applied", {})),
                "co_tenant_cpu_share": foreign,
                **split,
                "j_per_query_search_process": stats.j_per_query,
                "footprint_mb": footprint if delta else None,
                "footprint_basis": "per-trial estimate" if delta else "meter as measured",
            },
        )

    PRUNE_FACTOR = 10.0

    def _probe_prune(self, fn: Callable[[list[str]], Any], inputs: list[str], batch: int, fid: S.Fidelity) -> str:
        """At the probe rung, time one call first (it doubles as a warm-up): a configuration costing more than
        ``PRUNE_FACTOR`` x the cheapest probe so far in CPU-seconds per query cannot survive the halving, so
        its probe is skipped (what a multi-thread config costs on a busy machine made this worth it). Returns
        the reason, or "" to measure normally."""
        if fid.name != "probe" or self.n_probe < 3 or not self.best_probe_cpq:
            return ""
        c0 = time.process_time()
        fn((inputs * (batch // max(1, len(inputs)) + 1))[:batch])
        cpq = (time.process_time() - c0) / batch
        if cpq > self.PRUNE_FACTOR * self.best_probe_cpq:
            return (
                f"pruned early: one call cost {cpq * 1e3:.1f} CPU-ms/query, > {self.PRUNE_FACTOR:.0f}x the "
                f"cheapest probe so far ({self.best_probe_cpq * 1e3:.2f})"
            )
        return ""

    def _measure_in_worker(self, config: dict[str, Any], fid: S.Fidelity, quality: float) -> S.Trial:
        from wattlens.optimize.worker import WorkerClient

        env = {"OMP_WAIT_POLICY": "PASSIVE"}
        key = json.dumps(env, sort_keys=True)
        if key not in self.workers:
            self.workers[key] = WorkerClient(env, self.req)
        t0 = time.perf_counter()
        res = self.workers[key].measure(config, fid, self._inputs(config, fid.queries))
        cost = time.perf_counter() - t0
        if "error" in res:
            return S.Trial(dict(config), fid.name, ok=False, why=f"worker: {res['error']}", cost_s=cost)
        return S.Trial(
            dict(config),
            fid.name,
            j_per_query=res["j_per_query"],
            quality=quality,
            p50_ms=res["p50_ms"],
            p95_ms=res["p95_ms"],
            peak_rss_mb=res.get("peak_rss_mb"),
            cost_s=cost,
            extra={**res.get("extra", {}), "process": "worker (OMP_WAIT_POLICY=PASSIVE)"},
        )

    # -- the whole run ----------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        """The whole optimisation; the scratch directory (exported/quantised models) and the monitors this
        run opened are cleaned up whatever happens (the artefact is copied out before)."""
        own_mon = self.mon is None
        import torch

        threads0 = torch.get_num_threads()  # trials change the global pool size: give the caller theirs back
        # the tokenizer's own threads would skew the CPU-time meter: off for this run (workers inherit it),
        # unless the caller chose; the caller's environment is given back as it was
        own_parallelism = _TOKENIZERS_PARALLELISM not in os.environ
        os.environ.setdefault(_TOKENIZERS_PARALLELISM, "false")
        try:
            return self._run_measured(own_mon)
        finally:
            import shutil

            torch.set_num_threads(threads0)
            if own_parallelism:
                os.environ.pop(_TOKENIZERS_PARALLELISM, None)
            shutil.rmtree(self.workdir, ignore_errors=True)
            for mon in ((self.mon if own_mon else None), self.mon_machine):
                try:
                    if mon is not None:
                        mon.close()
                except Exception:  # closing is best-effort
                    pass

    def _run_measured(self, own_mon: bool) -> dict[str, Any]:
        req = self.req
        self._open_store()
        if own_mon:
            self.mon = make_monitor(req.attribution)
        try:
            self.mon_machine = make_monitor("machine") if req.attribution != "machine" else None
        except Exception:  # the second boundary is a bonus
            self.mon_machine = None
        self.mon.begin("optimize-search")
        t_start, cpu_start = time.perf_counter(), time.process_time()
        self.cpu0 = cpu_start
        try:
            result = self._run_inner()
        except BaseException:
            try:
                self.mon.end("optimize-search")
            except Exception:
                pass
            if self.store is not None and self.run_id:
                self.store.set_run_status(self.run_id, "interrupted")
            raise
        finally:
            for w in self.workers.values():
                w.close()
        m = self.mon.end("optimize-search")
        # search energy: everything up to the recommendation (the artefact's deploy check after it is not in it)
        result["search"].update(
            {
                "duration_s": time.perf_counter() - t_start,
                "energy_j": m.energy_j,
                "energy_low_j": m.low_j,
                "energy_high_j": m.high_j,
                "energy_source": m.source,
                "cpu_s": time.process_time() - cpu_start,
            }
        )
        t_fin = time.process_time()
        self._finish(result)
        self.phases["finish_cpu_s"] = time.process_time() - t_fin
        self.store.save_cell(self.run_id, RESULT_CELL, "ok", result)
        self.store.set_run_status(self.run_id, "done")
        return result

    def _run_inner(self) -> dict[str, Any]:
        req = self.req
        self.say(f"wattlens optimize {req.model} ({req.task}, {req.mode}); run {self.run_id}")
        import onnxruntime  # noqa: F401 - loaded before any model so rss0 = runtime libraries only
        import torch  # noqa: F401
        import transformers  # noqa: F401

        self.rss0 = _rss_now_mb()
        self.load0 = _loadavg()
        self.base(req.model)
        prunable = _prunable(self.bases[req.model].module)
        self.ctx = SP.probe_context(
            req.task, req.mode, device=req.device, hardware_knobs=req.hardware_knobs, prunable=prunable
        )
        n_full = req.queries
        self.m_texts, _ = self._texts(max(n_full, 128), seed=req.seed)
        self.q_texts, self.q_labels = self._texts(req.quality_inputs, seed=req.seed + 1)  # held aside
        space = SP.build_space(
            self.ctx,
            self.models,
            transforms=tuple(req.transforms) if req.transforms else None,
            batches=req.batches,
            threads=req.threads,
        )
        for sk in space.skipped:
            self.say(f"  transform {sk['transform']} skipped: {sk['why']}")
        self.say(f"screening {len(space.variants)} model variants on {len(self.q_texts)} held-aside inputs")
        t_phase = time.process_time()
        self.phases["load_cpu_s"] = t_phase - self.cpu0
        passing = self.screen_variants(space.variants)
        self.phases["screen_cpu_s"] = time.process_time() - t_phase
        t_phase = time.process_time()
        space.variants = passing
        configs = space.configs()
        exhaustive_n = len(configs)
        constraints = S.Constraints(req.min_quality, req.max_p95_ms, req.max_rss_mb)
        rungs = S.default_rungs(n_full, req.repeats)
        strategy = req.strategy
        if strategy == "auto":
            strategy = "halving" if exhaustive_n <= 400 else "optuna"
        self.say(f"searching {exhaustive_n} configurations ({strategy})")
        budget = None if req.budget_s is None else max(10.0, req.budget_s * 0.6)
        if strategy == "exhaustive":
            out = S.exhaustive(configs, self.evaluate, rungs[-1], constraints, on_trial=self._on_trial)
        elif strategy == "optuna":
            n_trials = max(20, min(200, exhaustive_n // 3))
            keys = {S.config_key(c) for c in configs}
            out = S.optuna_search(
                space.knobs(),
                self.evaluate,
                rungs,
                n_trials,
                constraints,
                valid=lambda c: S.config_key(c) in keys,
                on_trial=self._on_trial,
            )
        else:
            out = S.successive_halving(
                configs, self.evaluate, rungs, constraints, on_trial=self._on_trial, budget_s=budget
            )
        self.phases["search_cpu_s"] = time.process_time() - t_phase
        t_phase = time.process_time()
        res = self._assemble(out, space, constraints, exhaustive_n, rungs)
        self.phases["confirm_cpu_s"] = time.process_time() - t_phase
        res["search"]["phases"] = self.phases
        return res

    def _on_trial(self, t: S.Trial) -> None:
        if t.ok and t.j_per_query is not None:
            self.say(
                f"  [{t.fidelity:5}] {SP.describe(t.config):55} {t.j_per_query * 1e3:8.2f} mJ/q  "
                f"p95 {t.p95_ms:7.1f} ms  q {t.quality:.4f}"
            )
        elif not t.ok:
            self.say(f"  [{t.fidelity:5}] {SP.describe(t.config):55} failed: {t.why}")

    def baseline_config(self) -> dict[str, Any]:
        """The library default: PyTorch fp32, default threads; batch 1 online, ``encode(batch_size=32)`` offline
        (which length-sorts internally, as sentence-transformers does). ``path`` says which call path:
        ``SentenceTransformer(path).encode`` for a sentence-transformers model when the library is installed
        (what its users run), else the transformers AutoModel with the same pooling."""
        online = self.req.mode == "online"
        return {
            **self.base_spec(),
            "threads": self.ctx.default_threads,
            "wait": "default",
            "batch": 1 if online else 32,
            "sort": not online,
            "power_limit": None,
            "gpu_clock": None,
            "path": self.baseline_path(),
        }

    def _confirm(
        self, finalists: list[dict[str, Any]], rungs: list[S.Fidelity], seen: list[S.Trial] | None = None
    ) -> dict[str, list[S.Trial]]:
        """Interleaved rounds (baseline, finalist 1, 2, ...) x ``confirm_rounds``: drift and co-tenant noise hit
        all alike, so the ratios come from one run; medians per configuration.

        Windows are time-bounded: >= 1 s, and 16-64 queries chosen from the configuration's latency seen in the
        search (so a slow baseline costs about 1 s per round, not a minute)."""
        full = rungs[-1]
        lat: dict[str, float] = {}
        for t in seen or []:
            if t.ok and t.p50_ms:
                lat[S.config_key(t.config)] = t.p50_ms / 1000.0 / max(1, int(t.config.get("batch", 1)))
        out: dict[str, list[S.Trial]] = {}
        dual = _DualMonitor(self.mon, self.mon_machine)
        for r in range(self.req.confirm_rounds):
            for c in finalists:
                key = S.config_key(c)
                cell = f"trial:confirm{r}:{key}"
                if cell in self.done:
                    t = self.done[cell]
                else:
                    n0 = len(dual.secondary_j)
                    per_q = lat.get(key)
                    n = 64 if per_q is None else int(min(64, max(16, 1.0 / max(per_q, 1e-6))))
                    one = S.Fidelity("confirm", min(full.queries, n), 1, 1, 1.0)
                    try:
                        t = self._measure(c, one, monitor=dual)
                    except Exception as exc:
                        t = S.Trial(dict(c), "confirm", ok=False, why=f"{type(exc).__name__}: {exc}")
                    sec = [x for x in dual.secondary_j[n0:] if x is not None]
                    if sec and t.ok and t.extra.get("queries"):
                        t.extra["j_per_query_machine"] = sum(sec) / t.extra["queries"]
                    if self.store is not None:
                        self.store.save_cell(self.run_id, cell, "ok" if t.ok else "failed", t.to_dict())
                out.setdefault(key, []).append(t)
        return out

    def _assemble(
        self,
        out: S.SearchOutcome,
        space: SP.Space,
        constraints: S.Constraints,
        exhaustive_n: int,
        rungs: list[S.Fidelity],
    ) -> dict[str, Any]:
        req = self.req
        base_cfg = self.baseline_config()
        pruned_early = [t for t in out.trials if (t.extra or {}).get("pruned_early")]
        for t in out.trials:
            if (t.extra or {}).get("pruned_early"):
                continue
            if not t.ok and not any(r["label"] == SP.describe(t.config) for r in self.rejected):
                self._reject(t.config, {"quality": t.quality} if t.quality is not None else None, t.why, t)
        final = [t for t in out.final if t.ok]
        feasible = sorted((t for t in final if not constraints.violation(t)), key=lambda t: t.j_per_query)
        for t in final:
            v = constraints.violation(t)
            if v:
                self._reject(t.config, {"quality": t.quality}, v, t)
        front = S.pareto(feasible)
        # reference: the default at ONE thread. On a shared machine the multi-thread default is inflated by
        # co-tenants (OpenMP spin-waits for descheduled partners); a ratio against this point is robust to that.
        ref1 = {**base_cfg, "threads": 1}
        picked = [base_cfg, ref1] + ([feasible[0].config] if feasible else []) + [t.config for t in front[:5]]
        finalists = list({S.config_key(c): c for c in picked}.values())  # unique, order kept
        self.say(f"confirming baseline + {len(finalists) - 1} finalists ({req.confirm_rounds} interleaved rounds)")
        conf = self._confirm(finalists, rungs, out.trials)
        points = {}
        for c in finalists:
            key = S.config_key(c)
            point = self._point(c, conf.get(key, []))
            if point is not None:
                points[key] = point
        base_key = S.config_key(base_cfg)
        baseline = points.get(base_key)
        ref1_point = points.get(S.config_key(ref1)) if ref1 != base_cfg else None
        # the baseline competes too: if nothing beats it within the limits, the honest advice is "keep it"
        cands = [p for p in points.values() if not p.get("violation")]
        recommended = min(cands, key=lambda p: p["j_per_query"]) if cands else None
        if baseline is not None and baseline.get("violation"):
            self.say(f"note: the baseline itself violates the limits ({baseline['violation']})")
        pareto_pts = [p for p in _pareto_points(list(points.values())) if not p.get("violation")]
        saving = (
            baseline["j_per_query"] / recommended["j_per_query"]
            if baseline and recommended and recommended["j_per_query"]
            else None
        )
        saving_best = min(baseline["j_per_query_runs"]) / min(recommended["j_per_query_runs"]) if saving else None
        if recommended is None:
            self.say("no configuration met the limits; see 'rejected' for why")
        exh_cost = _exhaustive_cost_estimate(out, rungs[-1], exhaustive_n)
        result: dict[str, Any] = {
            "wattlens": "optimize",
            "schema": 1,
            "run_id": self.run_id,
            "model": req.model,
            "task": req.task,
            "mode": req.mode,
            "candidates": self.models,
            "constraints": {"min_quality": req.min_quality, "max_p95_ms": req.max_p95_ms, "max_rss_mb": req.max_rss_mb},
            "quality_metric": _metric_name(req.task),
            "baseline": baseline,
            "recommended": recommended,
            "saving_factor": saving,
            # least-contended round of each (noise on a shared machine only adds CPU time): an upper view
            "saving_factor_best_round": saving_best,
            # vs the default at one thread: robust to co-tenants inflating the multi-thread default (a lower view)
            "saving_factor_vs_single_thread_default": (
                ref1_point["j_per_query"] / recommended["j_per_query"] if ref1_point and recommended else None
            ),
            "single_thread_default": ref1_point,
            "pareto": pareto_pts,
            "rejected": self.rejected,
            "search": {
                "strategy": out.strategy,
                "trials": len(out.trials),
                "resumed_trials": sum(1 for t in out.trials if (t.extra or {}).get("resumed")),
                "exhaustive_trials": exhaustive_n,
                "measure_s": out.cost_s,
                "exhaustive_measure_s_est": exh_cost,
                "measure_share_of_exhaustive": (out.cost_s / exh_cost) if exh_cost else None,
                "build_cpu_s": self.build_cpu_s,
                "variants_screened": len(self.variant_quality),
                "pruned_early": [{"label": SP.describe(t.config), "why": t.why} for t in pruned_early],
                "notes": out.notes,
                "rungs": [asdict(r) for r in rungs],
            },
            "trials": [
                _trial_point(t)
                for t in out.trials
                if t.ok and t.j_per_query is not None and t.fidelity == rungs[-1].name
            ],
            "transforms": space.transforms,
            "skipped_transforms": space.skipped,
            "energy_boundary": _boundary_note(req.attribution, baseline, recommended),
            "context": {
                "n_cpus": self.ctx.n_cpus,
                "default_threads": self.ctx.default_threads,
                "loadavg_start": self.load0,
                "loadavg_end": _loadavg(),
                "device": self.ctx.device,
                "gpu_count": self.ctx.gpu_count,
                "weights": self.bases[req.model].weights,
                "notes": self.bases[req.model].notes,
            },
        }
        return result

    def _point(self, config: dict[str, Any], trials: list[S.Trial]) -> dict[str, Any] | None:
        ok = [t for t in trials if t.ok and t.j_per_query is not None]
        if not ok:
            if trials:
                self._reject(config, None, trials[0].why or "failed at confirmation")
            return None
        med = lambda xs: statistics.median(xs) if xs else None
        spec = SP.variant_of(config)
        if config.get("path") == ST_PATH:
            spec = {**spec, "path": ST_PATH}  # the library call path's own outputs against the reference
        qd = self.quality_of(spec, int(config["batch"]), bool(config.get("sort")))  # exact batching re-check
        spec = SP.variant_of(config)
        v = self.variants.get(S.config_key(spec))
        p = {
            "config": public_config(config),
            "label": SP.describe(config),
            "j_per_query": med([t.j_per_query for t in ok]),
            "j_per_query_runs": [t.j_per_query for t in ok],
            "j_per_query_low": med([t.extra.get("j_low") for t in ok if t.extra.get("j_low") is not None]),
            "j_per_query_high": med([t.extra.get("j_high") for t in ok if t.extra.get("j_high") is not None]),
            "j_per_query_machine": med(
                [t.extra["j_per_query_machine"] for t in ok if t.extra.get("j_per_query_machine") is not None]
            ),
            "quality": qd["quality"],
            "quality_detail": {k: v for k, v in qd.items() if k not in ("outputs",)},
            "p50_ms": med([t.p50_ms for t in ok]),
            "p95_ms": med([t.p95_ms for t in ok]),
            "throughput_qps": med([t.extra.get("throughput_qps") for t in ok if t.extra.get("throughput_qps")]),
            "peak_rss_mb": max(t.peak_rss_mb for t in ok if t.peak_rss_mb is not None)
            if any(t.peak_rss_mb is not None for t in ok)
            else None,
            "model_size_mb": None if v is None else v.size_mb,
            "thermal": ok[-1].extra.get("thermal") or None,
            "source": ok[0].extra.get("source"),
            "rounds": len(ok),
            "co_tenant_cpu_share": med(
                [t.extra["co_tenant_cpu_share"] for t in ok if t.extra.get("co_tenant_cpu_share") is not None]
            ),
            "j_per_query_cpu": med([t.extra["cpu_j_per_query"] for t in ok if t.extra.get("cpu_j_per_query")]),
            "j_per_query_memory": med(
                [t.extra["memory_j_per_query"] for t in ok if t.extra.get("memory_j_per_query") is not None]
            ),
            "meter_rss_mb": med([t.extra["meter_rss_mb"] for t in ok if t.extra.get("meter_rss_mb")]),
            # the same windows with the memory term charged for the search process's RSS (the old figure)
            "j_per_query_search_process": med([t.extra.get("j_per_query_search_process", t.j_per_query) for t in ok]),
            "memory_footprint_mb": med([t.extra["footprint_mb"] for t in ok if t.extra.get("footprint_mb")]),
            "memory_footprint_basis": ok[0].extra.get("footprint_basis") or "meter as measured (own process)",
            "_acct": [
                {
                    "j": t.extra.get("j_per_query_search_process", t.j_per_query),
                    "mem": t.extra.get("memory_j_per_query"),
                    "rss": t.extra.get("meter_rss_mb"),
                    "rescalable": t.extra.get("memory_rescalable", False),
                }
                for t in ok
            ],
        }
        p["wh_per_1000"] = p["j_per_query"] * 1000 / 3600.0
        why = S.Constraints(self.req.min_quality, self.req.max_p95_ms, self.req.max_rss_mb).violation(
            S.Trial(config, "confirm", p["j_per_query"], p["quality"], p["p50_ms"], p["p95_ms"], p["peak_rss_mb"])
        )
        if why:
            p["violation"] = why
        return p

    # -- after the search -------------------------------------------------------------------------
    def _finish(self, result: dict[str, Any]) -> None:
        base, rec = result.get("baseline"), result.get("recommended")
        if rec:
            self._artefact_and_deploy(result, base, rec)  # fresh-process footprints first: they set the J below
        _recharge_deployed(result, base, rec)
        art = result.get("artefact") or {}
        if rec and art.get("path"):
            _update_artefact_measured(art["path"], result)
        if base and rec:
            saved = base["j_per_query"] - rec["j_per_query"]
            e = result["search"].get("energy_j")
            result["payback_queries"] = math.ceil(e / saved) if (e and saved > 0) else None
            result["savings"] = self._savings(base, rec, saved)
            if "per_year" in result["savings"]:  # flat, so tables show one row per figure
                result["savings_per_year"] = result["savings"].pop("per_year")
            for p in [rec, *result["pareto"]]:
                p["hidden_costs"] = _hidden_costs(base, p)
        else:
            result["payback_queries"] = None
        for p in [base, rec, result.get("single_thread_default"), *result.get("pareto", [])]:
            if isinstance(p, dict):
                p.pop("_acct", None)

    def _artefact_and_deploy(self, result: dict[str, Any], base: dict[str, Any] | None, rec: dict[str, Any]) -> None:
        """Write the recommendation's artefact; load it (and the baseline's) in a fresh process to measure the
        real deployment footprint (``deploy_rss_mb``) and prove the artefact is self-contained."""
        import tempfile

        from wattlens.optimize.artefact import deploy_check, save_artefact

        texts = self.q_texts[:32]
        try:
            out_dir = self.req.artefact_dir or tempfile.mkdtemp(prefix="wattlens-artefact-")
            path = save_artefact(self, _full(rec["config"]), out_dir, result)
            result["artefact"] = {"path": path if self.req.artefact_dir else None, "files": sorted(os.listdir(path))}
        except Exception as exc:  # the search result stands without the artefact
            result["artefact"] = {"error": f"{type(exc).__name__}: {exc}"}
            return
        if not self.req.deploy_check:
            return
        t0 = time.perf_counter()
        chk = deploy_check(path, texts)
        result["artefact"]["deploy_check"] = chk
        rec["deploy_rss_mb"] = chk.get("peak_rss_mb")
        import shutil

        if base is not None:
            bdir = tempfile.mkdtemp(prefix="wattlens-base-")
            try:
                bpath = save_artefact(self, _full(base["config"]), bdir)
                base["deploy_rss_mb"] = deploy_check(bpath, texts).get("peak_rss_mb")
            except Exception:  # informative only
                base["deploy_rss_mb"] = None
            finally:
                shutil.rmtree(bdir, ignore_errors=True)
        if not self.req.artefact_dir:  # only written for the deploy check
            shutil.rmtree(path, ignore_errors=True)
        result["search"]["deploy_check_s"] = time.perf_counter() - t0

    def _savings(self, base: dict[str, Any], rec: dict[str, Any], saved: float) -> dict[str, Any]:
        req = self.req
        out: dict[str, Any] = {
            "j_per_query_saved": saved,
            "wh_per_1000_baseline": base["wh_per_1000"],
            "wh_per_1000_recommended": rec["wh_per_1000"],
            "wh_per_1000_saved": saved * 1000 / 3600.0,
            "queries_per_day": req.queries_per_day,
        }
        try:
            from wattlens.carbon import project_yearly, resolve_location

            loc = resolve_location(country=req.country, region=req.region)
            yb = project_yearly(
                base["j_per_query"], req.queries_per_day, loc, price_per_kwh=req.price_per_kwh, currency=req.currency
            )
            yr = project_yearly(
                rec["j_per_query"], req.queries_per_day, loc, price_per_kwh=req.price_per_kwh, currency=req.currency
            )
            loc_d = (yr.get("footprint") or {}).get("location") or {}
            cost = _cost_diff(yb.get("cost_per_year"), yr.get("cost_per_year"))
            out["per_year"] = {
                "kwh_baseline": yb["kwh_per_year"],
                "kwh_recommended": yr["kwh_per_year"],
                "kwh_saved": yb["kwh_per_year"] - yr["kwh_per_year"],
                "tco2e_saved": yb["tco2e_per_year"] - yr["tco2e_per_year"],
                "cost_saved": None if cost is None else cost["value"],
                "cost_currency": None if cost is None else cost["currency"],
                "cost_note": yr.get("cost_note"),
                "grid": f"{loc_d.get('name')} {loc_d.get('g_co2e_per_kwh')} gCO2e/kWh ({loc_d.get('year')}, "
                f"{loc_d.get('basis')}){' - stated default' if loc_d.get('stated_default') else ''}",
                "pue": (yr.get("footprint") or {}).get("pue"),
            }
        except Exception as exc:  # carbon data problems must not lose the search
            out["per_year_error"] = f"{type(exc).__name__}: {exc}"
        return out


# --------------------------------------------------------------------------------------------------
# small pure helpers


MEMORY_METHOD = "cpu-time-model"  # the estimator's memory term: W/GB x peak RSS x wall time (rescalable)


def _split_components(stats: Any) -> dict[str, Any]:
    """CPU and memory energy per query from the measured windows, and the RSS the meter's memory term charged.

    The RSS is read back from the term itself (energy / (W/GB x window seconds)), so it is exactly what the meter
    multiplied, not a later ``getrusage`` reading. ``memory_rescalable`` is False when the memory energy was not the
    estimator's RSS model (e.g. a measured DRAM counter): then it is not re-charged to a footprint."""
    from wattlens.meters.estimator import MEMORY_W_PER_GB

    cpu = mem = mem_model_j = mem_model_s = 0.0
    other_mem = False
    for w in getattr(stats, "windows", None) or []:
        for c in w.get("components") or []:
            e = c.get("energy_j")
            if e is None:
                continue
            if c.get("domain") == "memory":
                mem += e
                if str(c.get("method", "")).startswith(MEMORY_METHOD) and w.get("duration_s"):
                    mem_model_j += e
                    mem_model_s += w["duration_s"]
                else:
                    other_mem = True
            else:
                cpu += e
    q = max(1, getattr(stats, "queries", 0) or 0)
    rss = None
    if mem_model_s > 0 and mem_model_j > 0:
        rss = mem_model_j / (MEMORY_W_PER_GB[1] * mem_model_s) * 1024.0  # GB -> MB
    else:
        try:
            import resource

            rss = (
                resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            ) / 1024.0
        except Exception:
            rss = None
    return {
        "cpu_j_per_query": cpu / q,
        "memory_j_per_query": mem / q,
        "meter_rss_mb": rss,
        "memory_rescalable": bool(mem > 0 and not other_mem and rss),
    }


def _charge_footprint(
    j_search: float | None, split: dict[str, Any], footprint_mb: float | None
) -> tuple[float | None, float]:
    """(J per query with the memory term charged for ``footprint_mb`` instead of the search process's RSS, the
    delta added). The estimator's memory term is linear in RSS, so it is rescaled by footprint / meter RSS;
    the CPU term and any other component are kept as measured. Unchanged when nothing can be rescaled."""
    mem, rss = split.get("memory_j_per_query"), split.get("meter_rss_mb")
    if j_search is None or footprint_mb is None or not split.get("memory_rescalable") or not mem or not rss:
        return j_search, 0.0
    delta = mem * (footprint_mb / rss - 1.0)
    return j_search + delta, delta


def _recharge_point(p: dict[str, Any], footprint_mb: float, basis: str) -> None:
    """Re-charge a confirmed point's memory term for ``footprint_mb`` (every round, from the search-process
    figures kept in ``_acct``), so its J per query, rounds and bounds all rest on that footprint."""
    acct = p.get("_acct") or []
    if not acct or not all(a.get("rescalable") and a.get("mem") and a.get("rss") for a in acct):
        return
    runs = [a["j"] + a["mem"] * (footprint_mb / a["rss"] - 1.0) for a in acct]
    new = statistics.median(runs)
    shift = new - p["j_per_query"]
    p["j_per_query"], p["j_per_query_runs"] = new, runs
    for k in ("j_per_query_low", "j_per_query_high"):
        if p.get(k) is not None:
            p[k] += shift
    p["wh_per_1000"] = new * 1000 / 3600.0
    if p.get("memory_footprint_mb") and "memory_footprint_estimate_mb" not in p:
        p["memory_footprint_estimate_mb"] = p["memory_footprint_mb"]  # what the search charged it (per-trial)
    p["memory_footprint_mb"], p["memory_footprint_basis"] = footprint_mb, basis
    mems = [a["mem"] * footprint_mb / a["rss"] for a in acct]
    p["j_per_query_memory_deployed"] = statistics.median(mems)


def _recharge_deployed(result: dict[str, Any], base: dict[str, Any] | None, rec: dict[str, Any] | None) -> None:
    """Primary accounting: each configuration pays the memory term for ITS OWN deployment footprint. Baseline and
    recommendation use the fresh-process measurement (``deploy_rss_mb``) where the deploy check ran, every other
    point the per-trial estimate it was measured with. The saving factors are then recomputed on that one basis;
    the search-process figures stay as ``*_search_process``."""
    done: set[int] = set()
    for p in (base, rec):
        if p is None or id(p) in done:
            continue
        done.add(id(p))
        if p.get("deploy_rss_mb"):
            _recharge_point(p, float(p["deploy_rss_mb"]), "fresh-process measurement (deploy check)")
    ref1 = result.get("single_thread_default")
    if base and rec and rec.get("j_per_query"):
        result["saving_factor"] = base["j_per_query"] / rec["j_per_query"]
        result["saving_factor_best_round"] = min(base["j_per_query_runs"]) / min(rec["j_per_query_runs"])
        if ref1:
            result["saving_factor_vs_single_thread_default"] = ref1["j_per_query"] / rec["j_per_query"]
        if base.get("j_per_query_search_process") and rec.get("j_per_query_search_process"):
            result["saving_factor_search_process"] = (
                base["j_per_query_search_process"] / rec["j_per_query_search_process"]
            )
        if base.get("j_per_query_cpu") and rec.get("j_per_query_cpu"):
            result["saving_factor_cpu_only"] = base["j_per_query_cpu"] / rec["j_per_query_cpu"]
        # kept under its old name: the primary factor now is this figure
        result["saving_factor_deployed_memory"] = result["saving_factor"]
    notes = result.setdefault("assumptions", [])
    meter = (rec or base or {}).get("meter_rss_mb")
    notes.append(
        "J per query = the meter's CPU term as measured + its memory term (0.392 W/GB x RSS x wall time) "
        "charged for each configuration's OWN deployment footprint (model + runtime working set), not the "
        "search process's RSS"
        + (f" ({meter:.0f} MB, which holds every variant at once)" if meter else "")
        + "; the search-process figures are kept as j_per_query_search_process / "
        "saving_factor_search_process."
    )
    for role, p in (("baseline", base), ("recommended", rec)):
        if p:
            fp, est = p.get("memory_footprint_mb"), p.get("memory_footprint_estimate_mb")
            notes.append(
                f"{role} memory footprint: {p.get('memory_footprint_basis')}"
                + (f", {fp:.0f} MB" if fp else "")
                + (f" (the search's per-trial estimate was {est:.0f} MB)" if est and est != fp else "")
            )
    notes.append(
        "pareto, single_thread_default and trials: per-trial footprint estimate (RSS of the runtime "
        "libraries loaded before any model + the model's bytes + the trial's own working set; it misses "
        "libraries imported later, e.g. sentence-transformers); compare the estimates above with the "
        "fresh-process figures to see how far it is off."
    )
    if base and base.get("config", {}).get("path"):
        notes.append(
            f"baseline call path: {base['config']['path']}"
            + (
                " (SentenceTransformer(path).encode(texts), library defaults)"
                if base["config"]["path"] == ST_PATH
                else " (transformers AutoModel + mean pooling by hand; sentence-transformers not used)"
            )
        )


def _update_artefact_measured(path: str, result: dict[str, Any]) -> None:
    """The artefact JSON was written before the deployment re-charge: give it the final figures."""
    from wattlens.optimize.artefact import CONFIG_FILE

    f = os.path.join(path, CONFIG_FILE)
    try:
        with open(f) as fh:
            meta = json.load(fh)
        rec = result["recommended"]
        meta["measured"] = {
            k: rec.get(k)
            for k in (
                "j_per_query",
                "quality",
                "p50_ms",
                "p95_ms",
                "peak_rss_mb",
                "model_size_mb",
                "source",
                "deploy_rss_mb",
                "j_per_query_search_process",
            )
        }
        meta["saving_factor"] = result.get("saving_factor")
        with open(f, "w") as fh:
            json.dump(meta, fh, indent=1, default=str)
    except Exception:  # the artefact stays usable with the pre-recharge figures
        pass


def _full(cfg: dict[str, Any]) -> dict[str, Any]:
    base = {
        "engine": "torch",
        "precision": "fp32",
        "quant": "none",
        "prune": "none",
        "compile": False,
        "wait": "default",
        "sort": False,
        "power_limit": None,
        "gpu_clock": None,
    }
    return {**base, **cfg}


def _part(spec: dict[str, Any], knob: str) -> tuple[str, str, str]:
    """Identity of one lossy part of a variant (a composition is built only if each part passed alone)."""
    if knob == "precision":
        return (spec["model"], knob, f"{spec['engine']} {spec['precision']}/{spec.get('quant', 'none')}")
    return (spec["model"], knob, str(spec[knob]))


def _cost_diff(a: Any, b: Any) -> Any:
    if isinstance(a, dict) and isinstance(b, dict):
        va, vb = a.get("value") or a.get("amount"), b.get("value") or b.get("amount")
        if isinstance(va, (int, float)) and isinstance(vb, (int, float)):
            return {"value": va - vb, "currency": a.get("currency")}
    return None


def _prunable(module: Any) -> bool:
    return any(hasattr(m, "attention") and hasattr(m, "intermediate") for m in module.modules())


def _metric_name(task: str) -> str:
    from wattlens.optimize.quality import METRIC_BY_TASK

    return METRIC_BY_TASK.get(task, "cosine_mean")


def _trial_point(t: S.Trial) -> dict[str, Any]:
    return {
        "config": public_config(t.config),
        "label": SP.describe(t.config),
        "j_per_query": t.j_per_query,
        "quality": t.quality,
        "p50_ms": t.p50_ms,
        "p95_ms": t.p95_ms,
        "peak_rss_mb": t.peak_rss_mb,
    }


def _pareto_points(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    trials = [S.Trial(p["config"], "c", p["j_per_query"], p["quality"], p["p50_ms"], p["p95_ms"], None) for p in points]
    front = S.pareto(trials)
    keep = {id(t) for t in front}
    return sorted([p for p, t in zip(points, trials, strict=True) if id(t) in keep], key=lambda p: p["j_per_query"])


def _hidden_costs(base: dict[str, Any], p: dict[str, Any]) -> dict[str, Any]:
    def ratio(k: str) -> float | None:
        a, b = base.get(k), p.get(k)
        return None if not a or b is None else b / a

    return {
        "quality_delta": None
        if p.get("quality") is None or base.get("quality") is None
        else p["quality"] - base["quality"],
        "p50_ratio": ratio("p50_ms"),
        "p95_ratio": ratio("p95_ms"),
        "throughput_ratio": ratio("throughput_qps"),
        "peak_rss_ratio": ratio("peak_rss_mb"),
        "model_size_ratio": ratio("model_size_mb"),
        "thermal": p.get("thermal"),
    }


def _exhaustive_cost_estimate(out: S.SearchOutcome, full: S.Fidelity, n: int) -> float | None:
    """What measuring every configuration at full fidelity would have cost: per-query time of each
    configuration's cheapest-rung trial scaled to the full work (measured where the full rung ran)."""
    per_cfg: dict[str, float] = {}
    for t in out.trials:
        q = (t.extra or {}).get("queries")
        if not t.ok or not q or not t.cost_s:
            continue
        key = S.config_key(t.config)
        est = t.cost_s / q * full.queries * full.repeats if t.fidelity != full.name else t.cost_s
        per_cfg[key] = est if t.fidelity == full.name else per_cfg.get(key, est)
    if not per_cfg:
        return None
    mean = sum(per_cfg.values()) / len(per_cfg)
    return sum(per_cfg.values()) + mean * max(0, n - len(per_cfg))


def _boundary_note(attribution: str, base: dict[str, Any] | None, rec: dict[str, Any] | None) -> dict[str, Any]:
    note = {
        "attribution": attribution,
        "explanation": (
            "J per query from the meter's estimator in 'process' attribution: CPU time x per-thread "
            "max power + memory (W/GB x the configuration's own deployment RSS x time; see "
            "'assumptions'). The memory term scales with wall time and "
            "RSS, so savings that cut CPU-seconds more than wall time are diluted a little; in "
            "'machine' attribution the whole machine's idle draw x wall time is added, which dilutes "
            "ratios much more (idle power is paid whether or not the model runs)."
        ),
    }
    if base and rec and base.get("j_per_query_machine") and rec.get("j_per_query_machine"):
        note["saving_factor_machine_attribution"] = base["j_per_query_machine"] / rec["j_per_query_machine"]
    return note


def optimize(req: OptimizeRequest, *, progress: Callable[[str], None] | None = None, **kw: Any) -> dict[str, Any]:
    """Run one optimisation; returns the result dict (also stored as the run's ``result`` cell)."""
    return Optimizer(req, progress=progress, **kw).run()


def load_result(run_id: str, store_url: str | None = None, store: Any = None) -> dict[str, Any] | None:
    """The stored result of an optimize run (the ``result`` cell), or None while it is unfinished."""
    if store is None:
        from wattlens.store import open_store

        store = open_store(store_url)
    for cell in store.cells(run_id):
        if cell["cell_key"] == RESULT_CELL:
            return cell.get("result")
    return None
