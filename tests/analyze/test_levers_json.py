"""Levers are recomputed by re-analysis; the --json contract."""

from __future__ import annotations

import json

import pytest
import torch

from tests.analyze.helpers import tiny_llama
from wattlens.analyze import levers as L
from wattlens.analyze import presets
from wattlens.analyze.analysis import analyze, analyze_workload
from wattlens.analyze.capture import sum_field
from wattlens.analyze.profiles import get_profile
from wattlens.analyze.records import Lever


@pytest.fixture(scope="module")
def decode_analysis():
    # KV-heavy shape (long prompt, MHA, batch 8) so that every lever has something to move; traced on meta
    w = presets.from_module(tiny_llama(layers=8, hidden=1024, heads=16, kv=16, vocab=4096).to(torch.bfloat16))
    return analyze(w, "h100", phase="generate", batch=8, prompt=2048, new_tokens=16)


def test_levers_ranked_priced_and_recomputed(decode_analysis):
    a = decode_analysis
    lv = a.levers
    assert lv, "no lever computed"
    fr = [x.saving_fraction for x in lv]
    assert fr == sorted(fr, reverse=True)
    names = " ".join(x.lever for x in lv)
    for expected in ("weight-only int8", "KV-cache int8", "batching", "GQA", "speculative", "fusion"):
        assert expected in names, expected
    for x in lv:
        assert x.price.quality and x.price.latency and x.price.memory
        assert x.energy_j_after == pytest.approx(a.energy("mid") * (1 - x.saving_fraction))
        assert x.method.startswith("re-")
        assert Lever.from_dict(json.loads(json.dumps(x.to_dict()))) == x  # the JSON form reads back


def test_weight_quant_lever_equals_reestimate(decode_analysis):
    a = decode_analysis
    lv = L.weight_quant(a, 8)
    # by hand: halve the weight bytes of GEMM/embedding records (bf16 -> int8) and re-run the model
    recs = L._rewrite(
        a.records,
        lambda r: (
            L._scale(r, ["lo_weights", "hi_weights"], 0.5)
            if r.role in ("dense_gemm", "embedding_lookup", "convolution")
            else None
        ),
    )
    est = L._re(a, recs)
    assert lv.energy_j_after == pytest.approx(est.total("energy_j", "mid"))
    assert 0 < lv.saving_fraction < 1


def test_gqa_lever_retraces_a_smaller_kv_cache(decode_analysis):
    a = decode_analysis
    lv = L.gqa(a)
    assert "16 -> 2 KV heads" in lv.lever
    w2 = presets.rebuild(
        a.workload, type(a.workload.config)(**{**a.workload.config.to_dict(), "num_key_value_heads": 2})
    )
    b = analyze_workload(w2, a.profile, a.request)
    kv_a = sum_field(a.records, "lo_kv_cache")
    kv_b = sum_field(b.records, "lo_kv_cache")
    assert kv_b == pytest.approx(kv_a / 8, rel=1e-6)
    assert lv.energy_j_after == pytest.approx(b.energy("mid"))


def test_power_cap_changes_the_profile_not_the_total():
    # GPT-2 prefill on an A100 (a deterministic analysis): the voltage floor makes a 0.7 clock the cheapest
    a = analyze("gpt2", "a100", phase="prefill", seq=512, batch=8, levers=False)
    lv = L.power_cap(a)
    assert lv is not None
    assert lv.clock_fraction == 0.7
    assert lv.time_s_after >= a.time("mid")  # a lower clock never makes it faster
    assert 0.0 < lv.saving_fraction < 0.5


def test_power_cap_is_not_listed_when_no_clock_saves_energy(monkeypatch):
    a = analyze("gpt2", "a100", phase="prefill", seq=64, batch=1, levers=False)
    assert a.estimate.total("energy_j", "mid") == a.energy("mid")
    seen = []

    def no_saving(a_, records, **opt):  # a profile where capping saves nothing: the full-clock estimate
        seen.append(opt["power_scale"])
        return a.estimate

    monkeypatch.setattr(L, "_re", no_saving)
    assert L.power_cap(a) is None
    assert seen == [0.6, 0.7, 0.8, 0.9]  # every clock fraction was tried before giving up


def test_json_contract(decode_analysis):
    d = json.loads(json.dumps(decode_analysis.to_dict(by_layer=True), default=str))
    for key in (
        "model",
        "hardware",
        "phase",
        "flops",
        "bytes",
        "time_s",
        "energy_j",
        "by_role",
        "unsupported_ops",
        "levers",
        "assumptions",
    ):
        assert key in d, key
    assert set(d["bytes"]) >= {"low", "high"}
    assert d["bytes"]["low"] <= d["bytes"]["high"]
    for k in ("time_s", "energy_j"):
        assert set(d[k]) == {"low", "mid", "high"}
        assert d[k]["low"] <= d[k]["mid"] <= d[k]["high"]
    for r in d["by_role"]:
        assert set(r) >= {"role", "flops", "bytes", "intensity", "bound", "time_s", "energy_j"}
    for lv in d["levers"]:
        assert set(lv) >= {"lever", "role", "energy_j_after", "saving_fraction", "price"}
    assert d["by_layer"] and isinstance(d["assumptions"], list) and d["assumptions"]
    assert d["energy_j"]["mid"] == pytest.approx(sum(r["energy_j"]["mid"] for r in d["by_role"]))
    assert d["hardware"] == get_profile("h100").name
