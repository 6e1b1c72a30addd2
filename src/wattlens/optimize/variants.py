"""The models of one optimisation: the unmodified bases, the built variants, and their measured quality.

A variant (prune -> precision/int8 -> engine) is built once and its outputs on the held-aside quality inputs are
compared with the unmodified model's (:mod:`wattlens.optimize.quality`); the result is cached per batching and
kept in the store as a ``variant:<key>`` cell, so a resumed run does not rebuild what it already judged.
:meth:`VariantBank.screen` gates every variant, fewest lossy transforms first: a lossy composition (pruning +
int8) is only built when each lossy part passed alone. Every configuration left out lands in :class:`Rejections`
with its numbers and its reason.

The model loader is passed in (``loader``), so a test or a caller can hand over any way of loading a base.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from wattlens.optimize import space as SP
from wattlens.optimize.models import ST_PATH, TF_PATH, Base, Variant
from wattlens.optimize.quality import compare, gate
from wattlens.optimize.request import OptimizeError, OptimizeRequest
from wattlens.optimize.results import Config, ConfigDict, QualityReport, Rejection, Trial, config_key

Say = Callable[[str], None]
FULL_DEFAULTS: ConfigDict = {
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


class ModelLoader(Protocol):
    def __call__(self, name: str, task: str, *, device: str = "cpu", gen_tokens: int = 8) -> Base: ...


def default_loader() -> ModelLoader:
    from wattlens.optimize.models import load_base

    return load_base


_UNCHANGED = {k: v for k, v in FULL_DEFAULTS.items() if k not in ("engine", "precision")}


def public_config(c: Config) -> ConfigDict:
    """The configuration without its 'nothing changed' entries (readable labels, stable JSON)."""
    return {k: v for k, v in c.items() if not (k in _UNCHANGED and v == _UNCHANGED[k])}


def full_config(cfg: Config) -> ConfigDict:
    """A configuration with every knob spelled out (what an artefact records)."""
    return {**FULL_DEFAULTS, **cfg}


class Rejections:
    """The configurations not recommended, each once per reason, with their numbers."""

    def __init__(self, say: Say | None = None) -> None:
        self.items: list[Rejection] = []
        self._say = say or (lambda msg: None)

    def add(self, config: Config, quality: QualityReport | None, why: str, trial: Trial | None = None) -> None:
        label = SP.describe(dict(config))
        entry = Rejection(
            config=public_config(config),
            label=label,
            why=why,
            quality=None if quality is None else quality.quality,
            quality_detail=quality,
            j_per_query=None if trial is None else trial.j_per_query,
            p50_ms=None if trial is None else trial.p50_ms,
            p95_ms=None if trial is None else trial.p95_ms,
            peak_rss_mb=None if trial is None else trial.peak_rss_mb,
        )
        if not any(r.label == label and r.why == why for r in self.items):
            self.items.append(entry)
        self._say(f"  rejected {label}: {why}")

    def has_label(self, label: str) -> bool:
        return any(r.label == label for r in self.items)


def _part(spec: Config, knob: str) -> tuple[str, str, str]:
    """Identity of one lossy part of a variant (a composition is built only if each part passed alone)."""
    if knob == "precision":
        return (str(spec["model"]), knob, f"{spec['engine']} {spec['precision']}/{spec.get('quant', 'none')}")
    return (str(spec["model"]), knob, str(spec[knob]))


class VariantBank:
    """Bases, variants and their quality for one request. ``save_quality(key, report)`` keeps each judged
    variant in the run's store (None: not stored); ``known_quality`` are those a resumed run already judged."""

    def __init__(
        self,
        req: OptimizeRequest,
        workdir: str,
        *,
        loader: ModelLoader | None = None,
        say: Say | None = None,
        save_quality: Callable[[str, QualityReport], None] | None = None,
        known_quality: dict[str, QualityReport] | None = None,
    ) -> None:
        self.req = req
        self.workdir = workdir
        self.loader = loader or default_loader()
        self.say = say or (lambda msg: None)
        self.save_quality = save_quality
        self.rejections = Rejections(self.say)
        self.bases: dict[str, Base] = {}
        self.variants: dict[str, Variant] = {}
        self.variant_errors: dict[str, str] = {}
        self.quality: dict[str, QualityReport] = dict(known_quality or {})
        self._refs: dict[tuple[int, bool], Any] = {}
        self._onnx_cache: dict[str, str] = {}
        self._st: Any = None
        self.build_cpu_s = 0.0
        self.q_texts: list[str] = []
        self.q_labels: list[Any] | None = None

    # -- inputs -------------------------------------------------------------------------------------
    def texts(self, n: int, seed: int) -> tuple[list[str], list[Any] | None]:
        """``n`` task inputs; the measurement set (seed) and the quality set (seed + 1) never overlap in use."""
        from wattlens.workloads import data

        task = self.req.task
        if task == "text-classification":
            rows = data.sentiment(n, seed=seed)
            return [r["text"] for r in rows], [r["label"] for r in rows]
        if task == "text-generation":
            return [r["text"] for r in data.prompts(n, seed=seed)], None
        return [r["text"] for r in data.paraphrase_groups(n, seed=seed)], None

    def hold_aside(self) -> None:
        """Draw the held-aside quality inputs (seed + 1): never the inputs trials are measured on."""
        self.q_texts, self.q_labels = self.texts(self.req.quality_inputs, seed=self.req.seed + 1)

    # -- models -------------------------------------------------------------------------------------
    def base(self, name: str) -> Base:
        if name not in self.bases:
            t0 = time.process_time()
            self.bases[name] = self.loader(name, self.req.task, device=self.req.device, gen_tokens=self.req.gen_tokens)
            self.build_cpu_s += time.process_time() - t0
        return self.bases[name]

    def base_spec(self, model: str | None = None) -> ConfigDict:
        return {
            "model": model or self.req.model,
            "engine": "torch",
            "precision": "fp32",
            "quant": "none",
            "prune": "none",
            "compile": False,
        }

    def variant(self, spec: Config) -> Variant:
        """Build (once) the variant for ``spec``; raises TransformError (cached) when it cannot be built."""
        from wattlens.optimize.models import build_variant
        from wattlens.optimize.transforms import TransformError

        key = config_key(spec)
        if key in self.variant_errors:
            raise TransformError(self.variant_errors[key])
        if key not in self.variants:
            try:
                v = build_variant(
                    self.base(str(spec["model"])),
                    dict(spec),
                    self.workdir,
                    onnx_cache=self._onnx_cache,
                    compile_backend=self.req.compile_backend,
                )
            except Exception as exc:  # any failure of a transform: record and skip, never end the search
                self.variant_errors[key] = f"{type(exc).__name__}: {exc}"
                raise TransformError(self.variant_errors[key]) from exc
            self.build_cpu_s += v.build_s
            self.variants[key] = v
        return self.variants[key]

    def built(self, spec: Config) -> Variant | None:
        return self.variants.get(config_key(spec))

    def baseline_path(self) -> str:
        """``sentence-transformers`` when the model is one and the library is importable (what its users call),
        else ``transformers`` (AutoModel + the same pooling by hand)."""
        from wattlens.optimize.models import st_available

        return ST_PATH if st_available(self.base(self.req.model)) else TF_PATH

    def st_fn(self, threads: int) -> Callable[[list[str]], Any]:
        """The library's own call path (``SentenceTransformer(path).encode``) at ``threads``."""
        from wattlens.optimize.models import load_st, st_fn

        if self._st is None:
            t0 = time.process_time()
            path = self.base(self.req.model).path
            if path is None:
                raise OptimizeError(f"{self.req.model!r} has no local directory for sentence-transformers")
            self._st = load_st(path)
            self.build_cpu_s += time.process_time() - t0
        return st_fn(self._st, threads)

    # -- quality ------------------------------------------------------------------------------------
    QUALITY_THREADS = 1  # outputs do not depend on threads; one thread costs the fewest CPU-seconds

    def quality_batch(self) -> tuple[int, bool]:
        return (1, False) if self.req.mode == "online" else (32, True)

    def _outputs(self, spec: Config, batch: int, sort: bool) -> Any:
        from wattlens.optimize.models import make_fn, ordered_call

        if spec.get("path") == ST_PATH:  # the library's own call path (baseline): its outputs, as served
            fn = self.st_fn(self.QUALITY_THREADS)
        else:
            fn = make_fn(self.variant(spec), self.QUALITY_THREADS)
        out = ordered_call(fn, self.q_texts, batch, sort)
        if self.req.task == "text-generation":
            return out
        import numpy as np

        return np.stack([np.asarray(o) for o in out])

    def reference(self, batch: int, sort: bool) -> Any:
        """The unmodified primary model's outputs on the held-aside quality inputs."""
        if (batch, sort) not in self._refs:
            self._refs[(batch, sort)] = self._outputs(self.base_spec(), batch, sort)
        return self._refs[(batch, sort)]

    def quality_of(self, spec: Config, batch: int, sort: bool) -> QualityReport:
        """Quality metrics of a variant at a batching policy (cached; stored as a ``variant:`` cell)."""
        key = config_key({**spec, "_b": batch, "_s": sort})
        if key not in self.quality:
            out = self._outputs(spec, batch, sort)
            ref = self.reference(batch, sort)
            if spec["model"] != self.req.model and self.req.task in ("sentence-similarity", "feature-extraction"):
                # different embedding spaces: compare the *similarity structure* (rank agreement of pairwise
                # similarities), not vectors
                from wattlens.workloads.metrics import similarity_spearman

                rho = similarity_spearman(ref, out, pairs=5000, seed=0)
                report = QualityReport(rho, "similarity_spearman", metrics={"similarity_spearman": rho})
            else:
                scores = compare(self.req.task, ref, out, self.q_labels)
                report = QualityReport(scores.pop("quality"), metrics=scores)
            self.quality[key] = report.at(batch, sort)
            if self.save_quality is not None:
                self.save_quality(key, self.quality[key])
        return self.quality[key]

    def gate(self, spec: Config) -> tuple[QualityReport, str]:
        """The variant's quality at the mode's batching, and why it fails the gate ("" when it passes)."""
        b, s = self.quality_batch()
        q = self.quality_of(spec, b, s)
        return q, gate(q.quality, self.req.min_quality)

    def screen(self, variants: Sequence[Config]) -> list[Config]:
        """Quality-gate every variant (fewest lossy transforms first); compositions whose parts failed alone are
        skipped with that reason. Returns the variants that passed."""
        passed: list[Config] = []
        failed_parts: dict[tuple[str, str, str], str] = {}
        for spec in sorted(variants, key=lambda v: len(SP.lossy_knobs(dict(v)))):
            lossy = SP.lossy_knobs(dict(spec))
            if len(lossy) > 1:
                why = "; ".join(failed_parts[p] for p in (_part(spec, k) for k in lossy) if p in failed_parts)
                if why:
                    self.rejections.add(spec, None, f"not built: a lossy part fails the gate alone ({why})")
                    continue
            try:
                q, why = self.gate(spec)
            except Exception as exc:  # transform error: record, skip
                self.rejections.add(spec, None, f"transform failed: {exc}")
                continue
            if why:
                self.rejections.add(spec, q, why)
                if len(lossy) == 1:
                    part = _part(spec, lossy[0])
                    failed_parts[part] = f"{part[2]}: {why}"
                continue
            passed.append(spec)
            self.say(f"  variant {SP.describe({**spec, 'threads': '-', 'batch': '-'})}: quality {q.quality:.4f} ok")
        return passed
