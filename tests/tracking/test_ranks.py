"""Rank detection for torchrun / Slurm / MPI / torch.distributed, and the meter/log rules built on it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest

from wattlens.tracking.ranks import LAUNCHER_SINGLE, detect_rank


def test_single_process_meters_and_logs():
    info = detect_rank({})
    assert (info.rank, info.local_rank, info.world_size, info.launcher) == (0, 0, 1, LAUNCHER_SINGLE)
    assert info.meters_node and info.logs and not info.distributed


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (  # torchrun, second node's first process: meters its node, does not log
            {"RANK": "4", "LOCAL_RANK": "0", "WORLD_SIZE": "8", "LOCAL_WORLD_SIZE": "4", "GROUP_RANK": "1"},
            (4, 0, 8, 1, 2, "torchrun", True, False),
        ),
        (  # torchrun, a non-zero local rank: neither meters nor logs
            {"RANK": "3", "LOCAL_RANK": "3", "WORLD_SIZE": "8", "LOCAL_WORLD_SIZE": "4"},
            (3, 3, 8, 0, 2, "torchrun", False, False),
        ),
        (
            {
                "OMPI_COMM_WORLD_RANK": "5",
                "OMPI_COMM_WORLD_LOCAL_RANK": "1",
                "OMPI_COMM_WORLD_SIZE": "6",
                "OMPI_COMM_WORLD_LOCAL_SIZE": "3",
            },
            (5, 1, 6, 1, 2, "openmpi", False, False),
        ),
        (
            {"SLURM_PROCID": "0", "SLURM_LOCALID": "0", "SLURM_NTASKS": "4", "SLURM_NODEID": "0", "SLURM_NNODES": "2"},
            (0, 0, 4, 0, 2, "slurm", True, True),
        ),
        (  # srun starting torchrun: torchrun's variables describe the training process
            {
                "SLURM_PROCID": "1",
                "SLURM_LOCALID": "0",
                "SLURM_NTASKS": "2",
                "RANK": "2",
                "LOCAL_RANK": "1",
                "WORLD_SIZE": "4",
                "LOCAL_WORLD_SIZE": "2",
            },
            (2, 1, 4, 1, 2, "torchrun", False, False),
        ),
    ],
)
def test_launcher_variables(env, expected):
    info = detect_rank(env)
    got = (info.rank, info.local_rank, info.world_size, info.node_rank, info.nodes, info.launcher)
    assert (*got, info.meters_node, info.logs) == expected


def test_untrusted_variables_are_skipped_with_a_note():
    info = detect_rank({"RANK": "two", "WORLD_SIZE": "4", "SLURM_PROCID": "1", "SLURM_NTASKS": "2"})
    assert info.launcher == "slurm" and info.rank == 1
    assert any("torchrun variables ignored" in n and "RANK='two'" in n for n in info.notes)
    bad = detect_rank({"RANK": "5", "WORLD_SIZE": "4"})  # rank not below world size
    assert bad.launcher == LAUNCHER_SINGLE and "not below" in bad.notes[0]


def test_missing_local_rank_is_taken_as_the_global_rank_and_said():
    info = detect_rank({"RANK": "1", "WORLD_SIZE": "2"})
    assert info.local_rank == 1 and not info.meters_node
    assert "LOCAL_RANK not set" in info.notes[0]


def test_scope_says_what_a_node_figure_covers():
    info = detect_rank({"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "4", "LOCAL_WORLD_SIZE": "2"})
    assert "node 0 of 2" in info.scope and "other nodes not included" in info.scope
    assert json.loads(json.dumps(info.to_dict()))["meters_node"] is True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_real_gloo_processes_agree_with_torch_distributed(tmp_path):
    """Two processes in a real gloo process group (loopback): each sees its own rank from torch.distributed."""
    script = tmp_path / "rank.py"
    script.write_text(
        textwrap.dedent(
            """
            import json, os, sys
            import torch.distributed as dist
            dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{sys.argv[1]}",
                                    rank=int(sys.argv[2]), world_size=2)
            from wattlens.tracking.ranks import detect_rank
            info = detect_rank()
            print(json.dumps(info.to_dict()))
            dist.barrier()
            dist.destroy_process_group()
            """
        )
    )
    port = str(_free_port())
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "LOCAL_RANK", "WORLD_SIZE")}
    procs = [
        subprocess.Popen([sys.executable, str(script), port, str(r)], stdout=subprocess.PIPE, text=True, env=env)
        for r in (0, 1)
    ]
    outs = [json.loads(p.communicate(timeout=120)[0].strip().splitlines()[-1]) for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert [(o["rank"], o["world_size"], o["launcher"]) for o in outs] == [
        (0, 2, "torch.distributed"),
        (1, 2, "torch.distributed"),
    ]
    assert [o["logs"] for o in outs] == [True, False]
    assert [o["meters_node"] for o in outs] == [True, False]  # one node, no LOCAL_RANK: local = global rank
