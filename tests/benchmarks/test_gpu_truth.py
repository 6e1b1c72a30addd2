"""benchmarks/gpu_truth.py's checks, driven through a clocked NVML stand-in so that they cannot rot between GPU
draws. A stand-in run is never evidence: its report says ``hardware: stand-in``."""

from __future__ import annotations

import json

import pytest

from benchmarks import gpu_truth as gt
from tests.benchmarks.standin import StandInRig


@pytest.fixture
def rig():
    r = StandInRig()
    r.start()
    yield r
    r.close()


@pytest.mark.slow
def test_counter_and_integration_agree_on_a_steady_load(rig) -> None:
    check, zeus = gt.check_counter_vs_integration(rig, load_s=1.5, zeus=False)
    f = check.figures
    assert check.status == gt.PASS, check.notes
    assert f["counter"]["method"] == "nvml:energy-counter" and f["integration"]["method"] == "nvml:power-integration"
    # 1 s idle at 75 W + 1.5 s at 650 W + 2 s idle: about 1,200 J
    assert 1100 < f["counter"]["energy_j"] < 1300
    assert f["integration_vs_counter_rel"] < 0.05 and f["raw_avg_vs_counter_rel"] < 0.05
    assert f["poll_rate_hz"] >= 10
    assert zeus.status == gt.SKIP and zeus.notes == ["skipped by --skip"]


@pytest.mark.slow
def test_integration_that_disagrees_fails(rig, monkeypatch) -> None:
    # a power reading off by 30 % (a unit or averaging bug) must fail the check, not pass it
    real = rig.nvml.nvmlDeviceGetPowerUsage
    monkeypatch.setattr(rig.nvml, "nvmlDeviceGetPowerUsage", lambda h: int(real(h) * 1.3))
    check, _ = gt.check_counter_vs_integration(rig, load_s=0.5, zeus=False)
    assert check.status == gt.FAIL
    # beyond the check's tolerance; not "about 30 %": a loaded machine (or coverage tracing) thins the
    # 10 Hz samples of the 0.5 s load, and the measured gap then varies (0.17 seen under `make test`)
    assert check.figures["integration_vs_counter_rel"] > gt.AGREEMENT_REL


@pytest.mark.slow
def test_idle_short_and_back_to_back_windows(rig) -> None:
    check = gt.check_idle_load_short(rig, part_s=0.3)
    f = check.figures
    assert check.status == gt.PASS, check.notes
    assert 70 < f["idle_power_w"] < 80
    assert all(f["short_windows_flagged"]) and all(e > 0 for e in f["short_windows_j"])
    assert f["parts_vs_enclosing_rel"] < 0.01


@pytest.mark.slow
def test_edge_cost_async_edges_are_a_fraction_of_a_slow_read() -> None:
    # NVML reads that take 4 ms, as on the virtualised H200: blocking edges pay two reads per window, async
    # edges a small share of one, and the async windows tile the enclosing one exactly (shared edge readings)
    rig = StandInRig(latency_s=0.004)
    rig.start()
    try:
        check = gt.check_edge_cost(rig, windows=20)
    finally:
        rig.close()
    f = check.figures
    assert check.status == gt.PASS, check.notes
    assert f["blocking"]["edge_reads"] == "blocking" and f["async"]["edge_reads"] == "async"
    assert f["blocking"]["median_begin_end_us"] >= 1.8 * f["counter_read_median_us"]
    assert f["async_over_one_read"] < gt.EDGE_COST_SHARE
    assert f["async"]["parts_unavailable"] == 0 and f["async_parts_gap_j"] <= f["async_parts_allowed_gap_j"]
    assert "read off the edge" in f["async"]["note_of_first_part"]
    assert "µs async" in gt.summary_table(gt.Report("stand-in", "", {}, {}, [check]))


def test_edge_cost_fails_where_a_read_costs_nothing() -> None:
    # an in-memory read takes ~2 µs: handing it to a thread cannot cost less, and the check must say so
    rig = StandInRig()
    rig.start()
    try:
        check = gt.check_edge_cost(rig, windows=5, window_s=0.005, reads=5)
    finally:
        rig.close()
    assert check.status == gt.FAIL
    assert "costs more than its share" in "; ".join(check.notes)


def test_counter_period_measured(rig) -> None:
    check = gt.check_counter_period(rig, seconds=0.5)
    assert check.status == gt.PASS, check.notes
    assert check.figures["median_update_ms"] < 100


@pytest.mark.slow
def test_stream_sync_fails_where_nothing_synchronises(rig) -> None:
    # no CUDA behind the stand-in: the window closes at once although the "GPU" works for 1.5 s
    check = gt.check_stream_sync(rig)
    assert check.status == gt.FAIL
    assert check.figures["window_s"] < 0.5 * check.figures["kernels_cuda_event_s"]


def test_power_limit_set_and_restored(rig) -> None:
    check = gt.check_power_limit(rig, fraction=0.6, load_s=0.5)
    f = check.figures
    assert check.status == gt.PASS, check.notes
    assert f["limit_before_w"] == f["limit_after_w"] == 700.0
    assert f["limit_read_inside_w"] == pytest.approx(420.0)
    assert f["capped_power_w"] < f["uncapped_power_w"]


def test_sources_check_fails_without_a_gpu() -> None:
    check = gt.check_sources(gt.Rig())
    assert check.status == gt.FAIL
    assert check.figures["nvml_available"] is False and check.figures["rapl_available"] is False


def test_ratio_table_intervals() -> None:
    gt_models = {"a": ("t", "a"), "b": ("t", "b")}
    measured = {"a": 4.0, "b": 1.0}
    predicted = {"a": {"low": 2.0, "mid": 3.0, "high": 6.0}, "b": {"low": 0.5, "mid": 1.0, "high": 2.0}}
    old = gt.BENCH_MODELS
    gt.BENCH_MODELS = gt_models
    try:
        (row,) = gt.ratio_table(measured, predicted)
    finally:
        gt.BENCH_MODELS = old
    assert row["measured"] == 4.0 and row["predicted_mid"] == 3.0
    assert (row["predicted_low"], row["predicted_high"]) == (1.0, 12.0) and row["inside_interval"]


@pytest.mark.slow
def test_run_writes_a_stand_in_report(rig, tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(gt.CHECKS, "counter_period", lambda r: gt.check_counter_period(r, seconds=0.3))
    out = tmp_path / "gpu-truth.json"
    skip = {
        "sources",
        "edge_cost",
        "counter_vs_integration",
        "idle_load_short",
        "stream_sync",
        "measure_cli",
        "power_limit",
        "bench",
    }
    report = gt.run(StandInRig(), out, skip, budget_s=60, print_fn=lambda s: None)
    data = json.loads(out.read_text())
    assert data["hardware"] == "stand-in" and data["schema"] == gt.SCHEMA
    assert data["summary"] == {"pass": 1, "fail": 0, "skip": 8}
    assert [c["name"] for c in data["checks"]] == list(gt.CHECK_ORDER)
    assert "gpu-truth (stand-in)" in gt.summary_table(report)


@pytest.mark.slow
def test_bench_check_parses_the_cli_rows_on_cpu() -> None:
    models = {"distilgpt2@tiny": ("text-generation", "distilgpt2")}
    check = gt.check_bench(gt.Rig(), "cpu", 2, models, timeout_s=300, min_window_s=0.2, idle_s=0.2)
    (cell,) = check.figures["cells"]
    assert cell["status"] == "ok" and cell["gross_j_per_query"] > 0, check.notes
    assert cell["analyze_j_per_query"]["mid"] > 0
    assert check.status == gt.PASS
