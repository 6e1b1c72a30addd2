"""Who meters what: the election of one node meter, each rank's own accelerators, the node's allocation, the
monitor a plan builds (NVML through the faithful stand-in of tests/meters/fakes), and the reduction."""

from __future__ import annotations

import functools

import pytest

from tests.meters.fakes.nvml import HOPPER, machine
from wattlens.distributed.meter import plan_sources
from wattlens.distributed.records import DomainEnergy
from wattlens.distributed.reduce import combine_components, reduce_ranks
from wattlens.distributed.topology import Peer, gpu_assignment, plan_for
from wattlens.meters.nvml import NvmlSource
from wattlens.tracking.ranks import detect_rank

TORCHRUN = {"RANK": "5", "LOCAL_RANK": "1", "WORLD_SIZE": "8", "LOCAL_WORLD_SIZE": "4", "GROUP_RANK": "1"}
SLURM = {"SLURM_PROCID": "3", "SLURM_LOCALID": "1", "SLURM_NTASKS": "4", "SLURM_NODEID": "1", "SLURM_NNODES": "2"}
OMPI = {"OMPI_COMM_WORLD_RANK": "2", "OMPI_COMM_WORLD_LOCAL_RANK": "0", "OMPI_COMM_WORLD_SIZE": "4",
        "OMPI_COMM_WORLD_LOCAL_SIZE": "2"}  # fmt: skip


@pytest.mark.parametrize(
    ("env", "meters", "node"),
    [(TORCHRUN, False, "1"), (SLURM, False, "1"), (OMPI, True, "1"), ({}, True, "0")],
)
def test_without_a_process_group_local_rank_0_meters_its_node(env: dict[str, str], meters: bool, node: str) -> None:
    plan = plan_for(detect_rank(env), environ=env, host="h")
    assert plan.meters_node is meters and plan.node_key == node
    assert plan.election.startswith("local rank 0") or plan.election == "single process"


def test_with_a_process_group_the_lowest_rank_per_host_is_elected_whatever_local_rank_says() -> None:
    # a launcher that left LOCAL_RANK wrong: both ranks on host "a" claim local rank 0
    peers = [Peer(0, "a", 0, 10, (0,)), Peer(1, "a", 0, 11, (1,)), Peer(2, "b", 0, 12, (0,)), Peer(3, "b", 1, 13, (1,))]
    elected = {}
    for p in peers:
        env = {"RANK": str(p.rank), "LOCAL_RANK": str(p.local_rank), "WORLD_SIZE": "4"}
        plan = plan_for(detect_rank(env), environ=env, host=p.host, peers=peers)
        elected[p.rank] = (plan.meters_node, plan.node_meter_rank)
    assert elected == {0: (True, 0), 1: (False, 0), 2: (True, 2), 3: (False, 2)}


def test_the_nodes_allocation_is_the_union_of_its_ranks_cpu_sets() -> None:
    peers = [Peer(0, "a", 0, 10, (0,)), Peer(1, "a", 1, 11, (1,))]
    env = {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "2"}
    plan = plan_for(detect_rank(env), environ=env, host="a", peers=peers)
    assert plan.node_allocation is not None and plan.node_allocation.cpu_ids == frozenset({0, 1})


def test_process_attribution_makes_every_rank_charge_its_own_share() -> None:
    plan = plan_for(detect_rank(TORCHRUN), attribution="process", environ=TORCHRUN, host="h")
    assert plan.meters_node and "process attribution" in plan.election


@pytest.mark.parametrize(
    ("env", "gpus", "rule"),
    [
        ({}, None, "single process"),
        (TORCHRUN, "1", "LOCAL_RANK-th"),
        ({**TORCHRUN, "CUDA_VISIBLE_DEVICES": "4,5,6,7"}, "5", "LOCAL_RANK-th"),
        ({**SLURM, "CUDA_VISIBLE_DEVICES": "3"}, "3", "the one GPU visible"),
        ({**TORCHRUN, "CUDA_VISIBLE_DEVICES": "0"}, "0", "the one GPU visible"),
        ({**TORCHRUN, "LOCAL_RANK": "3", "CUDA_VISIBLE_DEVICES": "0,1"}, "", ">= 2 GPUs"),
        ({**TORCHRUN, "WATTLENS_GPU_DEVICES": "2,3"}, "2,3", "WATTLENS_GPU_DEVICES"),
    ],
)
def test_each_rank_meters_only_its_own_accelerators(env: dict[str, str], gpus: str | None, rule: str) -> None:
    got, how = gpu_assignment(detect_rank(env), env)
    assert got == gpus and rule in how


def _fake_nvml(monkeypatch: pytest.MonkeyPatch, n: int = 4) -> None:
    """NVML sources opened by the plan use the stand-in machine (4 Hopper GPUs) instead of pynvml."""
    from wattlens.meters import discovery
    from wattlens.meters.base import SourceStatus

    fake = machine(HOPPER, n)
    real = discovery.probe_source

    def probe(name: str, **kw: object):
        if name == "nvml":
            return functools.partial(NvmlSource, nvml=fake), SourceStatus("nvml", True, "fake", ("gpu",), "measured")
        return real(name, **kw)

    monkeypatch.setattr(discovery, "probe_source", probe)


def test_a_rank_opens_nvml_for_its_gpu_only_and_no_node_level_estimate(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_nvml(monkeypatch)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1,2,3")
    plan = plan_for(detect_rank(TORCHRUN), environ={**TORCHRUN, "CUDA_VISIBLE_DEVICES": "0,1,2,3"}, host="h")
    sources, _statuses = plan_sources(plan)
    gpu = [s for s in sources if s.name == "nvml"]
    assert len(gpu) == 1 and [d.index for d in gpu[0].devices] == [1]
    est = [s for s in sources if s.name == "estimator"]
    assert len(est) == 1 and est[0].domains == ("cpu",) and est[0].static is False  # no memory, no idle power
    for s in sources:
        s.close()
    leader = plan_for(detect_rank({**TORCHRUN, "RANK": "4", "LOCAL_RANK": "0"}), environ=TORCHRUN, host="h")
    sources, _ = plan_sources(leader)
    assert next(s for s in sources if s.name == "estimator").domains == ("cpu", "memory")
    for s in sources:
        s.close()


def test_components_combine_by_domain_and_unreadable_parts_are_named_not_zero() -> None:
    parts = [
        DomainEnergy("cpu", "", 10.0, 8.0, 12.0, "measured", "rapl:package-0", (0,)),
        DomainEnergy("cpu", "", 2.0, 1.0, 3.0, "estimated", "cpu-time-model", (1,)),
        DomainEnergy("gpu", "1", None, None, None, "unavailable", "nvml:energy-counter", (1,), "GPU lost"),
    ]
    cpu, gpu = combine_components(parts)
    assert (cpu.energy_j, cpu.low_j, cpu.high_j, cpu.source, cpu.metered_by) == (12.0, 9.0, 15.0, "estimated", (0, 1))
    assert gpu.energy_j is None and "GPU lost" in gpu.note


def test_ranks_not_gathered_are_named_missing_not_counted() -> None:
    res = reduce_ranks("x", [], world_size=3, launcher="slurm", reduction="none")
    assert (
        not res.complete
        and res.missing_ranks == (0, 1, 2)
        and res.energy_j == 0
        and "not in this total" in res.notes[0]
    )
