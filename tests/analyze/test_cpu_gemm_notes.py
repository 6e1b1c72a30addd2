"""CPU skinny-GEMM efficiency, the fp8-without-FP8-units note and the node-profile listing."""

from __future__ import annotations

import json

from wattlens.analyze.cpu_gemm import cpu_gemm_efficiency
from wattlens.analyze.profiles import fallback_note, get_profile
from wattlens.cli.main import main


def test_skinny_gemms_run_below_the_large_gemm_rate_and_rise_with_intensity():
    e = cpu_gemm_efficiency()
    mids = [e.compute_at(i, "mid") for i in (1.0, 2.0, 9.0, 28.0, 96.0, 500.0)]
    assert mids == sorted(mids) and mids[0] < 0.5 and mids[-1] <= 1.0
    for i in (2.0, 9.0, 50.0):  # the low time corner takes the fast end
        assert e.compute_at(i, "low") >= e.compute_at(i, "mid") >= e.compute_at(i, "high") > 0
    assert 0 < e.memory_at("high") < e.memory_at("low") <= 1.0
    assert "measured here" in e.source


def test_fp8_on_hardware_without_fp8_units_is_stated():
    note = fallback_note(get_profile("a100"), "fp8")
    assert note is not None and "int8" in note
    assert fallback_note(get_profile("h100"), "fp8") is None


def test_hardware_nodes_lists_the_node_profiles(capsys):
    assert main(["hardware", "--nodes", "--json"]) == 0
    names = {n["name"] for n in json.loads(capsys.readouterr().out)["nodes"]}
    assert {"php-p4de", "h200-wattlens-bench"} <= names
    assert main(["hardware", "--nodes"]) == 0
    assert "php-p4de" in capsys.readouterr().out
