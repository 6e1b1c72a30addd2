"""``wattlens optimize --task text-generation``: the lowest energy per generated token within a quality gate.

Pipeline (one process):

1. load the unmodified model (and the draft for speculative decoding); measurement prompts (seed) and held-aside
   quality prompts (seed + 1) of varied lengths, never the same;
2. screen each model variant (int8, compile, speculative) on the held-aside prompts: greedy token agreement and
   mean next-token KL against the unmodified model, each with n and a bootstrap interval; gate on
   ``--quality-metric``;
3. probe every configuration of the passing variants x runtime settings (threads, batch, length bucketing,
   static KV cache) on a few prompts, then measure the baseline and the best few at full fidelity; every trial is
   a store cell (``gtrial:<fidelity>:<key>``) so ``--resume`` skips what was measured;
4. the recommendation (lowest J/token within the limits), the saving factor with its interval, why each transform
   won or lost *on this hardware* (``--explain``), and the artefact (``--out``).

The baseline is what a transformers user runs: ``generate``, fp32, library default threads, batch 1, dynamic
cache, greedy.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Any

from wattlens.errors import caused_by_interrupt
from wattlens.optimize import gen_drive as D
from wattlens.optimize import gen_quality as GQ
from wattlens.optimize import gen_space as GS
from wattlens.optimize import procmem
from wattlens.optimize.gen_results import (
    GenOptimizeResult,
    GenQuality,
    GenTrial,
    HardwareProfile,
    TransformVerdict,
    VariantQuality,
)
from wattlens.optimize.request import OptimizeError, OptimizeRequest
from wattlens.optimize.results import Config, ConfigDict, config_key
from wattlens.optimize.runstore import RESULT_CELL, RunCells, close_quietly, load_generation_result, open_run
from wattlens.optimize.space import probe_context
from wattlens.stats import mean, median, percentile_of_known

DEFAULT_MIN = {"token_agreement": 0.95, "kl_mean": 0.05}
PROBE_QUERIES = 4
FINALISTS = 3
PROMPT_WORDS = (6, 10, 16, 24, 32)  # varied prompt lengths: padding (and bucketing) matter as in real traffic


def prompts(n: int, seed: int) -> list[str]:
    """``n`` prompts of varied length (cycling through PROMPT_WORDS words)."""
    from wattlens.workloads import data

    return [
        data.prompts(1, seed=seed * 1000 + i, words=PROMPT_WORDS[i % len(PROMPT_WORDS)])[0]["text"] for i in range(n)
    ]


def min_quality(req: OptimizeRequest) -> float | None:
    return req.min_quality if req.min_quality is not None else DEFAULT_MIN.get(req.quality_metric)


def baseline(req: OptimizeRequest, default_threads: int) -> ConfigDict:
    return {
        "model": req.model,
        **GS.BASE_VARIANT,
        "threads": default_threads,
        "batch": 1,
        "sort": False,
        "cache": "dynamic",
    }


class GenOptimizer:
    """One generation optimisation run; ``store``/``monitor``/``loader`` as for :class:`~.engine.Optimizer`."""

    def __init__(
        self,
        req: OptimizeRequest,
        *,
        progress: Callable[[str], None] | None = None,
        monitor: Any = None,
        store: Any = None,
        loader: Any = None,
    ) -> None:
        if req.quality_metric not in GQ.METRICS:
            raise OptimizeError(f"--quality-metric must be one of {', '.join(GQ.METRICS)}, not {req.quality_metric!r}")
        self.req = req
        self.say = progress or (lambda msg: None)
        self.store, self.monitor, self.loader = store, monitor, loader
        self.run_id: str | None = None
        self.quality: dict[str, GenQuality] = {}
        self.trials: dict[str, GenTrial] = {}
        self.variants: dict[str, D.GenVariant] = {}
        self.rejected: list[str] = []
        self.workdir: str | None = None  # exported ONNX decoders (removed after the run)

    # -- the run ------------------------------------------------------------------------------------
    def run(self) -> GenOptimizeResult:
        import torch

        threads0 = torch.get_num_threads()
        own_monitor = self.monitor is None
        self.workdir = tempfile.mkdtemp(prefix="wattlens-gen-")
        try:
            self.store, cells, finished = open_run(self.store, self.req, load_generation_result)
            self.run_id = cells.run_id
            if finished is not None:
                return finished
            try:
                if own_monitor:
                    from wattlens.optimize.engine import make_monitor

                    self.monitor = make_monitor(self.req.attribution)
                result = self._run(cells)
                cells.store.save_cell(cells.run_id, RESULT_CELL, "ok", result)
            except BaseException:
                cells.mark_interrupted()
                raise
            cells.set_status("done")
            return result
        finally:
            torch.set_num_threads(threads0)
            shutil.rmtree(self.workdir, ignore_errors=True)
            close_quietly(self.monitor if own_monitor else None)

    def _resumed(self, cells: RunCells) -> None:
        from collections.abc import Mapping

        for cell in cells.store.cells(cells.run_id):
            key, res = cell["cell_key"], cell.get("result")
            if not isinstance(res, Mapping):
                continue
            if key.startswith("gtrial:"):
                self.trials[key] = dataclasses.replace(GenTrial.from_dict(res), resumed=True)
            elif key.startswith("gquality:"):
                self.quality[key[len("gquality:") :]] = GenQuality.from_dict(res)
        if self.trials or self.quality:
            self.say(
                f"resuming {cells.run_id}: {len(self.trials)} trials, {len(self.quality)} variants already measured"
            )

    def _run(self, cells: RunCells) -> GenOptimizeResult:
        from wattlens.optimize.models import default_threads, load_base

        req = self.req
        self._resumed(cells)
        load0, t_start, cpu0 = procmem.loadavg(), time.perf_counter(), time.process_time()
        self.monitor.begin("optimize-search")
        hw = GS.hardware_profile()
        loader = self.loader or load_base
        base = _load(loader, req.model, "MODEL", req)
        draft_base = _load(loader, req.draft, "--draft", req) if req.draft else None
        ctx = probe_context(req.task, req.mode, device=req.device, hardware_knobs=req.hardware_knobs, prunable=False)
        variants, runtimes, skipped, infos = GS.build_gen_space(
            ctx,
            req.model,
            draft=req.draft,
            transforms=tuple(req.transforms) if req.transforms else None,
            batches=req.batches,
            threads=req.threads,
        )
        for sk in skipped:
            self.say(f"  transform {sk.transform} skipped: {sk.why}")
        q_texts = prompts(req.quality_inputs, req.seed + 1)
        m_texts = prompts(max(req.queries, PROBE_QUERIES), req.seed)
        passed, vq = self._screen(variants, base, draft_base, q_texts, cells)
        base_cfg = baseline(req, default_threads())
        # speculative decoding runs at batch 1 only: offline, its variant is tried at batch 1 (else never)
        b1 = list({config_key(r): r for r in ({**r, "batch": 1, "sort": False} for r in runtimes)}.values())
        configs = [
            {**v, **r}
            for v in passed
            for r in (b1 if v.get("draft") else runtimes)
            if GS.valid({**v, **r}) and config_key({**v, **r}) != config_key(base_cfg)
        ]
        # stage 1 probes everything with the dynamic cache; the static cache (outputs identical, small effect on
        # CPU) is probed in stage 2 on the best few only: a third fewer probes for the same choice
        first = [c for c in configs if c.get("cache") != "static"]
        self.say(f"probing {len(first)} configurations + the baseline on {PROBE_QUERIES}+ prompts each")
        probes = [self._trial(c, "probe", m_texts, base, draft_base, cells) for c in [base_cfg, *first]]
        ok = sorted((t for t in probes[1:] if t.ok and t.j_per_token), key=lambda t: t.j_per_token or 0.0)
        keys = {config_key(c) for c in configs}
        second = [{**t.config, "cache": "static"} for t in ok[:FINALISTS]]
        second = [c for c in second if config_key(c) in keys]
        if second:
            self.say(f"probing the static KV cache on the best {len(second)}")
            probes += [self._trial(c, "probe", m_texts, base, draft_base, cells) for c in second]
            ok = sorted((t for t in probes[1:] if t.ok and t.j_per_token), key=lambda t: t.j_per_token or 0.0)
        finalists = [base_cfg] + [dict(t.config) for t in ok[:FINALISTS]]
        self.say(f"measuring the baseline and {len(finalists) - 1} finalists on {len(m_texts)} prompts")
        full = [self._trial(c, "full", m_texts, base, draft_base, cells) for c in finalists]
        m = self.monitor.end("optimize-search")
        base_t = full[0] if full[0].ok else None
        feasible = [t for t in full[1:] if t.ok and t.j_per_token and not self._violation(t)]
        rec = min(feasible, key=lambda t: t.j_per_token or 0.0, default=None)
        if (
            rec is not None
            and base_t is not None
            and base_t.j_per_token
            and (rec.j_per_token or 0.0) >= base_t.j_per_token
        ):
            rec = base_t  # nothing beats the default: the honest advice is to keep it
        rec = rec or base_t
        factor, f_lo, f_hi = _factor(base_t, rec)
        rec_q = self.quality.get(_vkey(gen_variant(rec.config))) if rec is not None else None
        result = GenOptimizeResult(
            run_id=cells.run_id,
            model=req.model,
            mode=req.mode,
            quality_metric=req.quality_metric,
            min_quality=min_quality(req),
            decoding=req.decoding,
            max_new_tokens=req.gen_tokens,
            max_new_tokens_policy=(
                f"fixed: max_new_tokens = min_new_tokens = {req.gen_tokens} for every configuration (EOS does not "
                "end a continuation early, so J/token compares the same work)"
            ),
            hardware=hw,
            baseline=base_t,
            recommended=rec,
            recommended_quality=rec_q,
            saving_factor_j_per_token=factor,
            saving_factor_low=f_lo,
            saving_factor_high=f_hi,
            trials=tuple(probes + full),
            variant_quality=tuple(vq),
            rejected=tuple(self.rejected),
            explain=tuple(explain(hw, base_t, probes + full, vq, skipped, rec)),
            transforms=tuple(infos),
            skipped_transforms=tuple(skipped),
            search_cpu_s=time.process_time() - cpu0,
            search_duration_s=time.perf_counter() - t_start,
            search_energy_j=m.energy_j,
            loadavg_start=load0,
            loadavg_end=procmem.loadavg(),
            weights=base.weights,
            notes=(
                *base.notes,
                "quality measured greedy at batch 8 with left padding (reference and variant alike)",
                "energy: prefill window = call start to first new token; decode window = the rest of the call",
                "peak_rss_mb is the search process's peak during the trial (every built variant is resident); the "
                "artefact's own footprint is what `wattlens bench --model DIR` measures",
            ),
        )
        if req.artefact_dir and rec is not None:
            from wattlens.optimize.gen_artefact import save

            built = self.variants.get(_vkey(rec.config))
            onnx = getattr(built.module, "path", None) if built is not None else None
            path = save(base, draft_base, rec, result, req.artefact_dir, onnx)
            result = dataclasses.replace(result, artefact_path=path)
        return result

    # -- quality --------------------------------------------------------------------------------------
    def _variant(self, spec: Config, base: Any, draft_base: Any) -> D.GenVariant:
        key = _vkey(spec)
        if key not in self.variants:
            self.variants[key] = D.build(
                base, spec, draft_base if spec.get("draft") else None, self.req.compile_backend, self.workdir
            )
        return self.variants[key]

    def _screen(
        self, variants: list[ConfigDict], base: Any, draft_base: Any, q_texts: list[str], cells: RunCells
    ) -> tuple[list[ConfigDict], list[VariantQuality]]:
        req, gate_min = self.req, min_quality(self.req)
        self.say(f"screening {len(variants)} model variants on {len(q_texts)} held-aside prompts")
        ref_v = self._variant(variants[0], base, draft_base)
        ref: list[list[int]] | None = None
        ref_logits: list[Any] | None = None
        passed: list[ConfigDict] = []
        out: list[VariantQuality] = []
        for spec in variants:
            key, label = _vkey(spec), GS.describe(spec)
            q = self.quality.get(key)
            if q is None:
                try:
                    v = self._variant(spec, base, draft_base)
                    if ref is None:
                        import torch

                        torch.set_num_threads(1)  # outputs do not depend on threads; one costs the fewest CPU-s
                        ref = D.continuations(ref_v, q_texts, 8, req.gen_tokens)
                        ref_logits = D.teacher_forced_logits(ref_v.module, base, q_texts, ref)
                    cont = D.continuations(v, q_texts, 1 if v.draft is not None else 8, req.gen_tokens)
                    kls = GQ.kl_per_prompt(ref_logits or [], D.teacher_forced_logits(v.module, base, q_texts, ref))
                    q = GQ.summarise(req.quality_metric, ref, cont, kls)
                except Exception as exc:  # a transform that cannot be applied is reported, never ends the search
                    if caused_by_interrupt(exc):
                        raise KeyboardInterrupt from exc
                    why = f"transform failed: {type(exc).__name__}: {exc}"
                    self.rejected.append(f"{label}: {why}")
                    out.append(VariantQuality(label, None, False, why))
                    self.say(f"  rejected {label}: {why}")
                    continue
                self.quality[key] = q
                cells.store.save_cell(cells.run_id, f"gquality:{key}", "ok", q)
            why = GQ.gate(q, gate_min)
            out.append(VariantQuality(label, q, not why, why or None))
            if why:
                self.rejected.append(f"{label}: {why}")
                self.say(f"  rejected {label}: {why}")
            else:
                passed.append(spec)
                self.say(
                    f"  variant {label}: token agreement {q.token_agreement:.4f} "
                    f"[{q.token_agreement_low:.3f}, {q.token_agreement_high:.3f}], KL {q.kl_mean_nats:.3g} nats, "
                    f"n={q.n_prompts}"
                )
        return passed, out

    # -- trials ---------------------------------------------------------------------------------------
    def _trial(
        self, c: ConfigDict, fidelity: str, texts: list[str], base: Any, draft_base: Any, cells: RunCells
    ) -> GenTrial:
        key = f"gtrial:{fidelity}:{config_key(c)}"
        if key in self.trials:
            return self.trials[key]
        label = GS.describe(c)
        n = max(PROBE_QUERIES, 2 * int(c.get("batch") or 1)) if fidelity == "probe" else len(texts)
        try:
            v = self._variant(gen_variant(c), base, draft_base)
            m = D.measure(v, c, texts[:n], self.monitor, max_new_tokens=self.req.gen_tokens, decoding=self.req.decoding)
            t = summarise_trial(c, label, fidelity, m)
        except Exception as exc:  # a failing configuration is a result, not the end of the search
            if caused_by_interrupt(exc):
                raise KeyboardInterrupt from exc
            t = GenTrial(dict(c), label, fidelity, ok=False, why=f"{type(exc).__name__}: {exc}")
        cells.store.save_cell(cells.run_id, key, "ok" if t.ok else "failed", t, None if t.ok else t.why)
        self.trials[key] = t
        if t.ok and t.j_per_token is not None:
            self.say(
                f"  [{fidelity:5}] {label:45} {t.j_per_token * 1e3:8.2f} mJ/token  "
                f"TTFT p95 {t.ttft_p95_ms or 0:7.1f} ms  ITL p95 {t.itl_p95_ms or 0:6.1f} ms"
            )
        else:
            self.say(f"  [{fidelity:5}] {label:45} failed: {t.why}")
        return t

    def _violation(self, t: GenTrial) -> str:
        if self.req.max_p95_ms is not None and (t.query_p95_ms or 0) > self.req.max_p95_ms:
            return f"p95 {t.query_p95_ms:.1f} ms > {self.req.max_p95_ms} ms"
        if self.req.max_rss_mb is not None and (t.peak_rss_mb or 0) > self.req.max_rss_mb:
            return f"peak RSS {t.peak_rss_mb:.0f} MB > {self.req.max_rss_mb} MB"
        return ""


def _load(loader: Any, name: str, option: str, req: OptimizeRequest) -> Any:
    """A model for the run; an unknown name or unreadable directory is the user's input error (exit 2)."""
    try:
        return loader(name, req.task, device=req.device, gen_tokens=req.gen_tokens)
    except (KeyError, OSError, ValueError) as exc:
        msg = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
        raise OptimizeError(f"{option} {name!r}: {msg.splitlines()[0][:300]}") from exc


def gen_variant(c: Config) -> ConfigDict:
    return GS.variant_part(c)


def _vkey(spec: Config) -> str:
    return config_key(gen_variant(spec))


def summarise_trial(c: Config, label: str, fidelity: str, m: D.GenMeasurement) -> GenTrial:
    """Per-token and per-query figures of one measurement."""
    total = m.prefill_j + m.decode_j
    decode_tokens = max(1, m.tokens - m.queries)  # the first token of each prompt comes out of the prefill
    return GenTrial(
        config=dict(c),
        label=label,
        fidelity=fidelity,
        queries=m.queries,
        generated_tokens=m.tokens,
        j_per_token=total / m.tokens if m.tokens else None,
        j_per_token_low=m.low_j / m.tokens if m.tokens else None,
        j_per_token_high=m.high_j / m.tokens if m.tokens else None,
        j_per_query=total / m.queries if m.queries else None,
        prefill_j_per_query=m.prefill_j / m.queries if m.queries else None,
        decode_j_per_token=m.decode_j / decode_tokens,
        energy_source=m.source,
        energy_method=m.method,
        ttft_p50_ms=percentile_of_known(m.ttft_ms, 50),
        ttft_p95_ms=percentile_of_known(m.ttft_ms, 95),
        itl_p50_ms=percentile_of_known(m.itl_ms, 50),
        itl_p95_ms=percentile_of_known(m.itl_ms, 95),
        query_p95_ms=percentile_of_known(m.query_ms, 95),
        tokens_per_s=m.tokens / m.duration_s if m.duration_s else None,
        peak_rss_mb=m.peak_rss_mb,
        duration_s=m.duration_s,
        cpu_s=m.cpu_s,
        acceptance_rate=(m.accepted / m.proposed) if m.proposed else None,
        loadavg=procmem.loadavg(),
    )


def _factor(base: GenTrial | None, rec: GenTrial | None) -> tuple[float | None, float | None, float | None]:
    if base is None or rec is None or not base.j_per_token or not rec.j_per_token:
        return None, None, None
    lo = (base.j_per_token_low or base.j_per_token) / (rec.j_per_token_high or rec.j_per_token)
    hi = (base.j_per_token_high or base.j_per_token) / (rec.j_per_token_low or rec.j_per_token)
    return base.j_per_token / rec.j_per_token, lo, hi


# --------------------------------------------------------------------------------------------------
# --explain: why each transform won or lost here

_KNOB_OF = {
    "torch-int8-dynamic": lambda c: str(c.get("quant", "none")).startswith("int8"),
    "onnxruntime-decoder": lambda c: c.get("engine") == "onnxruntime",
    "bf16": lambda c: c.get("quant") == "bf16",
    "int4-weight-only": lambda c: c.get("quant") == "int4-wo",
    "threads": lambda c: True,
    "static-kv-cache": lambda c: c.get("cache") == "static",
    "micro-batching": lambda c: int(c.get("batch") or 1) > 1,
    "batching": lambda c: int(c.get("batch") or 1) > 1,
    "length-bucketing": lambda c: bool(c.get("sort")),
    "torch-compile": lambda c: bool(c.get("compile")),
    "speculative-decoding": lambda c: bool(c.get("draft")),
}


def _without(c: Config, transform: str) -> dict[str, Any]:
    """``c`` with one transform taken away (the pair that isolates what it did)."""
    d = dict(c)
    if transform in ("torch-int8-dynamic", "bf16", "int4-weight-only"):
        d["quant"] = "none"
    elif transform == "static-kv-cache":
        d["cache"] = "dynamic"
    elif transform in ("micro-batching", "batching"):
        d["batch"] = 1
    elif transform == "length-bucketing":
        d["sort"] = False
    elif transform == "torch-compile":
        d["compile"] = False
    elif transform == "speculative-decoding":
        d["draft"] = None
    elif transform == "onnxruntime-decoder":
        d["engine"] = "torch"
    return d


def explain(
    hw: HardwareProfile,
    base: GenTrial | None,
    trials: Sequence[GenTrial],
    vq: Sequence[VariantQuality],
    skipped: Sequence[Any],
    rec: GenTrial | None,
) -> list[TransformVerdict]:
    """One verdict per transform: skipped (why it does not apply here), rejected (quality), or the measured factor
    of the configurations using it against the same configuration without it (probe trials, same fidelity)."""
    out = [TransformVerdict(s.transform, "skipped", s.why or "") for s in skipped]
    probes = {config_key(t.config): t for t in trials if t.fidelity == "probe" and t.ok and t.j_per_token}
    for name, uses in _KNOB_OF.items():
        if any(s.transform == name for s in skipped):
            continue
        bad = [q for q in vq if not q.passed and _variant_uses(name, q.variant)]
        ratios = []
        for t in probes.values():
            if name == "threads" or not uses(t.config):
                continue
            other = probes.get(config_key(_without(t.config, name)))
            if other is not None and other.j_per_token and t.j_per_token:
                ratios.append(other.j_per_token / t.j_per_token)
        if bad and not ratios:
            out.append(TransformVerdict(name, "rejected", "; ".join(f"{q.variant}: {q.why}" for q in bad)))
            continue
        if name == "threads":
            out.append(_threads_verdict(probes.values()))
            continue
        if not ratios:
            out.append(TransformVerdict(name, "not-measured", "no pair of probes differing only in this transform"))
            continue
        best, med = max(ratios), median(ratios)
        verdict = "won" if rec is not None and uses(rec.config) else ("lost" if med <= 1.0 else "helped, not chosen")
        why = (
            f"{med:.2f}x less J/token with it than without (median of {len(ratios)} probe pairs differing only in "
            f"it; best {best:.2f}x)"
        )
        if name == "torch-int8-dynamic":
            why += f"; {GS.int8_expectation(hw)}"
        if name == "speculative-decoding":
            acc = [t.acceptance_rate for t in probes.values() if t.acceptance_rate is not None]
            if acc:
                why += f"; measured acceptance rate {mean(acc):.2f}"
        out.append(TransformVerdict(name, verdict, why, med))
    return out


def _variant_uses(name: str, label: str) -> bool:
    return {
        "torch-int8-dynamic": "int8",
        "bf16": "bf16",
        "int4-weight-only": "int4-wo",
        "torch-compile": "compiled",
        "speculative-decoding": "draft=",
        "onnxruntime-decoder": "onnxruntime",
    }.get(name, "\0") in label


def _threads_verdict(probes: Any) -> TransformVerdict:
    by_t: dict[int, list[float]] = {}
    for t in probes:
        by_t.setdefault(int(t.config.get("threads") or 1), []).append(t.j_per_token)
    if len(by_t) < 2:
        return TransformVerdict("threads", "not-measured", "one thread count tried")
    best = {k: min(v) for k, v in by_t.items()}
    k = min(best, key=lambda x: best[x])
    text = ", ".join(f"{n} thread(s): {best[n] * 1e3:.2f} mJ/token" for n in sorted(best))
    return TransformVerdict("threads", f"{k} thread(s) best", f"lowest probe per thread count: {text}")


def optimize_generation(req: OptimizeRequest, **kw: Any) -> GenOptimizeResult:
    """Run one generation optimisation (``OptimizeRequest(task="text-generation")``)."""
    if req.task != "text-generation":
        raise OptimizeError(f"optimize_generation serves task text-generation, not {req.task!r}")
    return GenOptimizer(req, **kw).run()
