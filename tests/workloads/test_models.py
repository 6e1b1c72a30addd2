"""Every task runs end to end on a tiny model; generation phases; random weights report no quality."""

from __future__ import annotations

import numpy as np
import pytest

from wattlens.workloads import (
    Generated,
    WorkloadError,
    available_models,
    get_task,
    load_workload,
)

TINY = [
    ("text-classification", "distilbert-sst2@tiny"),
    ("token-classification", "distilbert-ner@tiny"),
    ("question-answering", "distilbert-squad@tiny"),
    ("fill-mask", "distilbert-base-uncased@tiny"),
    ("text-generation", "distilgpt2@tiny"),
    ("summarization", "distilbart-cnn-12-6@tiny"),
    ("image-classification", "resnet-50@tiny"),
    ("image-classification", "vit-base-patch16-224@tiny"),
    ("object-detection", "yolos-tiny@tiny"),
    ("object-detection", "detr-resnet-50@tiny"),
    ("image-to-text", "git-base@tiny"),
    ("image-to-text", "blip-image-captioning-base@tiny"),
    ("sentence-similarity", "bert-base-uncased@tiny"),
]


@pytest.mark.parametrize(("task", "model"), TINY)
def test_tiny_random_models_run_end_to_end(task, model):
    t = get_task(task)
    w = load_workload(task=task, model=model, batch=2, threads=1)
    xs = t.inputs(2, seed=0)
    out = w.run(xs)
    assert len(out) == 2
    assert w.weights == "random" and w.quality(xs, out) is None
    assert w.task == task and w.model_id == model and w.info["task"] == task
    assert w.info["size"] == "tiny" and "@tiny" in w.info["description"]
    assert w.params > 1000 and w.engine == "pytorch" and w.precision == "fp32" and w.threads == 1
    assert "torch" in w.info["versions"] and "transformers" in w.info["versions"]
    n_in, n_out = w.count_tokens(xs, out)
    assert n_in >= (0 if t.modality == "image" else 2)
    if w.generative:
        assert n_out == 2 * t.generation["new_tokens"]
        assert all(isinstance(o, Generated) and len(o.token_ids) == t.generation["new_tokens"] for o in out)
    else:
        assert n_out == 0


@pytest.mark.parametrize(
    ("task", "model"),
    [
        ("text-generation", "gpt2@tiny"),
        ("summarization", "distilbart-cnn-12-6@tiny"),
        ("image-to-text", "blip-image-captioning-base@tiny"),
    ],
)
def test_prefill_decode_equal_run_and_are_deterministic(task, model):
    t = get_task(task)
    xs = t.inputs(2, seed=1)
    w = load_workload(task=task, model=model, new_tokens=3)
    state = w.prefill(xs)
    assert len(state.tokens) == 1  # prefill produces the first new token only
    phased = w.decode(state)
    assert [o.token_ids for o in phased] == [o.token_ids for o in w.run(xs)]
    assert all(len(o.token_ids) == 3 for o in phased)
    if task == "text-generation":
        again = load_workload(task=task, model=model, new_tokens=3)  # seeded init: same weights, same tokens
        assert [o.token_ids for o in again.run(xs)] == [o.token_ids for o in phased]
        with pytest.raises(WorkloadError):
            load_workload(task="fill-mask", model="distilbert-base-uncased@tiny").prefill(xs)


def test_batched_generation_matches_single_queries():
    """Left padding + explicit positions: a prompt generates the same tokens alone or in a batch."""
    t = get_task("text-generation")
    w = load_workload(task="text-generation", model="distilgpt2@tiny", new_tokens=3)
    xs = [t.inputs(1, seed=0)[0], {"text": "A much shorter prompt."}]
    batched = w.run(xs)
    assert [o.token_ids for o in batched] == [w.run([x])[0].token_ids for x in xs]


@pytest.mark.parametrize("impl", ["auto", "torch"])
def test_text_to_image_tiny(impl):
    """diffusers' UNet when installed ("auto"), and the plain-torch stand-in used without diffusers."""
    t = get_task("text-to-image")
    w = load_workload(task="text-to-image", model="tiny-sd-unet", steps=1, unet_impl=impl)
    xs = t.inputs(1)
    (img,) = w.run(xs)
    assert img.shape == (64, 64, 3) and img.dtype == np.uint8
    assert w.info["steps"] == 1 and w.unit == "image" and not w.generative
    assert w.quality(xs, [img]) is None and w.count_tokens(xs, [img])[0] > 0
    if impl == "torch":
        assert w.info["unet_impl"] == "torch"
        assert w.info["params_by_part"]["unet"] == 1_427_012  # diffusers' count, parameter for parameter


def test_plain_torch_unet_matches_sd15_size():
    import torch

    from wattlens.workloads.architectures import ARCHITECTURES
    from wattlens.workloads.unet_torch import UNet2DCondition

    with torch.device("meta"):
        n = sum(p.numel() for p in UNet2DCondition(**ARCHITECTURES["sd-1.5-unet"].config_kwargs).parameters())
    assert n == 859_520_964  # diffusers' UNet2DConditionModel for SD 1.5, parameter for parameter


def test_unet_fallback_matches_diffusers_when_installed():
    diffusers = pytest.importorskip("diffusers")
    import torch

    from wattlens.workloads.architectures import get_architecture
    from wattlens.workloads.unet_torch import UNet2DCondition

    kw = get_architecture("tiny-sd-unet").config_kwargs
    torch.manual_seed(0)
    ref = diffusers.UNet2DConditionModel(**kw).eval()
    ours = UNet2DCondition(**kw).eval()
    ours.load_state_dict(ref.state_dict())  # same parameter names and shapes
    x = (torch.randn(1, 4, 32, 32), torch.tensor([10]), torch.randn(1, 77, 32))
    with torch.no_grad():
        assert torch.allclose(ours(*x), ref(*x).sample, atol=1e-5)


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_reduced_precision(precision):
    w = load_workload(task="text-generation", model="distilgpt2@tiny", precision=precision, new_tokens=2)
    assert w.precision == precision and w.info["precision"] == precision
    assert str(next(w.model.parameters()).dtype).endswith({"bf16": "bfloat16", "fp16": "float16"}[precision])
    assert len(w.run(get_task("text-generation").inputs(1))) == 1


def test_catalogue_lists_models_with_weights_labels():
    for name in ("text-classification", "image-classification", "sentence-similarity", "text-generation"):
        models = available_models(name)
        assert models and all(m.weights in ("trained", "random") for m in models)
        assert all(m.size in ("tiny", "small", "paper") for m in models)
    assert {m.name: m.weights for m in available_models("image-classification")}["digits-cnn"] == "trained"
    assert {m.name: m.size for m in available_models("text-generation")}["gpt2@tiny"] == "tiny"


def test_php_sizes_are_the_published_architectures():
    """Paper-size presets are built at full size (checked on the meta device: no memory, no time)."""
    import torch

    from wattlens.workloads.architectures import get_architecture
    from wattlens.workloads.hf import build_random

    arch = get_architecture("distilgpt2")
    with torch.device("meta"):
        loaded = build_random(arch, get_task("text-generation"))
    n = sum(p.numel() for p in loaded.model.parameters())
    assert abs(n - arch.params_approx) / arch.params_approx < 0.02
