"""Tensor parallelism as an op-graph rewrite: sharded work, all-reduces on the interconnect (collective role)."""

from __future__ import annotations

import pytest
import torch

from tests.analyze.helpers import tiny_llama
from wattlens.analyze import presets
from wattlens.analyze.analysis import analyze


def _w():
    return presets.from_module(tiny_llama(layers=4, hidden=1024, heads=16, kv=4, vocab=4096).to(torch.bfloat16))


def test_tensor_parallel_adds_allreduces_and_shards_work():
    one = analyze(_w(), "h100", phase="prefill", batch=4, seq=512, levers=False)
    two = analyze(_w(), "h100", phase="prefill", batch=4, seq=512, levers=False, tensor_parallel=2)
    d1, d2 = one.to_dict(), two.to_dict()
    coll = next(r for r in d2["by_role"] if r["role"] == "collective")
    # 2 all-reduces per layer (attention o_proj, MLP down_proj) of the [4 x 512 x 1024] bf16 output;
    # ring all-reduce sends 2(n-1)/n of it per device, over 2 devices
    s = 4 * 512 * 1024 * 2
    assert coll["link_bytes"] == pytest.approx(4 * 2 * (2 * 1 / 2) * s * 2)
    assert d2["tensor_parallel"] == 2 and d2["link_bytes"] == pytest.approx(coll["link_bytes"])
    # the group does the same GEMM work; each device does half of it, so one device's time falls
    g1 = next(r for r in d1["by_role"] if r["role"] == "dense_gemm")
    g2 = next(r for r in d2["by_role"] if r["role"] == "dense_gemm")
    assert g2["flops"] == pytest.approx(g1["flops"])
    # (smaller per-device GEMMs run at a lower efficiency: between half and all of the 1-device time)
    assert g1["time_s"]["mid"] / 2 <= g2["time_s"]["mid"] < g1["time_s"]["mid"]
    assert d2["energy_parts_j_mid"]["link"] > 0
    assert d2["memory"]["resident_bytes_per_device"] == pytest.approx(d2["memory"]["resident_bytes"] / 2)


def test_tensor_parallel_needs_an_interconnect_figure():
    with pytest.raises(ValueError, match="interconnect"):
        analyze(_w(), "m3-max", phase="prefill", batch=1, seq=64, levers=False, tensor_parallel=2)
