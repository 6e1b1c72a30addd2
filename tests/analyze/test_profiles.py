"""Hardware profiles: every figure a [low, high] range with a source; aliases; this-machine; empties stay empty."""

from __future__ import annotations

import pytest

from wattlens.analyze import profiles as P


def test_every_profile_figure_is_a_sourced_range():
    profs = P.all_profiles()
    assert len(profs) == 31  # 30 CSV rows + this-machine
    for p in profs:
        figs = [*p.peak_tflops.values(), *p.pj_per_byte.values(), *p.pj_per_flop.values(), p.gemm_frac, p.bw_frac]
        figs += [f for f in (p.mem_bw_gbs, p.static_w, p.launch_us) if f is not None]
        assert p.peak_tflops, p.name
        for f in figs:
            assert 0 <= f.low <= f.high, (p.name, f)
            assert f.source and f.unit, (p.name, f)
            assert f.low <= f.mid <= f.high


@pytest.mark.parametrize(
    "alias,name",
    [
        ("a100", "a100-sxm-80gb"),
        ("h100", "h100-sxm"),
        ("h200", "h200"),
        ("b200", "b200"),
        ("l4", "l4"),
        ("4090", "rtx4090"),
        ("m3", "m3-max"),
        ("jetson", "orin-agx"),
        ("xeon", "xeon-8480"),
        ("A100", "a100-sxm-80gb"),
    ],
)
def test_aliases(alias, name):
    assert P.get_profile(alias).name == name


def test_unknown_hardware_names_the_known_ones():
    with pytest.raises(KeyError, match="h100-sxm"):
        P.get_profile("no-such-gpu")


def test_this_machine_scales_the_generic_core():
    one = P.this_machine(1)
    four = P.this_machine(4)
    assert four.peak_tflops["fp32"].low == pytest.approx(4 * one.peak_tflops["fp32"].low)
    assert four.mem_bw_gbs.low == pytest.approx(4 * one.mem_bw_gbs.low)
    assert four.static_w.high == pytest.approx(4 * one.static_w.high)
    assert "4 cores" in four.derived_from
    assert P.get_profile("this-machine", calibrated=False).name == "this-machine"


def test_empty_cells_are_unmodelled_not_defaulted():
    v5e = P.get_profile("tpu-v5e")
    assert v5e.static_w is None and not v5e.pj_per_flop and v5e.tdp_w is None
    with pytest.raises(ValueError, match="unmodelled"):
        v5e.eps_flop("bf16")


def test_derived_energy_per_flop_follows_the_rule():
    h = P.get_profile("h100")
    # stored bf16 figure comes straight from the CSV; fp8 is derived with the same TDP/idle/peak rule
    assert h.pj_per_flop["bf16"].low == pytest.approx(0.586, abs=0.01)
    fp8 = h.pj_per_flop["fp8"]
    assert fp8.low == pytest.approx((h.tdp_w - h.static_w.high) / h.peak_tflops["fp8"].low)
    assert "rule X" in fp8.source


def test_calibrated_profile_roundtrip(tmp_path):
    p = P.this_machine(2)
    p.calibrated = {"when": "now", "fit": {"flop_per_s": 1e11}}
    path = P.save_calibrated(p, tmp_path / "cal.json")
    q = P.load_calibrated(path)
    assert q is not None and q.calibrated["fit"]["flop_per_s"] == 1e11
    assert q.peak_tflops["fp32"].low == p.peak_tflops["fp32"].low


def test_unmodelled_power_is_said_not_defaulted():
    from wattlens.analyze.analysis import analyze

    a = analyze("distilgpt2", "tpu-v5e", phase="prefill", seq=64, levers=False)
    d = a.to_dict()
    assert any("UNMODELLED" in s for s in d["assumptions"])
    assert d["energy_parts_j_mid"]["static"] == 0 and d["energy_parts_j_mid"]["compute"] == 0
    assert d["hardware_profile"]["figures"]["static_w"] is None
