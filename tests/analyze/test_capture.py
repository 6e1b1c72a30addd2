"""Capture: decode integration exactness, unsupported-op listing, roles, bytes categories, training."""

from __future__ import annotations

import pytest
import torch

from tests.analyze.helpers import tiny_gpt2, tiny_llama
from wattlens.analyze import presets
from wattlens.analyze import roles as R
from wattlens.analyze.analysis import analyze
from wattlens.analyze.capture import FIELDS, sum_field
from wattlens.analyze.phases import trace_forward, trace_generate, trace_train


def _totals(recs):
    return {f: sum_field(recs, f) for f in FIELDS}


@pytest.mark.parametrize("kv", [4, 1])
def test_decode_affine_integration_is_exact(kv):
    w = presets.from_module(tiny_llama(kv=kv))
    fast = trace_generate(w, 2, 20, 24, include_prefill=False)[-1]
    full = trace_generate(w, 2, 20, 24, include_prefill=False, full_trace=True)[-1]
    assert fast.exact and len(fast.traced_contexts) == 3
    a, b = _totals(fast.records), _totals(full.records)
    for f in FIELDS:
        assert a[f] == pytest.approx(b[f], rel=1e-9, abs=1e-6), f
    assert a["hi_kv_cache"] > 0 and a["flops"] > 0


def test_decode_sliding_window_is_bisected_and_exact():
    # Mistral-style sliding window crossing inside the decoded range: per-step counts are not affine
    from transformers import MistralConfig, MistralForCausalLM

    cfg = MistralConfig(
        vocab_size=128,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        sliding_window=24,
        max_position_embeddings=256,
    )
    with torch.device("meta"):
        m = MistralForCausalLM(cfg)
    w = presets.from_module(m)
    fast = trace_generate(w, 1, 16, 20, include_prefill=False)[-1]
    full = trace_generate(w, 1, 16, 20, include_prefill=False, full_trace=True)[-1]
    a, b = _totals(fast.records), _totals(full.records)
    for f in FIELDS:
        assert a[f] == pytest.approx(b[f], rel=1e-9, abs=1e-6), f


def test_kv_bytes_per_step_match_formula():
    # decode at context c reads 2 (K,V) x layers x batch x kv_heads x (c+1) x head_dim x 2 bytes (bf16) in the
    # fused bound; eager DynamicCache cat also re-reads and re-writes the whole cache
    w = presets.from_module(tiny_llama(layers=2, hidden=64, heads=4, kv=2).to(torch.bfloat16))
    dec = trace_generate(w, 3, 10, 1, include_prefill=False)[-1]
    read = 2 * 2 * 3 * 2 * 11 * 16 * 2
    write = 2 * 2 * 3 * 2 * 1 * 16 * 2
    assert sum_field(dec.records, "lo_kv_cache") == pytest.approx(read + write)
    kv_roles = {r.role for r in dec.records if r.total("hi_kv_cache") > 0}
    assert kv_roles == {R.KV_CACHE}


class _Odd(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(16, 16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.lin(x)
        return torch.special.bessel_j0(y) + torch.cumsum(y, -1)


def test_unsupported_ops_are_listed_not_zero():
    a = analyze(_Odd(), "a100", phase="forward", levers=False, inputs=(torch.zeros(4, 16),))
    un = a.unsupported()
    names = [u.op for u in un]
    assert "special_bessel_j0" in names
    u = un[names.index("special_bessel_j0")]
    assert u.flops is None and u.calls == 1 and u.bytes_high > 0
    d = a.to_dict()
    assert d["unsupported_ops"] and d["unsupported_ops"][0]["flops"] is None


def test_roles_cover_the_table():
    # gpt2 decode: GEMM, KV-cache, embedding, elementwise; resnet: convolution
    a = analyze("gpt2", "a100", phase="generate", batch=1, prompt=16, new_tokens=4, levers=False)
    roles = {r["role"] for r in a.to_dict()["by_role"]}
    assert {R.GEMM, R.KV_CACHE, R.EMBEDDING, R.ELEMENTWISE, R.ATTENTION} <= roles
    for r in a.to_dict()["by_role"]:
        assert r["bound"] in ("compute", "memory", "overhead")
        assert r["energy_j"]["low"] <= r["energy_j"]["mid"] <= r["energy_j"]["high"]
    b = analyze("resnet-50", "a100", phase="forward", levers=False)
    conv = next(r for r in b.to_dict()["by_role"] if r["role"] == R.CONV)
    assert conv["bound"] == "compute"
    assert R.classify("all_reduce", "", False, False) == R.COLLECTIVE
    assert R.classify("_to_copy", "", False, True) == R.TRANSFER


def test_decode_is_memory_bound_prefill_compute_bound_on_h100():
    a = analyze("llama-2-7b", "h100", phase="decode", batch=1, prompt=64, new_tokens=2, levers=False)
    gemm = next(r for r in a.by_role() if r.role == R.GEMM)
    assert gemm.bound == "memory" and gemm.intensity < 2
    b = analyze("llama-2-7b", "h100", phase="prefill", seq=2048, levers=False)
    gemm = next(r for r in b.by_role() if r.role == R.GEMM)
    assert gemm.bound == "compute" and gemm.intensity > 300
    assert gemm.paced_by == "device"  # big GEMMs: the host issues them faster than the device runs them


def test_train_step_counts_backward_and_optimizer():
    w = presets.from_module(tiny_gpt2(layers=2, embd=64))
    fwd, _ = trace_forward(w, 2, 32)
    w2 = presets.from_module(tiny_gpt2(layers=2, embd=64))
    tr = trace_train(w2, 2, 32)
    ratio = sum_field(tr.records, "flops") / sum_field(fwd.records, "flops")
    assert 2.9 < ratio < 3.1  # forward + 2x backward
    assert sum_field(tr.records, "hi_optimizer") > 0 and sum_field(tr.records, "lo_optimizer") > 0
    phases = {r.module for r in tr.records}
    assert "backward" in phases and "optimizer" in phases
