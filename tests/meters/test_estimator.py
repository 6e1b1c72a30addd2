"""The cpu-time-model estimator: provenance of every constant, intervals, attribution rules, determinism."""

from __future__ import annotations

import csv
import time

import pytest

from wattlens.meters import cpu
from wattlens.meters.base import ESTIMATED, UNAVAILABLE, MeterError, Snapshot
from wattlens.meters.estimator import (
    ENV_TDP,
    MEMORY_W_PER_GB,
    EstimatorSource,
    resolve_cpu_power,
)


def info(raw: str, n: int = 2, virtual: bool = True) -> cpu.CpuInfo:
    return cpu.CpuInfo(raw, cpu.normalise_model_name(raw), n, virtual, "test")


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_TDP, raising=False)
    monkeypatch.delenv("WATTLENS_CPU_THREADS", raising=False)


def _cloud_rows() -> list[dict[str, str]]:
    with open(cpu.CLOUD_TABLE, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_unknown_epyc_spans_every_epyc_row_and_says_so() -> None:
    m = resolve_cpu_power(info=info("AMD EPYC"))
    rows = [r for r in _cloud_rows() if r["microarchitecture"].startswith("EPYC")]
    assert m.basis == "unknown-cpu-range" and "UNKNOWN" in m.note and "WATTLENS_CPU_TDP_W" in m.note
    assert m.idle_w.low == min(float(r["min_w_per_vcpu"]) for r in rows)
    assert m.idle_w.high == max(float(r["min_w_per_vcpu"]) for r in rows)
    assert m.max_w.low == min(float(r["max_w_per_vcpu"]) for r in rows)
    assert m.max_w.high == max(float(r["max_w_per_vcpu"]) for r in rows)
    assert m.max_w.low < m.max_w.mid < m.max_w.high
    assert len(m.citations) == len(rows)


def test_unknown_model_without_family_spans_all_rows() -> None:
    m = resolve_cpu_power(info=info("Mystery Chip 9000"))
    rows = [r for r in _cloud_rows() if not r["microarchitecture"].startswith("Graviton")]
    assert m.basis == "unknown-cpu-range"
    assert m.max_w.high == max(float(r["max_w_per_vcpu"]) for r in rows)
    assert m.idle_w.low == min(float(r["min_w_per_vcpu"]) for r in rows)


def test_exact_table_match_uses_tdp_over_threads() -> None:
    m = resolve_cpu_power(info=info("AMD EPYC 9654 96-Core Processor", virtual=False))
    assert m.basis == "tdp-table" and m.match == "exact"
    assert m.max_w.mid == pytest.approx(360 / 192)
    assert m.max_w.low == pytest.approx(0.5 * 360 / 192) and m.max_w.high == pytest.approx(2 * 360 / 192)
    assert "cpu_power.csv row 'AMD EPYC 9654'" in m.citations[0]
    assert m.idle_w.low < m.idle_w.mid < m.idle_w.high < m.max_w.mid


def test_intel_row_without_threads_spans_one_or_two_per_core() -> None:
    m = resolve_cpu_power(info=info("Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz"))
    assert m.basis == "tdp-table" and "1-2 threads" in m.note
    assert m.max_w.high == pytest.approx(2 * 205 / 32) and m.max_w.low == pytest.approx(0.5 * 205 / 64)


def test_known_microarchitecture_uses_cloud_rows() -> None:
    m = resolve_cpu_power(info=info("Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz"))
    ice = [r for r in _cloud_rows() if r["microarchitecture"] == "Ice Lake"]
    assert m.basis == "cloud-vcpu-table" and "Ice Lake" in m.note
    assert m.max_w.low == min(float(r["max_w_per_vcpu"]) for r in ice)
    assert m.max_w.high == max(float(r["max_w_per_vcpu"]) for r in ice)


def test_user_tdp_argument_and_environment_are_labelled(monkeypatch: pytest.MonkeyPatch) -> None:
    m = resolve_cpu_power(cpu_tdp_w=120.0, cpu_threads=24, info=info("AMD EPYC"))
    assert m.basis == "user-tdp" and "user-given" in m.note and m.max_w.mid == pytest.approx(5.0)
    monkeypatch.setenv(ENV_TDP, "65")
    m = resolve_cpu_power(info=info("AMD EPYC", n=8))
    assert m.basis == "user-tdp" and f"{ENV_TDP}=65" in m.note and m.max_w.mid == pytest.approx(65 / 8)
    monkeypatch.setenv(ENV_TDP, "lots")
    with pytest.raises(MeterError, match=ENV_TDP):
        resolve_cpu_power(info=info("AMD EPYC"))
    with pytest.raises(MeterError, match="TDP"):
        resolve_cpu_power(cpu_tdp_w=-5, info=info("AMD EPYC"))


def _snap(t: float, self_cpu: float, child_cpu: float = 0.0, maxrss_kb: int = 0) -> Snapshot:
    return Snapshot(t, (self_cpu, child_cpu, maxrss_kb))


def test_machine_formula_idle_of_all_cpus_plus_dynamic_cpu_time() -> None:
    model = resolve_cpu_power(info=info("AMD EPYC", n=2))
    src = EstimatorSource("machine", model=model, memory_gb=16.0)
    cpu_c, mem_c = src.delta(_snap(10.0, 1.0, 0.5), _snap(12.0, 1.6, 0.9))  # T = 2 s, cpu = 1.0 s
    expect = 2 * model.idle_w.mid * 2.0 + model.dynamic_w.mid * 1.0
    assert cpu_c.energy_j == pytest.approx(expect)
    assert cpu_c.low_j <= cpu_c.energy_j <= cpu_c.high_j
    assert (cpu_c.source, cpu_c.method, mem_c.source) == (ESTIMATED, "cpu-time-model", ESTIMATED)
    assert mem_c.energy_j == pytest.approx(MEMORY_W_PER_GB[1] * 16.0 * 2.0)
    assert mem_c.low_j == 0.0  # per-vCPU rows already include some server memory: stated, low bound 0
    assert mem_c.high_j == pytest.approx(MEMORY_W_PER_GB[2] * 16.0 * 2.0)
    assert "idle of all 2 logical CPUs" in cpu_c.note


def test_process_formula_charges_idle_share_by_cpu_time() -> None:
    model = resolve_cpu_power(info=info("AMD EPYC 9654", n=192, virtual=False))
    src = EstimatorSource("process", model=model)
    gib_kb = 1024 * 1024
    cpu_c, mem_c = src.delta(_snap(0.0, 0.0), _snap(4.0, 1.5, 0.5, 2 * gib_kb))  # cpu 2 s, peak RSS 2 GiB
    assert cpu_c.energy_j == pytest.approx(model.max_w.mid * 2.0)
    assert mem_c.energy_j == pytest.approx(MEMORY_W_PER_GB[1] * 2.0 * 4.0)
    assert mem_c.low_j == pytest.approx(MEMORY_W_PER_GB[0] * 2.0 * 4.0)  # TDP excludes DRAM: Crucial low end
    # An idle process is charged nothing in process attribution.
    idle = src.delta(_snap(0.0, 0.0), _snap(4.0, 0.0, 0.0, 0))
    assert idle[0].energy_j == 0.0


def test_identical_inputs_identical_outputs() -> None:
    a = EstimatorSource("machine", model=resolve_cpu_power(info=info("AMD EPYC")), memory_gb=23.5)
    b = EstimatorSource("machine", model=resolve_cpu_power(info=info("AMD EPYC")), memory_gb=23.5)
    s0, s1 = _snap(1.0, 0.25, 0.0), _snap(3.5, 1.75, 0.125)
    assert a.delta(s0, s1) == b.delta(s0, s1) == a.delta(s0, s1)
    assert [c.to_dict() for c in a.delta(s0, s1)] == [c.to_dict() for c in b.delta(s0, s1)]


def test_failures_become_unavailable_components_never_exceptions() -> None:
    src = EstimatorSource("machine", model=resolve_cpu_power(info=info("AMD EPYC")))
    bad = Snapshot(1.0, None, {"estimator": "OSError: getrusage failed"})
    out = src.delta(bad, _snap(2.0, 1.0))
    assert [c.source for c in out] == [UNAVAILABLE, UNAVAILABLE] and all(c.energy_j is None for c in out)
    assert "getrusage failed" in out[0].note
    garbage = src.delta(Snapshot(0.0, "nonsense"), Snapshot(1.0, object()))
    assert all(c.source == UNAVAILABLE and c.note.startswith("estimator failed") for c in garbage)


def test_real_snapshots_count_this_process_cpu_time() -> None:
    src = EstimatorSource("process", model=resolve_cpu_power(info=info("AMD EPYC")))
    a = src.snapshot()
    t = time.process_time()
    while time.process_time() - t < 0.05:
        pass
    cpu_c = src.delta(a, src.snapshot())[0]
    assert cpu_c.energy_j >= 0.04 * src.model.max_w.mid


def test_probe_and_domains() -> None:
    st = EstimatorSource.probe()
    assert st.available and st.source == ESTIMATED and set(st.domains) == {"cpu", "memory"}
    only_mem = EstimatorSource(domains=("memory",), model=resolve_cpu_power(info=info("AMD EPYC")))
    assert [c.domain for c in only_mem.delta(only_mem.snapshot(), only_mem.snapshot())] == ["memory"]
    with pytest.raises(MeterError):
        EstimatorSource(attribution="everything")


def test_unknown_machine_memory_is_unavailable_not_zero() -> None:
    src = EstimatorSource("machine", model=resolve_cpu_power(info=info("AMD EPYC")), memory_gb=0.0)
    cpu_c, mem_c = src.delta(_snap(0.0, 0.0), _snap(1.0, 0.5))
    assert cpu_c.energy_j > 0 and mem_c.energy_j is None and mem_c.source == UNAVAILABLE and "unknown" in mem_c.note
