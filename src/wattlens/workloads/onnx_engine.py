"""ONNX Runtime workloads: a user's ``.onnx`` file, or wattlens' own MiniLM / digits models exported to ONNX.

Supported tasks: text-classification, token-classification (MiniLM head), sentence-similarity and
image-classification. Inputs are fed by name: text models get ``input_ids`` / ``attention_mask`` /
``token_type_ids`` (int64, whichever the graph declares); image models get their first input at the
graph's declared size (dynamic sizes -> 224). The first output is read as
* rank 3 (batch, tokens, hidden): token states -> mean pooling + L2 norm (sentence similarity) or the
  wattlens head of ``minilm-sentiment`` / ``minilm-ner``;
* rank 2 (batch, n): logits (classification: argmax) or embeddings (sentence similarity: L2 norm).
The ONNX session runs the file's own precision (int8 files stay int8): ``precision`` must be fp32.

Device: ``cpu`` -> CPUExecutionProvider; ``cuda`` / ``cuda:N`` -> CUDAExecutionProvider (needs the
``onnxruntime-gpu`` build, else a WorkloadError says so; a session that silently fell back to the CPU is
refused too); ``auto`` -> CUDA when that provider is available, else cpu; ``mps`` -> WorkloadError.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import data, minilm
from ._runtime import cache_dir, recipe_key
from .base import Workload
from .errors import WorkloadError
from .hf import MIN_VOCAB
from .tasks import Task

ONNX_TASKS = ("text-classification", "token-classification", "sentence-similarity", "image-classification")
OPSET = 17


def onnx_session(
    path: str, threads: int | None = None, providers: list[Any] | None = None, *, spin: bool = True
) -> Any:
    """An ONNX Runtime session for ``path``: ``threads`` intra-op threads (None: ORT's default), one inter-op
    thread, sequential execution, spinning on/off; the first of ``providers`` must really start (no silent
    fallback to the CPU). The one way wattlens opens ONNX models (bench engines, optimize variants, artefacts);
    raises :class:`WorkloadError` with the reason."""
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise WorkloadError("ONNX models need onnxruntime (pip install onnxruntime)") from exc
    opts = ort.SessionOptions()
    if threads is not None:
        opts.intra_op_num_threads = int(threads)
        opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    opts.log_severity_level = 3  # errors only: ORT's warnings go to its own stderr logger
    providers = providers or ["CPUExecutionProvider"]
    try:
        session = ort.InferenceSession(path, sess_options=opts, providers=providers)
    except Exception as exc:
        raise WorkloadError(f"onnxruntime could not load {path!r}: {exc}") from exc
    wanted = [p if isinstance(p, str) else p[0] for p in providers]
    if wanted[0] not in session.get_providers():  # e.g. CUDA libraries missing: ORT falls back to the CPU
        raise WorkloadError(
            f"onnxruntime could not start {wanted[0]} for {path!r} (session providers: "
            f"{', '.join(session.get_providers())}); check the CUDA/cuDNN libraries of "
            "onnxruntime-gpu, or use device='cpu'"
        )
    return session


def _weight_types(path: str) -> dict[str, int]:
    """Count of weight tensors per data type (shows whether a file is int8-quantised)."""
    try:
        import onnx

        model = onnx.load(path, load_external_data=False)
        counts: dict[str, int] = {}
        for init in model.graph.initializer:
            name = onnx.TensorProto.DataType.Name(init.data_type).lower()
            counts[name] = counts.get(name, 0) + 1
        return counts
    except Exception:  # informative only
        return {}


# ---------------------------------------------------------------------------------------------------------
# Export of wattlens' own models (cached like trained weights)
# ---------------------------------------------------------------------------------------------------------
def export_minilm(path: Path | None = None) -> Path:
    """all-MiniLM-L6-v2's encoder as ONNX (eager attention, opset 17, dynamic batch/sequence), cached."""
    import torch

    key = recipe_key({"what": "minilm-encoder", "opset": OPSET, "torch": torch.__version__})
    path = path or cache_dir() / f"all-MiniLM-L6-v2-encoder-{key}.onnx"
    if path.exists():
        return path
    enc = minilm.load_encoder()
    # eager attention exports a graph ORT's BERT fuser recognises (optimization-anchors.md Appendix B)
    enc.set_attn_implementation("eager")

    class Wrap(torch.nn.Module):
        def __init__(self, m: Any):
            super().__init__()
            self.m = m

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.m(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    tok = minilm.load_tokenizer()
    sample = tok(
        ["a short example sentence", "another one that is a little longer than the first"],
        padding=True,
        return_tensors="pt",
    )
    names = ["input_ids", "attention_mask", "token_type_ids"]
    export_onnx(
        Wrap(enc).eval(),
        tuple(sample[n] for n in names),
        path,
        names,
        "last_hidden_state",
        {n: {0: "batch", 1: "seq"} for n in [*names, "last_hidden_state"]},
    )
    return path


def export_digits(name: str, path: Path | None = None) -> Path:
    import torch

    from .tasks import get_task
    from .trained import DIGITS_RECIPES, DigitsClassifier

    key = recipe_key({"what": name, "recipe": DIGITS_RECIPES[name], "opset": OPSET, "torch": torch.__version__})
    path = path or cache_dir() / f"{name}-{key}.onnx"
    if path.exists():
        return path
    w = DigitsClassifier(get_task("image-classification"), name, "fp32", None, 1)
    export_onnx(
        w.model,
        (torch.zeros(2, 1, 8, 8),),
        path,
        ["pixel_values"],
        "logits",
        {"pixel_values": {0: "batch"}, "logits": {0: "batch"}},
    )
    return path


def export_onnx(
    module: Any,
    args: tuple[Any, ...],
    path: Path,
    inputs: list[str],
    output: str | list[str],
    axes: dict[str, dict[int, str]],
    opset: int = OPSET,
) -> Path:
    """TorchScript-based ``torch.onnx.export`` of ``module(*args)`` with the given dynamic axes. The one ONNX
    export of wattlens; raises the exporter's own error (callers say what failed in their terms).

    Written atomically: exported into a fresh directory beside ``path`` under its final name, then moved into
    place, so a killed export never leaves a half-written (cached) model and the graph's references to its
    external-data files (models over 2 GB) keep their names."""
    import shutil
    import tempfile
    import warnings

    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".onnx-export-", dir=path.parent))
    try:
        with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer warnings about data-dependent branches are expected here
            torch.onnx.export(
                module,
                args,
                str(staging / path.name),
                input_names=inputs,
                output_names=[output] if isinstance(output, str) else list(output),
                dynamic_axes=axes,
                opset_version=opset,
                dynamo=False,
            )
        for f in sorted(staging.iterdir(), key=lambda p: p.name == path.name):  # the graph last
            f.replace(path.parent / f.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path


# ---------------------------------------------------------------------------------------------------------
# Workloads
# ---------------------------------------------------------------------------------------------------------
class OnnxWorkload(Workload):
    def __init__(
        self,
        task: Task,
        model_id: str,
        path: str,
        weights: str,
        threads: int | None,
        batch: int,
        info: dict[str, Any],
        head: dict[str, Any] | None = None,
        tokenizer: Any = None,
        device: str = "cpu",
        providers: list[Any] | None = None,
    ):
        self.session = onnx_session(path, threads, providers)
        self.inputs_meta = {i.name: i for i in self.session.get_inputs()}
        self.head = head
        self.tokenizer = tokenizer
        params = self._count_params(path)
        super().__init__(
            task,
            model_id,
            weights,
            "onnxruntime",
            "fp32",
            threads,
            params,
            batch,
            {
                "onnx_path": path,
                "onnx_inputs": {n: list(i.shape) for n, i in self.inputs_meta.items()},
                "onnx_weight_types": _weight_types(path),
                "precision_note": "the file's own weight types",
                "onnx_providers": list(self.session.get_providers()),
                "device_kind": "gpu" if device != "cpu" else "cpu",
                **info,
            },
            device=device,
        )

    def synchronize(self) -> None:
        """``session.run`` returns host arrays: the work is finished when it returns."""

    @staticmethod
    def _count_params(path: str) -> int | None:
        try:
            import numpy as np
            import onnx

            model = onnx.load(path, load_external_data=False)
            return int(sum(int(np.prod(i.dims)) for i in model.graph.initializer))
        except Exception:
            return None

    # -- text ----------------------------------------------------------------------------------------
    def _feed_text(self, enc: Any) -> dict[str, Any]:
        import numpy as np

        feed = {}
        for name in self.inputs_meta:
            if name in enc:
                feed[name] = np.asarray(enc[name], dtype=np.int64)
            elif name == "token_type_ids":
                feed[name] = np.zeros_like(np.asarray(enc["input_ids"]), dtype=np.int64)
            else:
                raise WorkloadError(
                    f"ONNX input {name!r} is not one a text model gets (input_ids, attention_mask, token_type_ids)"
                )
        return feed

    def _text_run(self, texts: list[str]) -> tuple[Any, Any]:
        enc = self.tokenizer(texts, padding=True, truncation=True, max_length=minilm.MAX_LENGTH, return_tensors="np")
        return self.session.run(None, self._feed_text(enc))[0], enc

    def _run(self, batch: list[Any]) -> list[Any]:
        import numpy as np

        name = self.task_def.name
        if name == "image-classification":
            return self._run_image(batch)
        if name == "token-classification":
            return self._run_tokens(batch)
        out, enc = self._text_run([str(self.task_def.model_input(x)) for x in batch])
        if out.ndim == 3:
            mask = np.asarray(enc["attention_mask"], dtype=np.float32)[..., None]
            out = (out * mask).sum(1) / np.maximum(mask.sum(1), 1e-9)
            out = out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
            if name == "sentence-similarity":
                return list(out.astype(np.float32))
            if self.head is None:
                raise WorkloadError(
                    "this ONNX file returns token states; text-classification needs logits "
                    "(batch, classes) or model='minilm-sentiment' with onnx_path="
                )
            out = out @ self.head["weight"].T + self.head["bias"]
        if name == "sentence-similarity":
            return list((out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)).astype(np.float32))
        probs = np.exp(out - out.max(1, keepdims=True))
        probs /= probs.sum(1, keepdims=True)
        names = list(self.task_def.labels) if probs.shape[1] == len(self.task_def.labels) else None
        return [
            {"label": names[int(i)] if names else int(i), "score": float(p[i])}
            for p, i in zip(probs, probs.argmax(1), strict=True)
        ]

    def _run_tokens(self, batch: list[Any]) -> list[Any]:
        import torch

        from .trained import _first_positions, with_context

        if self.head is None:
            raise WorkloadError("token-classification on ONNX runs model='minilm-ner' (token states + wattlens head)")
        words = [str(self.task_def.model_input(x)).split() for x in batch]
        enc = self.tokenizer(
            words,
            is_split_into_words=True,
            padding=True,
            truncation=True,
            max_length=minilm.MAX_LENGTH,
            return_tensors="np",
        )
        hidden = self.session.run(None, self._feed_text(enc))[0]
        out = []
        for j, w in enumerate(words):
            feats = with_context(torch.from_numpy(hidden[j, _first_positions(enc.word_ids(j), len(w))])).numpy()
            pred = (feats @ self.head["weight"].T + self.head["bias"]).argmax(-1)
            out.append([data.NER_TAGS[int(p)] for p in pred])
        return out

    # -- images --------------------------------------------------------------------------------------
    def _run_image(self, batch: list[Any]) -> list[Any]:
        import numpy as np

        from .hf import pixel_batch

        name, meta = next(iter(self.inputs_meta.items()))
        shape = list(meta.shape)
        channels = shape[1] if len(shape) == 4 and isinstance(shape[1], int) else 3
        size = shape[2] if len(shape) == 4 and isinstance(shape[2], int) else 224
        images = [np.asarray(self.task_def.model_input(x)) for x in batch]
        if channels == 1 and all(i.ndim == 2 and i.shape == (size, size) for i in images):
            x = np.stack(images).astype(np.float32)[:, None]  # the digits models' raw 8x8 input
        else:
            import torch

            x = pixel_batch(images, size, torch.float32).numpy()
            if channels == 1:
                x = x.mean(1, keepdims=True)
        logits = self.session.run(None, {name: x})[0]
        probs = np.exp(logits - logits.max(1, keepdims=True))
        probs /= probs.sum(1, keepdims=True)
        return [{"label": int(i), "score": float(p[i])} for p, i in zip(probs, probs.argmax(1), strict=True)]

    def _input_tokens(self, item: Any) -> int:
        if self.tokenizer is None or self.task_def.modality != "text":
            return 0
        return len(
            self.tokenizer(str(self.task_def.model_input(item)), truncation=True, max_length=minilm.MAX_LENGTH)[
                "input_ids"
            ]
        )


def _tokenizer_for(path: Path, options: dict[str, Any]) -> tuple[Any, str]:
    from transformers import AutoTokenizer

    where = options.get("tokenizer")
    for cand in ([where] if where else []) + [path.parent]:
        try:
            tok = AutoTokenizer.from_pretrained(str(cand), local_files_only=True)
            if len(tok) < MIN_VOCAB:  # transformers 5 builds an empty tokenizer where no vocab files exist
                raise ValueError(f"no vocabulary at {cand}")
            return tok, f"from {cand}"
        except (OSError, ValueError, TypeError):
            if cand == where:
                raise WorkloadError(f"no tokenizer could be loaded from {where!r}") from None
    return minilm.load_tokenizer(), "stand-in: all-MiniLM-L6-v2's (no tokenizer files next to the ONNX file)"


def load_onnx(
    task: Task,
    kind: str,
    payload: Any,
    precision: str,
    threads: int | None,
    batch: int,
    options: dict[str, Any],
    device: str = "cpu",
) -> Workload:
    from .device import onnx_providers, parse_device

    if task.name not in ONNX_TASKS:
        raise WorkloadError(
            f"the onnxruntime engine supports tasks {', '.join(ONNX_TASKS)}; not {task.name!r} "
            "(use the pytorch engine or a 'module:function' callable)"
        )
    if precision != "fp32":
        raise WorkloadError(
            f"precision {precision!r} does not apply to an ONNX session (it runs the file's own "
            "weight types); pass precision='fp32' and quantise the file instead"
        )
    requested = parse_device(device)
    resolved, providers = onnx_providers(requested)  # before exporting/loading: an unavailable device fails fast
    dev: dict[str, Any] = {"device": resolved, "providers": providers}
    head = None
    if kind == "onnx":
        path = Path(payload).expanduser()
        if not path.exists():
            raise WorkloadError(f"ONNX file not found: {str(path)!r}")
        tok, note = _tokenizer_for(path, options) if task.modality == "text" else (None, None)
        return OnnxWorkload(
            task,
            str(path),
            str(path),
            "trained",
            threads,
            batch,
            {
                "source": "user ONNX file",
                "tokenizer": note,
                "size": "user",
                "weights_note": "user-supplied weights, assumed trained (quality is computed)",
            },
            tokenizer=tok,
            **dev,
        )
    if kind == "digits":
        path = Path(options.get("onnx_path") or export_digits(payload))
        from .trained import DIGITS_RECIPES, _cached, _train_digits

        _, meta = _cached(payload, DIGITS_RECIPES[payload], lambda: _train_digits(DIGITS_RECIPES[payload]))
        return OnnxWorkload(
            task,
            payload,
            str(path),
            "trained",
            threads,
            batch,
            {"source": "wattlens-trained model exported to ONNX", "training": meta, "size": "small"},
            **dev,
        )
    path = Path(options.get("onnx_path") or export_minilm())
    info: dict[str, Any] = {
        "source": "all-MiniLM-L6-v2 encoder exported to ONNX (opset 17)",
        "size": "small",
        "tokenizer": "all-MiniLM-L6-v2 (its own)",
    }
    if kind == "minilm-head":
        from .trained import MiniLMNer, MiniLMSentiment, _cached

        cls = MiniLMSentiment if payload == "minilm-sentiment" else MiniLMNer
        tok = minilm.load_tokenizer()
        helper = cls.__new__(cls)
        helper.tokenizer = tok
        state, meta = _cached(cls.name, helper._recipe(), lambda: helper._train(minilm.load_encoder()))
        head = {k: v.numpy() for k, v in state.items()}
        info.update(training=meta, description=cls.head_desc)
    return OnnxWorkload(
        task,
        str(payload),
        str(path),
        "trained",
        threads,
        batch,
        info,
        head=head,
        tokenizer=minilm.load_tokenizer(),
        **dev,
    )
