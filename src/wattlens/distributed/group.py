"""The process group of the user's job, when there is one: torch.distributed, never imported here.

``torch.distributed`` is used only when the user's own code already imported it and initialised a process group
(``sys.modules``), so ``wattlens.distributed`` adds no import and no collective a job did not ask for. Without a
group each process keeps its own part; the store (``wattlens results --job``) brings them together later.
"""

from __future__ import annotations

import sys
from typing import Any


def active_group() -> Any | None:
    """The ``torch.distributed`` module when a default process group is initialised, else None."""
    dist = sys.modules.get("torch.distributed")
    if dist is None:
        return None
    try:
        if dist.is_available() and dist.is_initialized():
            return dist
    except Exception:  # a half-initialised group is no group
        return None
    return None


def gather(dist: Any, obj: object) -> list[Any]:
    """Every rank's ``obj``, in rank order (``all_gather_object``: a collective every rank must call)."""
    out: list[Any] = [None] * int(dist.get_world_size())
    dist.all_gather_object(out, obj)
    return out


def describe(dist: Any) -> str:
    try:
        backend = str(dist.get_backend())
    except Exception:  # informative only
        backend = "unknown backend"
    return f"torch.distributed all_gather_object over {dist.get_world_size()} ranks ({backend})"


__all__ = ["active_group", "describe", "gather"]
