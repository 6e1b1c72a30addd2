"""Models a user brings: callables, local save_pretrained directories, ONNX files; and clear errors."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from wattlens.workloads import WorkloadError, get_task, load_workload


def test_callable_from_file(tmp_path):
    f = tmp_path / "mymodel.py"
    f.write_text(
        textwrap.dedent("""
        def predict(texts):
            return ["negative" if ("not" in t or "terrible" in t) else "positive" for t in texts]
        def bad(texts):
            return []
    """)
    )
    t = get_task("text-classification")
    w = load_workload(task="text-classification", model=f"{f}:predict")
    xs = t.inputs(20)
    out = w.run(xs)
    assert w.engine == "callable" and w.weights == "trained" and not w.generative
    assert 0.0 <= w.quality(xs, out) <= 1.0
    assert w.count_tokens(xs, out)[0] == sum(len(x["text"].split()) for x in xs)
    with pytest.raises(WorkloadError, match="returned 0 outputs"):
        load_workload(task="text-classification", model=f"{f}:bad").run(xs)
    with pytest.raises(WorkloadError, match="no attribute"):
        load_workload(task="text-classification", model=f"{f}:missing")


def test_callable_from_module_and_object(tmp_path, monkeypatch):
    (tmp_path / "userpkg_wl.py").write_text("def caption(images):\n    return [f'{i.shape[0]}px' for i in images]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    t = get_task("image-to-text")
    w = load_workload(task="image-to-text", model="userpkg_wl:caption")
    assert w.run(t.inputs(2)) == ["480px", "480px"]
    w2 = load_workload(task="sentence-similarity", model=lambda texts: [np.ones(4) for _ in texts])
    assert len(w2.run(get_task("sentence-similarity").inputs(3))) == 3
    with pytest.raises(WorkloadError, match="precision"):
        load_workload(task="image-to-text", model="userpkg_wl:caption", precision="bf16")


def test_local_save_pretrained_directory(tmp_path):
    from wattlens.workloads import minilm

    src = load_workload(task="text-generation", model="distilgpt2@tiny", new_tokens=3)
    src.model.save_pretrained(tmp_path / "gen")
    minilm.load_tokenizer().save_pretrained(tmp_path / "gen")
    w = load_workload(task="text-generation", model=str(tmp_path / "gen"), new_tokens=3)
    xs = get_task("text-generation").inputs(2)
    assert w.weights == "trained" and w.info["source"] == "local path" and w.params == src.params
    assert "own tokenizer" in w.info["tokenizer"]
    assert len(w.decode(w.prefill(xs))) == 2

    cls = load_workload(task="text-classification", model="distilbert-sst2@tiny")
    cls.model.save_pretrained(tmp_path / "cls")  # no tokenizer files: the stand-in is used and stated
    w = load_workload(task="text-classification", model=str(tmp_path / "cls"))
    xs = get_task("text-classification").inputs(4)
    assert "stand-in" in w.info["tokenizer"]
    assert w.quality(xs, w.run(xs)) is not None  # a user's model is scored


@pytest.mark.filterwarnings("ignore")
def test_onnx_files(tmp_path):
    import torch

    # a tiny text classifier exported by the user
    src = load_workload(task="text-classification", model="distilbert-sst2@tiny")
    ids = torch.tensor([[101, 2023, 2003, 102], [101, 2204, 102, 0]])
    mask = (ids != 0).long()
    path = tmp_path / "cls.onnx"
    torch.onnx.export(
        src.model,
        (ids, mask),
        str(path),
        input_names=["input_ids", "attention_mask"],
        output_names=["logits"],
        opset_version=17,
        dynamo=False,
        dynamic_axes={"input_ids": {0: "b", 1: "s"}, "attention_mask": {0: "b", 1: "s"}},
    )
    t = get_task("text-classification")
    xs = t.inputs(4)
    w = load_workload(task="text-classification", model=str(path), threads=1)
    out = w.run(xs)
    assert w.engine == "onnxruntime" and w.params > 1000
    ref = src.run(xs)
    assert [o["label"] for o in out] == [r["label"].lower() for r in ref]

    # wattlens' digits model exported to ONNX, then loaded as a plain file
    from wattlens.workloads.onnx_engine import export_digits

    digits = export_digits("digits-mlp", tmp_path / "digits.onnx")
    ti = get_task("image-classification")
    xi = ti.inputs(100)
    w = load_workload(task="image-classification", model=str(digits))
    assert w.quality(xi, w.run(xi)) >= 0.9
    with pytest.raises(WorkloadError, match="supports tasks"):
        load_workload(task="summarization", model=str(path))
    with pytest.raises(WorkloadError, match="not found"):
        load_workload(task="text-classification", model=str(tmp_path / "missing.onnx"))


@pytest.mark.slow
def test_minilm_on_onnxruntime_matches_pytorch():
    t = get_task("sentence-similarity")
    xs = t.inputs(8)
    pt = np.stack(load_workload(task="sentence-similarity", model="all-MiniLM-L6-v2").run(xs))
    ort = load_workload(task="sentence-similarity", model="all-MiniLM-L6-v2", engine="onnxruntime")
    assert ort.engine == "onnxruntime"
    assert float((np.stack(ort.run(xs)) * pt).sum(1).min()) > 0.9999


def test_clear_errors():
    with pytest.raises(WorkloadError) as e:
        load_workload(task="text-generation", model="distilgtp2")
    assert "no network" in str(e.value) and "distilgpt2" in str(e.value)
    with pytest.raises(WorkloadError, match=r"local path|local directory"):
        load_workload(task="fill-mask", model="someone/not-cached-model")
    with pytest.raises(WorkloadError, match="path not found"):
        load_workload(task="fill-mask", model="./no/such/model_dir")
    with pytest.raises(WorkloadError, match="minilm-sentiment"):
        load_workload(task="text-classification", model="all-MiniLM-L6-v2")
    with pytest.raises(WorkloadError) as e:
        load_workload(task="text-generation", model="distilgpt2@tiny", precision="int8")
    assert "fp32" in str(e.value) and "bf16" in str(e.value)
    with pytest.raises(WorkloadError, match="cannot serve task"):
        load_workload(task="image-classification", model="gpt2")
    with pytest.raises(WorkloadError, match="engine"):
        load_workload(task="text-generation", model="distilgpt2@tiny", engine="tensorrt")
    with pytest.raises(WorkloadError, match="onnxruntime"):
        load_workload(task="text-generation", model="distilgpt2@tiny", engine="onnxruntime")
    with pytest.raises(WorkloadError, match="unknown task"):
        load_workload(task="translation", model="distilgpt2")
    with pytest.raises(WorkloadError, match="batch"):
        load_workload(task="text-generation", model="distilgpt2@tiny", batch=0)
    with pytest.raises(WorkloadError, match="image-classification model"):
        load_workload(task="text-classification", model="digits-cnn")
    w = load_workload(task="fill-mask", model="distilbert-base-uncased@tiny")
    with pytest.raises(WorkloadError, match="empty batch"):
        w.run([])
