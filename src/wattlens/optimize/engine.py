"""``optimize()``: find the lowest-energy way to serve a model under quality/latency/memory limits.

Pipeline (one process; torch configurations needing ``OMP_WAIT_POLICY`` run in a worker subprocess):

1. load the unmodified model(s); held-aside quality inputs (seed 1) separate from measurement inputs (seed 0);
2. build every model-level *variant* once and measure its quality against the unmodified model's outputs
   (:mod:`~wattlens.optimize.variants`; cheap, once per variant: it does not depend on threads). A lossy
   composition is only built when each lossy part passed the gate alone; failures are *measured*, not ruled;
3. search the runtime grid of the surviving variants (:mod:`~wattlens.optimize.search`: successive halving;
   Optuna for large spaces), every trial (:mod:`~wattlens.optimize.trials`) committed to the store as a cell
   (``trial:<rung>:<config key>``) so ``--resume`` skips it; hopeless probes are pruned early;
4. confirm: baseline, the baseline at one thread (a contention-robust reference) and the finalists re-measured
   in interleaved, time-bounded rounds (:mod:`~wattlens.optimize.points`), quality re-checked at each
   finalist's exact batching;
5. hidden costs, savings per year, payback of the search's own metered energy, each configuration charged for
   its own deployment footprint (:mod:`~wattlens.optimize.accounting`); artefact of the winner.

The result is an :class:`~wattlens.optimize.results.OptimizeResult`; the store keeps it as the run's cell
``"result"`` (what ``wattlens report OPT_RUN_ID`` reads through :func:`load_result`). The store, the monitor
and the model loader are passed in (or opened from the request: ``store_url``, ``attribution``).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from wattlens.optimize import accounting as A
from wattlens.optimize import procmem
from wattlens.optimize import search as S
from wattlens.optimize import space as SP
from wattlens.optimize.models import ST_PATH
from wattlens.optimize.points import confirmed_point, exhaustive_cost_estimate, pareto_points, trial_points
from wattlens.optimize.quality import METRIC_BY_TASK
from wattlens.optimize.request import OptimizeRequest, parse_duration
from wattlens.optimize.results import (
    ArtefactInfo,
    Config,
    ConfigDict,
    DeployCheck,
    Fidelity,
    HardwareProfile,
    OptimizeContext,
    OptimizePoint,
    OptimizeResult,
    PrunedEarly,
    QualityReport,
    SearchSummary,
    Trial,
    config_int,
    config_key,
)
from wattlens.optimize.runstore import RESULT_CELL, RunCells, close_quietly, load_result, open_run
from wattlens.optimize.trials import TrialMeasurer, trial_cell
from wattlens.optimize.variants import ModelLoader, VariantBank, full_config

__all__ = [
    "RESULT_CELL",
    "OptimizeRequest",
    "Optimizer",
    "baseline_config",
    "load_result",
    "optimize",
    "parse_duration",
]

_TOKENIZERS_PARALLELISM = "TOKENIZERS_PARALLELISM"


@contextmanager
def serial_tokenizers() -> Iterator[None]:
    """``TOKENIZERS_PARALLELISM=false`` while inside: the tokenizer's own threads would skew the CPU-time meter.
    A value the caller set is left alone; the caller's environment is given back as it was on the way out."""
    own = _TOKENIZERS_PARALLELISM not in os.environ
    os.environ.setdefault(_TOKENIZERS_PARALLELISM, "false")
    try:
        yield
    finally:
        if own:
            os.environ.pop(_TOKENIZERS_PARALLELISM, None)


def make_monitor(attribution: str = "process") -> Any:
    from wattlens.tracking import Monitor

    return Monitor(attribution=attribution)


def baseline_config(req: OptimizeRequest, bank: VariantBank, default_threads: int) -> ConfigDict:
    """The library default: PyTorch fp32, default threads; batch 1 online, ``encode(batch_size=32)`` offline
    (which length-sorts internally, as sentence-transformers does). ``path`` says which call path:
    ``SentenceTransformer(path).encode`` for a sentence-transformers model when the library is installed (what
    its users run), else the transformers AutoModel with the same pooling."""
    online = req.mode == "online"
    return {
        **bank.base_spec(),
        "threads": default_threads,
        "wait": "default",
        "batch": 1 if online else 32,
        "sort": not online,
        "power_limit": None,
        "gpu_clock": None,
        "path": bank.baseline_path(),
    }


class RemoteTrials(Protocol):
    """Measures a rung's configurations elsewhere (``wattlens.distributed.ray_optimize``): each trial is stored by
    whoever measured it; the trials come back in the order asked."""

    def __call__(self, run_id: str, configs: list[Config], fid: Fidelity) -> list[Trial]: ...


def worker_measurer(req: OptimizeRequest, store: Any, run_id: str, *, n_cpus: int | None = None) -> TrialMeasurer:
    """What a worker of a distributed search measures trials with: the same base model, held-aside split and
    measurement inputs as the search process (same request, same seed), the run's stored variant qualities and
    trials, its own meter. Trials it measures are stored into ``run_id`` as they finish. Like the search process,
    measure its trials inside :func:`serial_tokenizers` (``wattlens.distributed.ray_optimize.trial_task`` does)."""
    import onnxruntime  # noqa: F401 - loaded before any model, as in the search process (rss0 = runtime libraries)
    import torch  # noqa: F401
    import transformers  # noqa: F401

    from wattlens.optimize.models import scratch_dir

    cells = RunCells(store, run_id)
    done, known = cells.resumed()
    rss0 = procmem.rss_now_mb()
    with serial_tokenizers():  # the held-aside split and inputs are tokenized as in the search process
        bank = VariantBank(req, scratch_dir(), save_quality=cells.save_quality, known_quality=known)
        base = bank.base(req.model)
        ctx = SP.probe_context(req.task, req.mode, device=req.device, prunable=_prunable(base.module))
        m_texts, _ = bank.texts(max(req.queries, 128), seed=req.seed)
        bank.hold_aside()
    return TrialMeasurer(
        req,
        bank,
        make_monitor(req.attribution),
        n_cpus=n_cpus or ctx.n_cpus,
        inputs=m_texts,
        cells=cells,
        done=done,
        rss0_mb=rss0,
    )


def _prunable(module: Any) -> bool:
    return any(hasattr(m, "attention") and hasattr(m, "intermediate") for m in module.modules())


def _baseline_path_note(base: OptimizePoint | None) -> str | None:
    path = None if base is None else base.config.get("path")
    if not path:
        return None
    how = (
        " (SentenceTransformer(path).encode(texts), library defaults)"
        if path == ST_PATH
        else " (transformers AutoModel + mean pooling by hand; sentence-transformers not used)"
    )
    return f"baseline call path: {path}{how}"


class Optimizer:
    """One optimisation run. ``store``: a ``wattlens.store`` store (default: ``open_store(req.store_url)``);
    ``monitor``: the meter (default: a ``Monitor`` in ``req.attribution``, closed afterwards); ``loader``: how a
    base model is loaded (default: :func:`wattlens.optimize.models.load_base`)."""

    def __init__(
        self,
        req: OptimizeRequest,
        *,
        progress: Callable[[str], None] | None = None,
        monitor: Any = None,
        store: Any = None,
        loader: ModelLoader | None = None,
        remote: RemoteTrials | None = None,
    ) -> None:
        self.req = req
        self.say = progress or (lambda msg: None)
        self.store = store
        self.monitor = monitor
        self.loader = loader
        self.remote = remote
        self.run_id: str | None = None
        self.phases: dict[str, float] = {}

    # -- the run and what it owns -------------------------------------------------------------------
    def run(self) -> OptimizeResult:
        """The whole optimisation; the scratch directory (exported/quantised models) and the monitors this run
        opened are cleaned up whatever happens (the artefact is copied out before)."""
        # the tokenizer's threads off for this run (workers inherit it), the caller's environment given back after
        with serial_tokenizers():
            return self._run()

    def _run(self) -> OptimizeResult:
        import torch

        from wattlens.optimize.models import scratch_dir

        threads0 = torch.get_num_threads()  # trials change the global pool size: give the caller theirs back
        workdir = scratch_dir()
        own_monitor = self.monitor is None
        machine = None
        try:
            self.store, cells, finished = open_run(self.store, self.req, lambda rid, st: load_result(rid, store=st))
            self.run_id = cells.run_id
            if finished is not None:
                self.say(f"run {cells.run_id} is complete: its stored result")
                return finished
            try:
                if own_monitor:
                    self.monitor = make_monitor(self.req.attribution)
                machine = self._machine_monitor()
                return self._measured(cells, workdir, machine)
            except BaseException:  # anywhere before the result is stored: meters, screening, search, finish
                cells.mark_interrupted()
                raise
        finally:
            torch.set_num_threads(threads0)
            shutil.rmtree(workdir, ignore_errors=True)
            close_quietly(self.monitor if own_monitor else None, machine)

    def _machine_monitor(self) -> Any:
        """A second monitor in machine attribution (the saving factor on that boundary), when the first is not."""
        if self.req.attribution == "machine":
            return None
        try:
            return make_monitor("machine")
        except Exception:  # the second boundary is a bonus
            return None

    def _measured(self, cells: RunCells, workdir: str, machine: Any) -> OptimizeResult:
        done, known = cells.resumed()
        if self.req.run_id:
            self.say(f"resuming {cells.run_id}: {len(done)} trials already measured")
        bank = VariantBank(
            self.req, workdir, loader=self.loader, say=self.say, save_quality=cells.save_quality, known_quality=known
        )
        self.monitor.begin("optimize-search")
        t_start, cpu_start = time.perf_counter(), time.process_time()
        measurer: TrialMeasurer | None = None
        try:
            measurer, result = self._search(bank, cells, done, machine, cpu_start)
        except BaseException:
            try:
                self.monitor.end("optimize-search")
            except Exception:
                pass
            raise
        finally:
            if measurer is not None:
                measurer.close()
        m = self.monitor.end("optimize-search")
        # search energy: everything up to the recommendation (the artefact's deploy check after it is not in it)
        search = dataclasses.replace(
            result.search,
            duration_s=time.perf_counter() - t_start,
            energy_j=m.energy_j,
            energy_low_j=m.low_j,
            energy_high_j=m.high_j,
            energy_source=m.source,
            cpu_s=time.process_time() - cpu_start,
        )
        t_fin = time.process_time()
        result = self._finish(dataclasses.replace(result, search=search), bank)
        self.phases["finish_cpu_s"] = time.process_time() - t_fin
        cells.save_result(result)
        cells.set_status("done")
        return result

    # -- search -------------------------------------------------------------------------------------
    def _search(
        self, bank: VariantBank, cells: RunCells, done: dict[str, Trial], machine: Any, cpu0: float
    ) -> tuple[TrialMeasurer, OptimizeResult]:
        req = self.req
        self.say(f"wattlens optimize {req.model} ({req.task}, {req.mode}); run {cells.run_id}")
        import onnxruntime  # noqa: F401 - loaded before any model so rss0 = runtime libraries only
        import torch  # noqa: F401
        import transformers  # noqa: F401

        rss0, load0 = procmem.rss_now_mb(), procmem.loadavg()
        base = bank.base(req.model)
        ctx = SP.probe_context(
            req.task, req.mode, device=req.device, hardware_knobs=req.hardware_knobs, prunable=_prunable(base.module)
        )
        m_texts, _ = bank.texts(max(req.queries, 128), seed=req.seed)
        bank.hold_aside()
        space = SP.build_space(
            ctx,
            req.models,
            transforms=tuple(req.transforms) if req.transforms else None,
            batches=req.batches,
            threads=req.threads,
        )
        for sk in space.skipped:
            self.say(f"  transform {sk.transform} skipped: {sk.why}")
        self.say(f"screening {len(space.variants)} model variants on {len(bank.q_texts)} held-aside inputs")
        t_phase = time.process_time()
        self.phases["load_cpu_s"] = t_phase - cpu0
        space.variants = [dict(v) for v in bank.screen(space.variants)]
        self.phases["screen_cpu_s"] = time.process_time() - t_phase
        measurer = TrialMeasurer(
            req,
            bank,
            self.monitor,
            n_cpus=ctx.n_cpus,
            inputs=m_texts,
            cells=cells,
            done=done,
            rss0_mb=rss0,
            machine_monitor=machine,
        )
        t_phase = time.process_time()
        configs = space.configs()
        rungs = S.default_rungs(req.queries, req.repeats)
        outcome = self._strategy(configs, space, measurer, rungs)
        self.phases["search_cpu_s"] = time.process_time() - t_phase
        t_phase = time.process_time()
        result = self._assemble(outcome, space, ctx, bank, measurer, rungs, len(configs), load0)
        self.phases["confirm_cpu_s"] = time.process_time() - t_phase
        return measurer, dataclasses.replace(result, search=dataclasses.replace(result.search, phases=self.phases))

    def _strategy(
        self, configs: list[ConfigDict], space: SP.Space, measurer: TrialMeasurer, rungs: list[Fidelity]
    ) -> S.SearchOutcome:
        req = self.req
        n = len(configs)
        strategy = req.strategy if req.strategy != "auto" else ("halving" if n <= 400 else "optuna")
        if self.remote is not None:  # rungs of independent trials are what a cluster runs in parallel
            strategy = "halving"
        self.say(f"searching {n} configurations ({strategy}{', trials as Ray tasks' if self.remote else ''})")
        constraints = req.constraints
        if strategy == "exhaustive":
            return S.exhaustive(configs, measurer.evaluate, rungs[-1], constraints, on_trial=self._on_trial)
        if strategy == "optuna":
            keys = {config_key(c) for c in configs}
            return S.optuna_search(
                space.knobs(),
                measurer.evaluate,
                rungs,
                max(20, min(200, n // 3)),
                constraints,
                valid=lambda c: config_key(c) in keys,
                on_trial=self._on_trial,
            )
        budget = None if req.budget_s is None else max(10.0, req.budget_s * 0.6)
        many = None if self.remote is None else (lambda cs, fid: self._evaluate_remote(measurer, cs, fid))
        return S.successive_halving(
            configs, measurer.evaluate, rungs, constraints, on_trial=self._on_trial, budget_s=budget, evaluate_many=many
        )

    def _evaluate_remote(self, measurer: TrialMeasurer, configs: list[Config], fid: Fidelity) -> list[Trial]:
        """One rung on the cluster: trials a resumed run already has are reused, the rest submitted at once."""
        assert self.remote is not None and self.run_id is not None
        cells = [trial_cell(c, fid) for c in configs]
        todo = [c for c, cell in zip(configs, cells, strict=True) if cell not in measurer.done]
        fresh = iter(self.remote(self.run_id, todo, fid) if todo else [])
        return [measurer.done[cell] if cell in measurer.done else next(fresh) for cell in cells]

    def _on_trial(self, t: Trial) -> None:
        label = SP.describe(dict(t.config))
        if t.ok and t.j_per_query is not None:
            self.say(
                f"  [{t.fidelity:5}] {label:55} {t.j_per_query * 1e3:8.2f} mJ/q  "
                f"p95 {t.p95_ms or 0:7.1f} ms  q {t.quality or 0:.4f}"
            )
        elif not t.ok:
            self.say(f"  [{t.fidelity:5}] {label:55} failed: {t.why}")

    # -- confirmation and the result ----------------------------------------------------------------
    def _assemble(
        self,
        outcome: S.SearchOutcome,
        space: SP.Space,
        ctx: SP.Context,
        bank: VariantBank,
        measurer: TrialMeasurer,
        rungs: list[Fidelity],
        exhaustive_n: int,
        load0: tuple[float, ...] | None,
    ) -> OptimizeResult:
        req, constraints, rejections = self.req, self.req.constraints, bank.rejections
        base_cfg = baseline_config(req, bank, ctx.default_threads)
        for t in outcome.trials:
            if not t.ok and not t.extra.pruned_early and not rejections.has_label(SP.describe(dict(t.config))):
                rejections.add(t.config, _quality_only(t), t.why, t)
        final = [t for t in outcome.final if t.ok]
        feasible = sorted((t for t in final if not constraints.violation(t)), key=S.energy_of)
        for t in final:
            why = constraints.violation(t)
            if why:
                rejections.add(t.config, _quality_only(t), why, t)
        front = S.pareto(feasible)
        # reference: the default at ONE thread. On a shared machine the multi-thread default is inflated by
        # co-tenants (OpenMP spin-waits for descheduled partners); a ratio against this point is robust to that.
        ref1 = {**base_cfg, "threads": 1}
        picked = [base_cfg, ref1] + ([feasible[0].config] if feasible else []) + [t.config for t in front[:5]]
        finalists = list({config_key(c): c for c in picked}.values())  # unique, order kept
        self.say(f"confirming baseline + {len(finalists) - 1} finalists ({req.confirm_rounds} interleaved rounds)")
        confirmed = measurer.confirm(finalists, rungs[-1], outcome.trials)
        points: dict[str, OptimizePoint] = {}
        for c in finalists:
            p = self._point(c, confirmed.get(config_key(c), []), bank)
            if p is not None:
                points[config_key(c)] = p
        baseline = points.get(config_key(base_cfg))
        single = points.get(config_key(ref1)) if ref1 != base_cfg else None
        # the baseline competes too: if nothing beats it within the limits, the honest advice is "keep it"
        candidates = [p for p in points.values() if not p.violation]
        recommended = min(candidates, key=lambda p: p.j_per_query) if candidates else None
        if baseline is not None and baseline.violation:
            self.say(f"note: the baseline itself violates the limits ({baseline.violation})")
        if recommended is None:
            self.say("no configuration met the limits; see 'rejected' for why")
        factors = A.saving_factors(baseline, recommended, single)
        exh_cost = exhaustive_cost_estimate(outcome, rungs[-1], exhaustive_n)
        base_model = bank.bases[req.model]
        return OptimizeResult(
            run_id=self.run_id or "",
            model=req.model,
            task=req.task,
            mode=req.mode,
            candidates=tuple(req.models),
            constraints=constraints,
            quality_metric=METRIC_BY_TASK.get(req.task, "cosine_mean"),
            baseline=baseline,
            recommended=recommended,
            saving_factor=factors.primary,
            saving_factor_best_round=factors.best_round,
            saving_factor_vs_single_thread_default=factors.vs_single_thread_default,
            single_thread_default=single,
            pareto=tuple(pareto_points(list(points.values()))),
            rejected=tuple(rejections.items),
            search=SearchSummary(
                strategy=outcome.strategy,
                trials=len(outcome.trials),
                resumed_trials=sum(1 for t in outcome.trials if t.extra.resumed),
                exhaustive_trials=exhaustive_n,
                measure_s=outcome.cost_s,
                exhaustive_measure_s_est=exh_cost,
                measure_share_of_exhaustive=(outcome.cost_s / exh_cost) if exh_cost else None,
                build_cpu_s=bank.build_cpu_s,
                variants_screened=len(bank.quality),
                pruned_early=tuple(
                    PrunedEarly(SP.describe(dict(t.config)), t.why) for t in outcome.trials if t.extra.pruned_early
                ),
                notes=tuple(outcome.notes),
                rungs=tuple(rungs),
            ),
            trials=tuple(trial_points(outcome, rungs[-1])),
            transforms=tuple(space.transforms),
            skipped_transforms=tuple(space.skipped),
            energy_boundary=A.boundary_note(req.attribution, baseline, recommended),
            context=OptimizeContext(
                n_cpus=ctx.n_cpus,
                default_threads=ctx.default_threads,
                loadavg_start=load0,
                loadavg_end=procmem.loadavg(),
                device=ctx.device,
                gpu_count=ctx.gpu_count,
                weights=base_model.weights,
                notes=tuple(base_model.notes),
                hardware=_hardware(),
            ),
        )

    def _point(self, config: Config, trials: list[Trial], bank: VariantBank) -> OptimizePoint | None:
        ok = [t for t in trials if t.ok and t.j_per_query is not None]
        if not ok:
            if trials:
                bank.rejections.add(config, None, trials[0].why or "failed at confirmation")
            return None
        spec: ConfigDict = SP.variant_of(dict(config))
        if config.get("path") == ST_PATH:
            spec = {**spec, "path": ST_PATH}  # the library call path's own outputs against the reference
        quality = bank.quality_of(spec, config_int(config, "batch"), bool(config.get("sort")))  # exact batching
        built = bank.built(SP.variant_of(dict(config)))
        return confirmed_point(config, ok, quality, None if built is None else built.size_mb, self.req.constraints)

    # -- after the search ---------------------------------------------------------------------------
    def _finish(self, result: OptimizeResult, bank: VariantBank) -> OptimizeResult:
        """Artefact and deploy check, each configuration charged for its own footprint, savings, hidden costs."""
        base, rec = result.baseline, result.recommended
        if rec is not None:  # fresh-process footprints first: they set the J below
            result, base, rec = self._artefact_and_deploy(result, bank, base, rec)
        base, rec = A.deployed(base), A.deployed(rec)
        single = _swap(result.single_thread_default, base, rec)
        factors = A.saving_factors(base, rec, single)
        result = dataclasses.replace(
            result,
            baseline=base,
            recommended=rec,
            single_thread_default=single,
            pareto=tuple(_swap(p, base, rec) or p for p in result.pareto),
            assumptions=tuple(A.assumptions(base, rec, _baseline_path_note(base))),
        )
        if base is not None and rec is not None and rec.j_per_query:
            result = dataclasses.replace(
                result,
                saving_factor=factors.primary,
                saving_factor_best_round=factors.best_round,
                saving_factor_vs_single_thread_default=factors.vs_single_thread_default,
                saving_factor_search_process=factors.search_process,
                saving_factor_cpu_only=factors.cpu_only,
                saving_factor_deployed_memory=factors.primary,  # kept under its old name
            )
        art = result.artefact
        if rec is not None and art is not None and art.path:
            from wattlens.optimize.artefact import update_measured

            update_measured(art.path, rec, result.saving_factor)
        if base is None or rec is None:
            return dataclasses.replace(result, payback_queries=None)
        grid = A.Grid(
            self.req.queries_per_day, self.req.country, self.req.region, self.req.price_per_kwh, self.req.currency
        )
        savings, per_year = A.savings(base, rec, grid)
        rec = dataclasses.replace(rec, hidden_costs=A.hidden_costs(base, rec))
        return dataclasses.replace(
            result,
            recommended=rec,
            single_thread_default=_swap(result.single_thread_default, rec),
            pareto=tuple(
                dataclasses.replace(q, hidden_costs=A.hidden_costs(base, q))
                for q in (_swap(p, rec) or p for p in result.pareto)
            ),
            payback_queries=A.payback_queries(result.search.energy_j, savings.j_per_query_saved),
            savings=savings,
            savings_per_year=per_year,
        )

    def _artefact_and_deploy(
        self, result: OptimizeResult, bank: VariantBank, base: OptimizePoint | None, rec: OptimizePoint
    ) -> tuple[OptimizeResult, OptimizePoint | None, OptimizePoint]:
        """Write the recommendation's artefact; load it (and the baseline's) in a fresh process to measure the
        real deployment footprint (``deploy_rss_mb``) and prove the artefact is self-contained."""
        from wattlens.optimize.artefact import deploy_check, save_artefact

        texts = bank.q_texts[:32]
        try:
            out_dir = self.req.artefact_dir or tempfile.mkdtemp(prefix="wattlens-artefact-")
            path = save_artefact(
                bank,
                full_config(rec.config),
                out_dir,
                run_id=self.run_id,
                measured=rec,
                saving_factor=result.saving_factor,
            )
            info = ArtefactInfo(path=path if self.req.artefact_dir else None, files=tuple(sorted(os.listdir(path))))
        except Exception as exc:  # the search result stands without the artefact
            return dataclasses.replace(result, artefact=ArtefactInfo(error=f"{type(exc).__name__}: {exc}")), base, rec
        if not self.req.deploy_check:
            return dataclasses.replace(result, artefact=info), base, rec
        t0 = time.perf_counter()
        check = DeployCheck.from_dict(deploy_check(path, texts))
        rec = dataclasses.replace(rec, deploy_rss_mb=check.peak_rss_mb)
        if base is not None:
            base = dataclasses.replace(base, deploy_rss_mb=self._baseline_deploy_rss(bank, base, texts))
        if not self.req.artefact_dir:  # only written for the deploy check
            shutil.rmtree(path, ignore_errors=True)
        search = dataclasses.replace(result.search, deploy_check_s=time.perf_counter() - t0)
        return (
            dataclasses.replace(result, artefact=dataclasses.replace(info, deploy_check=check), search=search),
            base,
            rec,
        )

    def _baseline_deploy_rss(self, bank: VariantBank, base: OptimizePoint, texts: list[str]) -> float | None:
        from wattlens.optimize.artefact import deploy_check, save_artefact

        bdir = tempfile.mkdtemp(prefix="wattlens-base-")
        try:
            peak = deploy_check(save_artefact(bank, full_config(base.config), bdir), texts).get("peak_rss_mb")
            return float(peak) if isinstance(peak, (int, float)) else None
        except Exception:  # informative only
            return None
        finally:
            shutil.rmtree(bdir, ignore_errors=True)


def _hardware() -> HardwareProfile | None:
    """ISA flags and kernels of this machine (never fails the run)."""
    from wattlens.optimize.gen_space import hardware_profile

    try:
        return hardware_profile()
    except Exception:  # informative only
        return None


def _quality_only(t: Trial) -> QualityReport | None:
    return None if t.quality is None else QualityReport(t.quality)


def _swap(p: OptimizePoint | None, *updated: OptimizePoint | None) -> OptimizePoint | None:
    """``p``, or the updated record of the same configuration (one configuration is one point everywhere)."""
    if p is None:
        return None
    return next((u for u in updated if u is not None and u.config == p.config), p)


def optimize(req: OptimizeRequest, *, progress: Callable[[str], None] | None = None, **kw: Any) -> OptimizeResult:
    """Run one optimisation; returns the result (also stored as the run's ``result`` cell)."""
    return Optimizer(req, progress=progress, **kw).run()
