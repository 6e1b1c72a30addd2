"""Each model transform on a tiny BERT: outputs stay within the transform's stated tolerance."""

from __future__ import annotations

import copy
import os

import numpy as np
import pytest

from wattlens.optimize import transforms as T
from wattlens.optimize.models import build_variant, make_fn
from wattlens.optimize.quality import embedding_quality


def _emb(base, spec, texts, tmp_path, threads=1):
    v = build_variant(base, spec, str(tmp_path))
    return v, make_fn(v, threads)(texts)


SPEC = {"model": "tiny", "engine": "torch", "precision": "fp32", "quant": "none", "prune": "none", "compile": False}


@pytest.fixture(scope="module")
def ref(tiny_base, texts, tmp_path_factory):
    return _emb(tiny_base, SPEC, texts, tmp_path_factory.mktemp("ref"))[1]


def test_fp32_torch_is_the_unmodified_model(tiny_base, texts, ref, tmp_path) -> None:
    v, out = _emb(tiny_base, SPEC, texts, tmp_path)
    assert v.module is tiny_base.module  # no copy, no change
    np.testing.assert_allclose(out, ref, atol=1e-6)
    assert np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)  # Normalize module honoured


def test_bf16_within_tolerance(tiny_base, texts, ref, tmp_path) -> None:
    _, out = _emb(tiny_base, {**SPEC, "precision": "bf16"}, texts, tmp_path)
    assert embedding_quality(ref, out)["cosine_mean"] >= 0.99
    assert next(tiny_base.module.parameters()).dtype.is_floating_point  # base untouched (copy)
    assert str(next(tiny_base.module.parameters()).dtype) == "torch.float32"


@pytest.mark.parametrize("scheme", ["per-tensor", "per-channel"])
def test_torch_dynamic_int8(tiny_base, texts, ref, tmp_path, scheme) -> None:
    v, out = _emb(tiny_base, {**SPEC, "precision": "int8", "quant": scheme}, texts, tmp_path)
    assert embedding_quality(ref, out)["cosine_mean"] >= 0.95
    assert "quantized" in type(v.module.encoder.layer[0].intermediate.dense).__module__


def test_onnx_export_fp32_matches(tiny_base, texts, ref, tmp_path) -> None:
    v, out = _emb(tiny_base, {**SPEC, "engine": "onnxruntime"}, texts, tmp_path)
    assert v.onnx_path and os.path.exists(v.onnx_path)
    np.testing.assert_allclose(out, ref, atol=1e-4)


@pytest.mark.parametrize("scheme", ["per-tensor", "per-channel"])
def test_ort_int8(tiny_base, texts, ref, tmp_path, scheme) -> None:
    v, out = _emb(tiny_base, {**SPEC, "engine": "onnxruntime", "precision": "int8", "quant": scheme}, texts, tmp_path)
    assert embedding_quality(ref, out)["cosine_mean"] >= 0.95
    assert v.size_mb < 0.5 * T.module_size_mb(tiny_base.module)  # int8 weights really are smaller


def test_ort_threads_and_spin_sessions(tiny_base, texts, ref, tmp_path, monkeypatch) -> None:
    """One ORT session per (threads, spin) setting, opened with those settings, and reused by a later call."""
    opened = []
    real = T.ort_session

    def recording(path, threads, spin=True, device="cpu"):
        sess = real(path, threads, spin, device)
        opened.append((threads, spin, sess))
        return sess

    monkeypatch.setattr(T, "ort_session", recording)
    v = build_variant(tiny_base, {**SPEC, "engine": "onnxruntime"}, str(tmp_path))
    a = make_fn(v, 1, "default")(texts)
    b = make_fn(v, 2, "nospin")(texts)
    again = make_fn(v, 1, "default")(texts)  # the same setting: its session again, not a new one
    np.testing.assert_allclose(a, b, atol=1e-5)
    np.testing.assert_allclose(again, a, atol=1e-6)
    assert [(threads, spin) for threads, spin, _ in opened] == [(1, True), (2, False)]
    for threads, spin, sess in opened:
        opts = sess.get_session_options()
        assert opts.intra_op_num_threads == threads
        assert opts.get_session_config_entry("session.intra_op.allow_spinning") == ("1" if spin else "0")


def test_structured_prune_removes_work(tiny_base, texts, ref, tmp_path) -> None:
    v, out = _emb(tiny_base, {**SPEC, "prune": "struct-25"}, texts, tmp_path)
    layer = v.module.encoder.layer[0]
    assert layer.attention.self.query.out_features == 24  # 4 heads of 8 -> 3 heads
    assert layer.intermediate.dense.out_features == 48  # 64 -> 48 FFN units
    assert T.module_size_mb(v.module) < T.module_size_mb(tiny_base.module)
    assert out.shape == ref.shape and np.isfinite(out).all()


def test_mask_prune_keeps_shapes_and_work(tiny_base, texts, tmp_path) -> None:
    v, _ = _emb(tiny_base, {**SPEC, "prune": "mask-50"}, texts, tmp_path)
    lin = v.module.encoder.layer[0].intermediate.dense
    assert lin.weight.shape == tiny_base.module.encoder.layer[0].intermediate.dense.weight.shape
    assert abs(float((lin.weight == 0).float().mean()) - 0.5) < 0.02
    assert hasattr(lin, "weight_mask")  # mask-only: the hook is still there, no work removed


@pytest.mark.slow
def test_compile_matches(tiny_base, texts, ref, tmp_path) -> None:
    # the 'eager' backend exercises torch.compile's capture path without a C++ toolchain run (test speed)
    v = build_variant(tiny_base, {**SPEC, "compile": True}, str(tmp_path), compile_backend="eager")
    out = make_fn(v, 1)(texts[:4])
    np.testing.assert_allclose(out, ref[:4], atol=1e-5)


def test_transform_errors_are_typed(tiny_base, tmp_path) -> None:
    import torch

    with pytest.raises(T.TransformError):
        T.structured_prune(torch.nn.Sequential(torch.nn.Linear(4, 4)))
    with pytest.raises(T.TransformError):
        T.cast(copy.deepcopy(tiny_base.module), "fp8")

    class Bad(torch.nn.Module):
        def forward(self, input_ids):
            return torch.fft.fft(input_ids.float())  # complex output: not exportable to ONNX

    with pytest.raises(T.TransformError):
        T.export_onnx(
            Bad(), {"input_ids": torch.ones(1, 3, dtype=torch.long)}, str(tmp_path / "bad.onnx"), output="real"
        )


@pytest.mark.usefixtures("one_torch_thread")
def test_default_threads_survive_trials() -> None:
    """Trials change torch's global thread count; the baseline's 'default threads' must not follow them."""
    import torch

    from wattlens.optimize.models import default_threads
    from wattlens.optimize.space import probe_context

    d = default_threads()
    try:
        torch.set_num_threads(1)
        assert probe_context("sentence-similarity", "offline").default_threads == d
    finally:
        torch.set_num_threads(d)
