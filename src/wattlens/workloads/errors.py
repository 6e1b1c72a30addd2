"""The one error type of the workloads layer (import-light: no torch)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from wattlens.errors import WattlensError


class WorkloadError(WattlensError, ValueError):
    """A workload cannot be built or run as asked; the message names what is wrong and what is allowed."""


def close_matches(name: str, choices: Iterable[str], n: int = 5) -> list[str]:
    """Case-insensitive close matches of ``name`` among ``choices`` (original spelling kept)."""
    pool = {c.lower(): c for c in choices}
    hits = difflib.get_close_matches(name.lower(), list(pool), n=n, cutoff=0.5)
    # substring hits catch short names ("gpt") that difflib's ratio misses
    hits += [k for k in pool if name.lower() in k and k not in hits]
    return [pool[h] for h in hits[:n]]
