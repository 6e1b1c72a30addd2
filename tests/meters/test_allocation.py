"""A job's share of its node (Slurm variables, CPU affinity): in the estimator, and in the Monitor's attribution."""

from __future__ import annotations

import os

import pytest

from tests.tracking.fakes import CounterSource
from wattlens.meters.allocation import BASIS_AFFINITY, BASIS_NODE, BASIS_SLURM, detect_allocation, node_allocation
from wattlens.meters.estimator import EstimatorSource
from wattlens.tracking import Monitor
from wattlens.tracking.monitor import _ProcessShare

SLURM = {"SLURM_CPUS_ON_NODE": "2", "SLURM_MEM_PER_NODE": "4096"}


def test_slurm_variables_win_and_are_named() -> None:
    a = detect_allocation(SLURM, node_cpus=8, node_memory_gb=32.0, affinity=frozenset(range(8)))
    assert (a.cpus, a.cpu_basis, a.memory_gb, a.memory_basis) == (2, BASIS_SLURM, 4.0, "SLURM_MEM_PER_NODE")
    assert a.partial and a.cpu_fraction == 0.25 and a.memory_fraction == 0.125
    assert "2 of 8 CPUs (SLURM_CPUS_ON_NODE)" in a.describe() and "4.0 GB of 32.0 GB" in a.describe()


def test_memory_per_cpu_and_affinity_without_slurm() -> None:
    a = detect_allocation(
        {"SLURM_MEM_PER_CPU": "1024"}, node_cpus=8, node_memory_gb=32.0, affinity=frozenset({0, 1, 2})
    )
    assert (a.cpus, a.cpu_basis, a.cpu_ids) == (3, BASIS_AFFINITY, frozenset({0, 1, 2}))
    assert a.memory_gb == 3.0 and a.memory_basis == "SLURM_MEM_PER_CPU x 3 CPUs"


def test_whole_node_bad_values_and_caps_are_said_not_raised() -> None:
    a = detect_allocation({}, node_cpus=4, node_memory_gb=16.0, affinity=frozenset(range(4)))
    assert not a.partial and a.cpu_basis == BASIS_NODE
    bad = detect_allocation(
        {"SLURM_CPUS_ON_NODE": "lots", "SLURM_MEM_PER_NODE": "99999999"},
        node_cpus=4,
        node_memory_gb=16.0,
        affinity=frozenset(range(4)),
    )
    assert bad.cpus == 4 and bad.memory_gb == 16.0
    assert any("not a whole number" in n for n in bad.notes) and any("capped" in n for n in bad.notes)


def test_node_allocation_is_the_union_of_the_ranks_cpus() -> None:
    parts = [detect_allocation({}, node_cpus=8, node_memory_gb=8.0, affinity=frozenset(s)) for s in ({0, 1}, {2, 3})]
    node = node_allocation(parts)
    assert node.cpus == 4 and node.cpu_ids == frozenset({0, 1, 2, 3}) and node.cpu_fraction == 0.5


def test_estimator_charges_only_the_owned_cpus_and_memory() -> None:
    part = detect_allocation(SLURM, node_cpus=64, node_memory_gb=32.0, affinity=frozenset(range(64)))
    four = detect_allocation({"SLURM_CPUS_ON_NODE": "4"}, node_cpus=64, node_memory_gb=32.0)
    kw = {"cpu_tdp_w": 80.0, "cpu_threads": 8}
    mine = EstimatorSource("machine", allocation=part, **kw)
    idle_only = ((0.0, 0.0), (0.0, 0.0), 10.0)  # ten idle seconds: static power and memory only
    m_cpu, m_mem = mine.delta_values(*idle_only)
    assert m_cpu.energy_j == pytest.approx(mine.model.idle_w.mid * 2 * 10.0)  # 2 CPUs' idle power, not 64
    f_cpu, _ = EstimatorSource("machine", allocation=four, **kw).delta_values(*idle_only)
    assert f_cpu.energy_j == pytest.approx(2 * m_cpu.energy_j)
    assert m_mem.energy_j == pytest.approx(0.392 * 4.0 * 10.0)  # the 4 GB it was given
    assert "the job's 2 of 64 CPUs (SLURM_CPUS_ON_NODE)" in m_cpu.note and "owned by the job" in m_mem.note
    dyn = EstimatorSource("machine", allocation=part, static=False, **kw)
    assert dyn.domains == ("cpu",)
    (d_cpu,) = dyn.delta_values((0.0, 0.0), (1.0, 0.0), 10.0)
    (busy_cpu, _) = mine.delta_values((0.0, 0.0), (1.0, 0.0), 10.0)
    assert d_cpu.energy_j == pytest.approx(busy_cpu.energy_j - m_cpu.energy_j)  # the dynamic part only


def test_machine_attribution_scales_measured_counters_to_the_allocation() -> None:
    part = detect_allocation(SLURM, node_cpus=8, node_memory_gb=32.0, affinity=frozenset(range(8)))
    pkg, dram = CounterSource("pkg", "cpu"), CounterSource("dram", "memory")
    with Monitor([pkg, dram], "machine", allocation=part) as mon:
        mon.begin("w")
        pkg.value_j, dram.value_j = 80.0, 16.0
        m = mon.end("w")
    cpu, mem = m.components
    assert cpu.energy_j == pytest.approx(20.0) and cpu.method.endswith("×allocation-share")  # 2/8 of the package
    assert mem.energy_j == pytest.approx(2.0)  # 4/32 of the DRAM
    assert any("job allocation on this node: 2 of 8 CPUs" in n for n in m.notes)
    whole = detect_allocation({}, node_cpus=8, node_memory_gb=32.0, affinity=frozenset(range(8)))
    with Monitor([CounterSource("pkg", "cpu")], "machine", allocation=whole) as mon:
        assert mon._alloc_scale is None  # a whole node: counters as read


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="Linux /proc/stat")
def test_process_share_counts_foreign_cpus_idle_time_and_keeps_the_use_share_as_high() -> None:
    n = os.cpu_count() or 1
    if n < 2:
        pytest.skip("needs 2 CPUs")
    part = detect_allocation({}, node_cpus=n, node_memory_gb=8.0, affinity=frozenset({0}))
    share = _ProcessShare(part)
    a = share.read()
    end = __import__("time").monotonic() + 0.5
    while __import__("time").monotonic() < end:
        pass
    b = share.read()
    share.close()
    assert a is not None and b is not None and len(a) == 3
    central, use = _ProcessShare.share(a, b), _ProcessShare.use_share(a, b)
    assert central is not None and use is not None and central <= use  # other CPUs' idle time is theirs
    assert b[2] >= a[2] >= 0  # idle seconds of the CPUs the job does not own (0 on a busy machine)
