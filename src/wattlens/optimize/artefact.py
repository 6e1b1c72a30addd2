"""The recommended configuration as a reusable artefact directory.

Layout of ``ARTEFACT_DIR`` (written by ``wattlens optimize ... --out ARTEFACT_DIR``)::

    wattlens-optimize.json   the configuration (engine, precision, threads, batch, ...), the base model it was
                             derived from, pooling, measured J/query, quality and the run id
    model.onnx               ONNX Runtime engines: the optimised graph itself (e.g. int8 per-channel)
    tokenizer files          ``tokenizer.json`` etc., so the directory is self-contained for ORT engines

Use it from code::

    from wattlens.optimize.artefact import load_artefact
    model = load_artefact("ARTEFACT_DIR")       # or the model.onnx path inside it
    embeddings = model(["a sentence", "another"])   # same outputs as during the search
    model.config                                     # threads/batch/sort to serve it with

With plain onnxruntime: open ``model.onnx`` with ``intra_op_num_threads = config["threads"]`` and
``session.intra_op.allow_spinning`` as in the JSON, tokenize with the saved tokenizer, mean-pool
``last_hidden_state`` over the attention mask and L2-normalise when ``pooling.normalize`` is true.
Torch engines (fp32/bf16/int8 dynamic, pruning) store no weights: ``load_artefact`` re-applies the recorded
transforms to the base model (deterministic), which must be loadable where the artefact is used.
``wattlens bench --model ARTEFACT_DIR/model.onnx`` benchmarks the ONNX file directly.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from typing import Any, Protocol

from wattlens.optimize.models import Variant
from wattlens.optimize.results import Config, OptimizePoint, config_key

CONFIG_FILE = "wattlens-optimize.json"
FORMAT = "wattlens-optimize-artefact/1"


class _Variants(Protocol):
    def variant(self, spec: Config) -> Variant: ...


MEASURED_KEYS = ("j_per_query", "quality", "p50_ms", "p95_ms", "peak_rss_mb", "model_size_mb", "source")


def _measured(point: OptimizePoint, keys: tuple[str, ...] = MEASURED_KEYS) -> dict[str, object]:
    figures = point.to_dict()
    return {k: figures.get(k) for k in keys}


def save_artefact(
    variants: _Variants,
    config: Config,
    out_dir: str,
    *,
    run_id: str | None = None,
    measured: OptimizePoint | None = None,
    saving_factor: float | None = None,
) -> str:
    """Write the artefact for ``config`` (a full configuration) from built variants (a ``VariantBank``)."""
    from wattlens.optimize.space import variant_of

    os.makedirs(out_dir, exist_ok=True)
    spec = variant_of(dict(config))
    v = variants.variant(spec)
    base = v.base
    meta: dict[str, object] = {
        "format": FORMAT,
        "created_unix_s": time.time(),
        "task": base.task,
        "base_model": base.name,
        "base_model_path": base.path,
        "weights": base.weights,
        "config": config,
        "pooling": {"mean": base.task != "text-classification", "normalize": base.normalize},
        "max_length": 256,
        "model_file": None,
        "run_id": run_id,
        "variant_key": config_key(spec),
    }
    if measured is not None:
        meta["measured"] = _measured(measured)
        meta["saving_factor"] = saving_factor
    if v.onnx_path is not None:
        shutil.copyfile(v.onnx_path, os.path.join(out_dir, "model.onnx"))
        if os.path.exists(v.onnx_path + ".data"):
            shutil.copyfile(v.onnx_path + ".data", os.path.join(out_dir, "model.onnx.data"))
        meta["model_file"] = "model.onnx"
        meta["ort"] = {
            "intra_op_num_threads": config.get("threads"),
            "allow_spinning": config.get("wait") != "nospin",
            "execution_mode": "sequential",
        }
    try:
        base.tokenizer.save_pretrained(out_dir)
    except Exception as exc:  # the config alone is still useful
        meta["tokenizer_error"] = str(exc)
    with open(os.path.join(out_dir, CONFIG_FILE), "w") as f:
        json.dump(meta, f, indent=1, default=str)
    return os.path.abspath(out_dir)


class LoadedArtefact:
    """Callable ``model(texts) -> outputs`` with the artefact's configuration applied."""

    def __init__(self, path: str) -> None:
        d = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
        self.dir = d
        with open(os.path.join(d, CONFIG_FILE)) as f:
            self.meta = json.load(f)
        self.config = self.meta["config"]
        self._fn = self._load()

    def _load(self) -> Any:
        from wattlens.optimize import models as M
        from wattlens.optimize.space import variant_of

        cfg = self.config
        if self.meta.get("model_file"):
            from wattlens.optimize.transforms import ort_session
            from wattlens.workloads.hf import load_tokenizer

            tok = load_tokenizer(self.dir)
            base = M.Base(
                self.meta["base_model"],
                self.meta["task"],
                None,
                tok,
                self.dir,
                self.meta["weights"],
                self.meta["pooling"]["normalize"],
            )
            sess = ort_session(
                os.path.join(self.dir, self.meta["model_file"]),
                int(cfg.get("threads") or 1),
                cfg.get("wait") != "nospin",
            )
            return M._ort_fn(base, sess)
        if cfg.get("path") == M.ST_PATH:  # the library default call path (a baseline's deployment footprint)
            return M.st_fn(M.load_st(self.meta["base_model_path"]), int(cfg.get("threads") or 1))
        base = M.load_base(self.meta["base_model_path"] or self.meta["base_model"], self.meta["task"])
        v = M.build_variant(base, variant_of(cfg), M.scratch_dir())
        return M.make_fn(v, int(cfg.get("threads") or 1), cfg.get("wait", "default"))

    def __call__(self, texts: list[str]) -> Any:
        from wattlens.optimize.models import ordered_call

        return ordered_call(self._fn, list(texts), int(self.config.get("batch") or 1), bool(self.config.get("sort")))

    def run(self, batch_texts: list[str]) -> Any:
        """One query batch exactly as given (no re-batching): what a benchmark harness calls."""
        return self._fn(list(batch_texts))


def update_measured(path: str, rec: OptimizePoint, saving_factor: float | None) -> None:
    """The artefact JSON was written before the deployment re-charge: give it the final figures."""
    f = os.path.join(path, CONFIG_FILE)
    try:
        with open(f) as fh:
            meta = json.load(fh)
        meta["measured"] = _measured(rec, (*MEASURED_KEYS, "deploy_rss_mb", "j_per_query_search_process"))
        meta["saving_factor"] = saving_factor
        with open(f, "w") as fh:
            json.dump(meta, fh, indent=1, default=str)
    except Exception:  # the artefact stays usable with the pre-recharge figures
        pass


def load_artefact(path: str) -> LoadedArtefact:
    return LoadedArtefact(path)


def deploy_check(path: str, texts: list[str], timeout_s: float = 120.0) -> dict[str, object]:
    """Load the artefact in a *fresh* process and serve ``texts``: proves it is self-contained and gives the
    deployment footprint (peak RSS of a process holding only this model, load time)."""
    # VmHWM, not ru_maxrss: the latter is inherited from the (large) parent across fork+exec
    code = (
        "import json,sys,time;t=time.perf_counter();"
        "from wattlens.optimize.artefact import load_artefact;m=load_artefact(sys.argv[1]);"
        "l=time.perf_counter()-t;texts=json.loads(sys.stdin.read());out=m(texts);"
        "h=[int(x.split()[1]) for x in open('/proc/self/status') if x.startswith('VmHWM:')];"
        "print(json.dumps({'ok':True,'load_s':l,'n':len(out),'peak_rss_mb':h[0]/1024 if h else None}))"
    )
    try:
        p = subprocess.run(
            [sys.executable, "-c", code, path],
            input=json.dumps(texts),
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
        lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
        if p.returncode == 0 and lines:
            return json.loads(lines[-1])
        return {"ok": False, "error": (p.stderr or "")[-500:]}
    except Exception as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
