"""Validity checks: failures are shown (status invalid + reasons), never hidden."""

from __future__ import annotations

from tests.bench.fakes import FakeMonitor, Ledger, workload
from wattlens.bench.runner import IdlePower, measure_queries
from wattlens.bench.validity import check_cell, check_idle_drift, check_tokens, check_windows


def _stats(j_per_query: float = 2.0, idle_w: float = 1.0, offsets: list[float] | None = None, **kw):
    ledger = Ledger()
    mon = FakeMonitor(ledger, idle_w=idle_w, offsets_j=offsets or [])
    return measure_queries(
        workload(ledger, j_per_query, sleep_s=0.001),
        list(range(4)),
        monitor=mon,
        repeats=kw.pop("repeats", 5),
        warmup=0,
        min_window_s=0.01,
        idle=kw.pop("idle", idle_w),
        **kw,
    )


def test_a_clean_cell_is_ok() -> None:
    v = check_windows(_stats())
    assert v.status == "ok" and v.reasons == []


def test_negative_net_energy_is_invalid() -> None:
    # the baseline says 50 W but the window only drew 1 W of idle + the work: net < 0
    v = check_windows(_stats(j_per_query=0.001, idle_w=1.0, idle=IdlePower(50.0, 50.0, 50.0)))
    assert v.status == "invalid"
    assert any("negative net energy" in r for r in v.reasons)
    assert any("below the idle baseline" in r for r in v.reasons)


def test_negative_gross_window_is_invalid() -> None:
    v = check_windows(_stats(offsets=[0.0, -1e6, 0.0, 0.0, 0.0]))
    assert v.status == "invalid" and any("negative gross energy" in r for r in v.reasons)


def test_power_above_the_maximum_is_invalid() -> None:
    v = check_windows(_stats(j_per_query=1e6), max_power_w=500.0)
    assert any("above the boundary's maximum" in r for r in v.reasons)


def test_missing_outputs_are_invalid() -> None:
    ledger = Ledger()
    s = measure_queries(lambda b: [], [1, 2], monitor=FakeMonitor(ledger), repeats=5, warmup=0, min_window_s=0.0)
    v = check_windows(s)
    assert v.status == "invalid" and any("returned no output" in r for r in v.reasons)


def test_unavailable_energy_is_invalid_not_zero() -> None:
    ledger = Ledger()
    s = measure_queries(
        workload(ledger, 1.0), [1], monitor=FakeMonitor(ledger, unavailable=True), repeats=5, min_window_s=0.0
    )
    v = check_windows(s)
    assert v.status == "invalid" and "energy unavailable" in v.reasons[0]


def test_few_repeats_and_high_cv_are_warnings() -> None:
    s = _stats(offsets=[0.0, 40.0, 0.0], repeats=3)
    v = check_windows(s)
    assert v.status == "ok"
    assert any("repeats < 5" in w for w in v.warnings)
    assert any("CV" in w for w in v.warnings)


def test_token_counts_required_for_generation() -> None:
    assert check_tokens(True, 120, None).status == "invalid"
    assert check_tokens(True, 0, 10).status == "invalid"
    assert check_tokens(True, 120, 10).status == "ok"
    assert check_tokens(False, None, None).status == "ok"
    assert check_tokens(True, 0, 20, text_input=False).status == "ok"  # captioning: the input is an image
    assert check_tokens(True, 0, 0, text_input=False).status == "invalid"


def test_idle_drift_is_a_warning() -> None:
    assert check_idle_drift(10.0, 10.5).warnings == []
    assert "drifted" in check_idle_drift(10.0, 20.0).warnings[0]


def test_check_cell_merges_phases() -> None:
    bad = _stats(j_per_query=0.001, idle_w=1.0, idle=IdlePower(50.0, 50.0, 50.0), phase="decode")
    v = check_cell({"query": _stats(), "decode": bad}, generative=True, input_tokens=10, output_tokens=5)
    assert v.status == "invalid" and all(r.startswith("decode") for r in v.reasons)


def test_contention_needs_more_than_the_free_cpus_for_long_enough() -> None:
    from wattlens.bench.validity import STATUS_CONTENDED, Validity, check_contention, is_contended

    assert is_contended(1.0, 2, 2, 1.0)  # a hog on one of two cores, a two-thread cell
    assert not is_contended(1.0, 2, 1, 1.0)  # a one-thread cell had its free core
    assert not is_contended(0.2, 2, 2, 10.0)  # background noise under the slack
    assert not is_contended(1.0, 2, 2, 0.05)  # a burst in a 50 ms cell: 0.04 CPU-s of excess
    v = Validity()
    assert check_contention(v, 1.5, 2, 2, 2.0) and v.status == STATUS_CONTENDED
    assert "1.50 of 2 CPUs" in v.reasons[0] and "--threads" in v.reasons[0]
    invalid = Validity()
    invalid.fail("negative energy")
    assert check_contention(invalid, 1.5, 2, 2, 2.0) and invalid.status == "invalid" and invalid.warnings
