"""measure_queries / measure_decode on a synthetic meter with known answers (no hardware, no torch)."""

from __future__ import annotations

import math

import pytest

from tests.bench.fakes import FakeMonitor, Ledger, workload
from wattlens.bench.runner import IdlePower, measure_decode, measure_queries, with_idle


def test_net_energy_per_query_is_exact_and_idle_is_subtracted() -> None:
    ledger = Ledger()
    mon = FakeMonitor(ledger, idle_w=5.0)
    s = measure_queries(
        workload(ledger, 2.0, sleep_s=0.002),
        list(range(8)),
        batch=2,
        monitor=mon,
        repeats=5,
        warmup=2,
        min_window_s=0.05,
        idle=5.0,
    )
    assert s.basis == "net"
    assert s.j_per_query == pytest.approx(2.0)
    assert s.ci95_j == pytest.approx(0.0, abs=1e-9) and s.cv == pytest.approx(0.0, abs=1e-9)
    assert s.gross_j == pytest.approx(s.net_j + s.idle_j)
    assert s.idle_j == pytest.approx(5.0 * s.duration_s)
    assert s.gross_j_per_query > s.j_per_query  # gross includes the idle draw
    assert s.repeats == 5 and len(s.windows) == 5


def test_gross_basis_without_baseline_is_stated() -> None:
    ledger = Ledger()
    s = measure_queries(workload(ledger, 1.0), list(range(4)), monitor=FakeMonitor(ledger), repeats=5, min_window_s=0.0)
    assert s.basis == "gross" and s.j_per_query == pytest.approx(1.0)
    assert any("no idle baseline" in n for n in s.notes)


def test_warmup_is_excluded_from_the_windows() -> None:
    ledger = Ledger()
    mon = FakeMonitor(ledger)
    s = measure_queries(workload(ledger, 3.0), list(range(5)), monitor=mon, repeats=5, warmup=4, min_window_s=0.0)
    assert ledger.joules == pytest.approx(3.0 * (4 + s.queries))  # 4 warm-up queries ran...
    assert s.gross_j == pytest.approx(3.0 * s.queries)  # ...and none of them is in the windows


def test_each_window_covers_all_inputs_and_lasts_the_minimum() -> None:
    ledger = Ledger()
    seen: list[int] = []

    def fn(batch: list[int]) -> list[int]:
        seen.extend(batch)
        return batch

    s = measure_queries(
        fn, list(range(7)), batch=3, monitor=FakeMonitor(ledger), repeats=5, warmup=0, min_window_s=0.02
    )
    assert all(q >= 7 for q in s.queries_per_repeat)
    assert all(w.duration_s >= 0.02 for w in s.windows)
    assert set(seen) == set(range(7))
    assert all(q % 3 == 0 for q in s.queries_per_repeat)  # batches stay full: the last wraps around


def test_confidence_interval_from_known_spread() -> None:
    ledger = Ledger()
    n = 4
    offsets = [0.0, 4.0, 8.0, 12.0, 16.0]  # extra joules per window -> per-query +0, +1, +2, +3, +4
    mon = FakeMonitor(ledger, offsets_j=offsets)
    s = measure_queries(workload(ledger, 10.0), list(range(n)), monitor=mon, repeats=5, warmup=0, min_window_s=0.0)
    per_q = [10.0 + o / n for o in offsets]
    assert s.per_repeat_j_per_query == pytest.approx(per_q)
    sd = math.sqrt(2.5)
    assert s.j_per_query == pytest.approx(12.0)
    assert s.ci95_j == pytest.approx(2.776445 * sd / math.sqrt(5), rel=1e-5)
    assert s.cv == pytest.approx(sd / 12.0)
    assert s.j_per_query_low == pytest.approx(12.0 - s.ci95_j)
    assert s.j_per_query_high == pytest.approx(12.0 + s.ci95_j)


def test_meter_interval_and_idle_interval_widen_the_bounds() -> None:
    ledger = Ledger()
    mon = FakeMonitor(ledger, rel_err=0.1)
    s = measure_queries(
        workload(ledger, 10.0),
        list(range(4)),
        monitor=mon,
        repeats=5,
        warmup=0,
        min_window_s=0.0,
        idle=IdlePower(0.0, 0.0, 0.0),
    )
    assert s.j_per_query == pytest.approx(10.0)
    assert s.j_per_query_low == pytest.approx(9.0) and s.j_per_query_high == pytest.approx(11.0)


def test_latency_percentiles_and_throughput() -> None:
    ledger = Ledger()
    s = measure_queries(
        workload(ledger, 1.0, sleep_s=0.005),
        list(range(4)),
        monitor=FakeMonitor(ledger),
        repeats=5,
        warmup=1,
        min_window_s=0.0,
    )
    assert 4.5 <= s.p50_ms <= 50 and s.p95_ms >= s.p50_ms
    assert s.throughput_qps == pytest.approx(s.queries / s.duration_s)
    assert len(s.latencies_s) == s.queries  # batch 1: one latency per query


def test_outputs_of_the_first_pass_are_aligned_with_inputs() -> None:
    ledger = Ledger()
    s = measure_queries(
        lambda b: [x * 10 for x in b],
        [1, 2, 3, 4, 5],
        batch=2,
        monitor=FakeMonitor(ledger),
        repeats=5,
        warmup=0,
        min_window_s=0.0,
        collect_outputs=True,
    )
    assert s.outputs == [10, 20, 30, 40, 50]


def test_incomplete_outputs_are_counted() -> None:
    ledger = Ledger()
    s = measure_queries(
        lambda b: b[:-1], list(range(4)), batch=2, monitor=FakeMonitor(ledger), repeats=5, warmup=0, min_window_s=0.0
    )
    assert s.completed_queries == s.expected_queries // 2


def test_unavailable_energy_is_none_never_zero() -> None:
    ledger = Ledger()
    s = measure_queries(
        workload(ledger, 1.0), [1, 2], monitor=FakeMonitor(ledger, unavailable=True), repeats=5, min_window_s=0.0
    )
    assert s.j_per_query is None and s.source == "unavailable" and s.gross_j is None
    assert s.p50_ms is not None  # latency is still known


def test_a_failing_query_closes_its_window_and_raises() -> None:
    ledger = Ledger()
    mon = FakeMonitor(ledger)

    def boom(batch: list) -> list:
        raise RuntimeError("model exploded")

    with pytest.raises(RuntimeError, match="exploded"):
        measure_queries(boom, [1], monitor=mon, warmup=0)
    assert mon.open == {}


def test_decode_is_measured_in_its_own_windows() -> None:
    ledger = Ledger()
    mon = FakeMonitor(ledger, idle_w=2.0)

    def prefill(batch: list) -> list:
        ledger.joules += 100.0 * len(batch)  # expensive, but outside the decode windows
        return list(batch)

    def decode(state: list) -> list:
        ledger.joules += 3.0 * len(state)
        return state

    d = measure_decode(
        prefill, decode, list(range(6)), batch=2, monitor=mon, repeats=5, warmup=1, min_window_s=0.0, idle=2.0
    )
    assert d.phase == "decode" and d.j_per_query == pytest.approx(3.0)
    assert all(q >= 6 for q in d.queries_per_repeat)


def test_with_idle_restates_without_remeasuring() -> None:
    ledger = Ledger()
    mon = FakeMonitor(ledger, idle_w=4.0)
    s = measure_queries(workload(ledger, 2.0, sleep_s=0.001), list(range(4)), monitor=mon, repeats=5, min_window_s=0.01)
    assert s.basis == "gross"
    r = with_idle(s, IdlePower.mean_of(IdlePower(3.0, 3.0, 3.0), IdlePower(5.0, 5.0, 5.0)))
    assert r.basis == "net" and r.j_per_query == pytest.approx(2.0)
    assert r.idle.power_w == 4.0 and r.windows[0].idle_j == pytest.approx(4.0 * r.windows[0].duration_s)


def test_bad_arguments_are_rejected() -> None:
    with pytest.raises(ValueError):
        measure_queries(lambda b: b, [], monitor=FakeMonitor(Ledger()))
    with pytest.raises(ValueError):
        measure_queries(lambda b: b, [1], batch=0, monitor=FakeMonitor(Ledger()))


class AsyncDevice:
    """A CUDA-like device: calls only enqueue work; ``sync`` runs it (sleeps, spends the joules)."""

    def __init__(self, ledger: Ledger, seconds_per_query: float = 0.004) -> None:
        self.ledger, self.s = ledger, seconds_per_query
        self.pending: list[tuple[int, float]] = []
        self.syncs = 0

    def enqueue(self, j_per_query: float):
        def fn(batch: list) -> list:
            self.pending.append((len(batch), j_per_query))
            return list(batch)

        return fn

    def sync(self) -> None:
        import time

        self.syncs += 1
        for n, j in self.pending:
            time.sleep(self.s * n)
            self.ledger.joules += j * n
        self.pending.clear()


def test_sync_puts_asynchronous_work_in_its_latency_and_window() -> None:
    ledger = Ledger()
    dev = AsyncDevice(ledger)
    s = measure_queries(
        dev.enqueue(2.0),
        list(range(4)),
        monitor=FakeMonitor(ledger),
        repeats=5,
        warmup=3,
        min_window_s=0.0,
        sync=dev.sync,
    )
    assert s.j_per_query == pytest.approx(2.0)  # warm-up work synchronised before the first window opened
    assert s.p50_ms >= 4.0  # each batch's latency includes the device finishing its work
    assert dev.syncs == s.queries + 1  # once after warm-up, once per batch
    # without sync the same device looks free and instant: the work lands outside every window
    ledger2 = Ledger()
    dev2 = AsyncDevice(ledger2)
    s2 = measure_queries(
        dev2.enqueue(2.0), list(range(4)), monitor=FakeMonitor(ledger2), repeats=5, warmup=3, min_window_s=0.0
    )
    assert s2.j_per_query == pytest.approx(0.0) and s2.p50_ms < 4.0


def test_sync_keeps_prefill_work_out_of_the_decode_windows() -> None:
    ledger = Ledger()
    dev = AsyncDevice(ledger, seconds_per_query=0.001)
    s = measure_decode(
        dev.enqueue(5.0),
        lambda state: dev.enqueue(1.0)(state),
        list(range(3)),
        monitor=FakeMonitor(ledger),
        repeats=5,
        warmup=1,
        min_window_s=0.0,
        sync=dev.sync,
    )
    assert s.j_per_query == pytest.approx(1.0)  # prefill's 5 J/query ran before the window opened


def test_interval_low_end_never_negative_when_repeats_disagree() -> None:
    """Energy drawn by work cannot be negative: a spread across repeats larger than the mean clamps the low end
    at 0 J and says so, instead of printing a negative joule figure."""
    ledger = Ledger()
    mon = FakeMonitor(ledger, offsets_j=[0.0, 0.0, 0.0, 0.0, 50.0])  # one wild repeat of five
    stats = measure_queries(workload(ledger, 0.1), list(range(10)), monitor=mon, repeats=5, warmup=0, min_window_s=0.0)
    assert stats.j_per_query is not None and stats.j_per_query > 0
    assert stats.j_per_query_low == 0.0
    assert any("clamped at 0" in n for n in stats.notes)
    calm = measure_queries(
        workload(ledger, 0.1), list(range(10)), monitor=FakeMonitor(ledger), repeats=5, warmup=0, min_window_s=0.0
    )
    assert calm.j_per_query_low > 0 and not any("clamped" in n for n in calm.notes)
