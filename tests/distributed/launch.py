"""Real ``torchrun`` jobs from the tests: N CPU processes (gloo), rendezvous and traffic on 127.0.0.1 only."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

TORCHRUN = Path(sys.executable).with_name("torchrun")
_LAUNCHER_VARS = ("SLURM_", "OMPI_", "PMI_")  # an outer launcher's variables would confuse the ranks' detection


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (for the rendezvous)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def torchrun(script: Path | str, *args: str, nproc: int = 2, options: tuple[str, ...] = ()) -> list[str]:
    """The command line that runs ``script args`` in ``nproc`` processes on this machine (static rendezvous)."""
    return [
        str(TORCHRUN),
        f"--nproc_per_node={nproc}",
        "--master_addr=127.0.0.1",
        f"--master_port={free_port()}",
        *options,
        str(script),
        *args,
    ]


def job_env(**extra: str) -> dict[str, str]:
    """This environment without other launchers' variables, one thread per rank (the ranks share the cores)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_LAUNCHER_VARS)}
    env.update(OMP_NUM_THREADS="1", **extra)
    return env
