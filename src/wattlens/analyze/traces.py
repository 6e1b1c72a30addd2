"""Where an analysis' op graph comes from: the trace cache first, the meta-device capture otherwise.

A :class:`ModelSource` names a model without building it (a preset, a ``config.json``, a ``file.py:builder`` or
an ``nn.Module``) plus config overrides (a lever's what-if: fewer KV heads, a shallower draft model). A
:class:`TraceRequest` names the phase and shapes. :func:`get_traces` returns the :class:`TraceSet` -- model
facts and phase traces with their shape fits -- from the cache when it holds one for the same model config,
dtype, phase, shapes, capture format and torch/transformers versions, and traces it (importing torch) otherwise.

The cache lives in the user cache dir (``$WATTLENS_CACHE_DIR`` or ``$XDG_CACHE_HOME/wattlens`` or
``~/.cache/wattlens``), one JSON file per trace under ``traces/``; deleting any of it is always safe (the next
analysis traces again). An ``nn.Module`` given in Python has no stable identity and is never cached.
Import-light: this module imports torch only when it has to trace.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from wattlens._logging import get_logger
from wattlens.analyze.graph import ModelInfo, PhaseTrace
from wattlens.analyze.profiles import cache_path

log = get_logger(__name__)

FORMAT = 5  # bump when the meaning of records, fits or notes changes: old cache entries are then ignored
PHASES = ("forward", "prefill", "decode", "generate", "train", "verify")


@dataclass(frozen=True)
class TraceRequest:
    """The phase and shapes to trace (``seq``: forward/prefill/train length; ``prompt``: the decode context)."""

    phase: str
    batch: int = 1
    seq: int = 512
    prompt: int = 512
    new_tokens: int = 128
    optimizer: str = "adamw"
    full_trace: bool = False
    verify_ctx: int = 0  # phase "verify": one decode step of verify_tokens tokens at context verify_ctx
    verify_tokens: int = 0
    fit_batch: bool = True  # fit the counts in the batch (2 more traced batches) for the batching lever and sweeps
    grid: tuple[int, ...] = ()  # a sweep's lengths: one trace whose fits cover every batch and these lengths

    def key(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        if self.phase in ("forward", "prefill", "train"):
            d.pop("prompt"), d.pop("new_tokens")
        if self.phase in ("decode", "generate", "verify"):
            d.pop("seq")
        if self.phase != "train":
            d.pop("optimizer")
        return d


@dataclass
class TraceSet:
    model: ModelInfo
    traces: list[PhaseTrace]
    capture_s: float = 0.0
    passes: int = 0  # forward passes traced
    dispatched: int = 0  # aten ops dispatched while tracing
    notes: list[str] = field(default_factory=list)
    cached: bool = False  # read from the cache (no tracing in this process)
    key: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "model": self.model.to_json(),
            "traces": [t.to_json() for t in self.traces],
            "capture_s": self.capture_s,
            "passes": self.passes,
            "dispatched": self.dispatched,
            "notes": self.notes,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> TraceSet:
        return cls(
            ModelInfo.from_json(d["model"]),
            [PhaseTrace.from_json(t) for t in d["traces"]],
            float(d.get("capture_s", 0.0)),
            int(d.get("passes", 0)),
            int(d.get("dispatched", 0)),
            list(d.get("notes", [])),
        )


class ModelSource:
    """A model named by the user, with config overrides, built (on meta, with torch) only when traced."""

    def __init__(self, spec: Any, dtype: str | None, overrides: tuple[tuple[str, Any], ...] = ()) -> None:
        self.spec = spec
        self.dtype = dtype
        self.overrides = overrides
        self._workload: Any = None
        self._identity: dict[str, Any] | bool | None = False  # False: not computed yet

    def derived(self, **overrides: Any) -> ModelSource:
        """The same model with config attributes changed (a what-if that changes the graph)."""
        merged = dict(self.overrides)
        merged.update(overrides)
        src = ModelSource(self.spec, self.dtype, tuple(sorted(merged.items())))
        if self._workload is not None:
            src._base = self._base_workload()  # reuse the built base model
        return src

    # -- identity (no torch)
    def identity(self) -> dict[str, Any] | None:
        if self._identity is False:
            self._identity = self._compute_identity()
        return self._identity  # type: ignore[return-value]

    def _compute_identity(self) -> dict[str, Any] | None:
        spec = self.spec
        if not isinstance(spec, str):
            return None  # a module object: no stable identity
        base: dict[str, Any]
        if ":" in spec and spec.split(":", 1)[0].endswith(".py"):
            path = Path(spec.split(":", 1)[0])
            try:
                base = {"builder": spec.split(":", 1)[1], "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
            except OSError:
                return None
        else:
            p = Path(spec)
            if p.suffix == ".json" or (p.is_dir() and (p / "config.json").exists()):
                f = p / "config.json" if p.is_dir() else p
                try:
                    base = {"config_json": json.loads(f.read_text())}
                except (OSError, ValueError):
                    return None
            else:
                from wattlens.workloads import architectures as A

                try:
                    arch = A.get_architecture(spec)
                except KeyError:
                    return None
                base = {
                    "preset": arch.name,
                    "config_class": arch.config_class,
                    "config": arch.config_kwargs,
                    "model_class": arch.model_class,
                    "extra": arch.extra,
                }
        return {**base, "dtype": self.dtype, "overrides": [list(o) for o in self.overrides]}

    # -- the model (torch)
    def _base_workload(self) -> Any:
        base = getattr(self, "_base", None)
        if base is None:
            from wattlens.analyze.presets import resolve

            base = resolve(self.spec, self.dtype)
            self._base = base
        return base

    def workload(self) -> Any:
        if self._workload is None:
            w = self._base_workload()
            if self.overrides:
                import copy

                from wattlens.analyze.presets import rebuild

                if w.config is None or isinstance(w.config, dict):
                    raise ValueError(f"{w.name}: no transformers config to change ({dict(self.overrides)})")
                cfg = copy.deepcopy(w.config)
                for k, v in self.overrides:
                    setattr(cfg, k, v)
                w = rebuild(w, cfg)
            self._workload = w
        return self._workload


def _versions() -> dict[str, str]:
    out = {}
    for pkg in ("torch", "transformers"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = ""
    return out


def trace_key(src: ModelSource, req: TraceRequest) -> str | None:
    ident = src.identity()
    if ident is None:
        return None
    blob = json.dumps(
        {"format": FORMAT, "model": ident, "request": req.key(), "versions": _versions()}, sort_keys=True, default=str
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def cache_dir() -> Path:
    return cache_path().parent / "traces"


def _load(key: str) -> TraceSet | None:
    path = cache_dir() / f"{key}.json"
    try:
        d = json.loads(path.read_text())
        if d.get("format") != FORMAT:
            return None
        ts = TraceSet.from_json(d)
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        if not isinstance(exc, FileNotFoundError):
            log.info("trace cache entry %s unreadable (%s): tracing again", path, exc)
        return None
    ts.cached, ts.key = True, key
    return ts


def _write(path: Path, data: dict[str, Any]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, separators=(",", ":")))
        tmp.replace(path)
    except OSError as exc:  # a read-only or full cache dir never fails an analysis
        log.info("trace cache not written (%s)", exc)


def _save(key: str, ts: TraceSet, src: ModelSource) -> None:
    _write(cache_dir() / f"{key}.json", ts.to_json())
    mkey = model_key(src)
    if mkey is not None:
        _write(cache_dir() / f"model-{mkey}.json", {"format": FORMAT, "model": ts.model.to_json()})


def model_key(src: ModelSource) -> str | None:
    ident = src.identity()
    if ident is None:
        return None
    blob = json.dumps({"format": FORMAT, "model": ident, "versions": _versions()}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def cached_model_info(src: ModelSource) -> ModelInfo | None:
    """The model facts of ``src`` from any earlier trace of it (no torch), or None."""
    mkey = model_key(src)
    if mkey is None:
        return None
    try:
        d = json.loads((cache_dir() / f"model-{mkey}.json").read_text())
        return ModelInfo.from_json(d["model"]) if d.get("format") == FORMAT else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def get_traces(src: ModelSource, req: TraceRequest, use_cache: bool = True) -> TraceSet:
    """The op graph of ``src`` for ``req``: cached, or traced now (and cached)."""
    if req.phase not in PHASES:
        raise ValueError(f"unknown phase {req.phase!r}; allowed: {', '.join(PHASES)}")
    key = trace_key(src, req) if use_cache else None
    if key is not None:
        hit = _load(key)
        if hit is not None:
            return hit
    ts = capture(src, req)
    if key is not None:
        ts.key = key
        _save(key, ts, src)
    return ts


def capture(src: ModelSource, req: TraceRequest) -> TraceSet:
    """Trace now (torch): the phases ``req`` names, with layer folding and shape fits where they hold."""
    from wattlens.analyze import phases as P
    from wattlens.analyze.presets import model_info

    w = src.workload()
    t0 = time.perf_counter()
    d = P.plan(w)
    if req.grid:
        traces = P.trace_grid(w, req.phase, list(req.grid), req.new_tokens, req.optimizer, depths=d)
    elif req.phase == "train":
        traces = [P.trace_train(w, req.batch, req.seq, req.optimizer)]
        d.passes, d.dispatched = 1, traces[0].ops_dispatched
    elif req.phase in ("forward", "prefill"):
        if req.phase == "prefill" and not w.generative:
            raise ValueError(f"{w.name} ({w.kind}) has no prefill phase; use --phase forward or train")
        traces = [P.trace_forward(w, req.batch, req.seq, phase=req.phase, depths=d, fit_batch=req.fit_batch)[0]]
    elif req.phase == "verify":
        recs = P.trace_verify_step(w, req.batch, req.prompt, req.verify_ctx, req.verify_tokens, depths=d)
        traces = [PhaseTrace("decode", recs, d.dispatched, 0.0, tokens=req.batch * req.verify_tokens)]
    else:
        traces = P.trace_generate(
            w,
            req.batch,
            req.prompt,
            req.new_tokens,
            include_prefill=req.phase == "generate",
            full_trace=req.full_trace,
            depths=d,
            fit_batch=req.fit_batch,
        )
    return TraceSet(model_info(w), traces, time.perf_counter() - t0, d.passes, d.dispatched)


__all__ = ["ModelSource", "TraceRequest", "TraceSet", "cache_dir", "cached_model_info", "get_traces", "trace_key"]
