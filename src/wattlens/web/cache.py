"""What the page computed from the store, kept until the store changes.

A leaderboard of 10,000 cells takes seconds to build (every cell read back as a record, its carbon computed, the
whole run rated); the page answers in milliseconds by keeping it. The store's fingerprint (run, cell and
measurement counts and latest updates; :meth:`wattlens.store.db.Store.fingerprint`) is read at most once per
``recheck_s`` and any change drops everything, so a run that is still writing cells shows its new cells within
that time. One lock per key: two requests for the same cold leaderboard compute it once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from wattlens._logging import get_logger

logger = get_logger(__name__)
T = TypeVar("T")


class ResultsCache:
    """Memoised reads of one store (thread-safe: the server answers from a thread pool)."""

    def __init__(self, store: Any, *, recheck_s: float = 1.0, max_entries: int = 256) -> None:
        self.store = store
        self.recheck_s = recheck_s
        self.max_entries = max_entries
        self._values: dict[Hashable, object] = {}
        self._locks: dict[Hashable, threading.Lock] = {}
        self._guard = threading.Lock()
        self._fingerprint: tuple[object, ...] | None = None
        self._checked = 0.0

    def _fresh(self) -> None:
        """Drop everything when the store has changed since the last look (looked at most every recheck_s)."""
        now = time.monotonic()
        if now - self._checked < self.recheck_s:
            return
        fingerprint = tuple(self.store.fingerprint()) if hasattr(self.store, "fingerprint") else None
        with self._guard:
            self._checked = now
            if fingerprint != self._fingerprint or fingerprint is None:
                if self._values:
                    logger.info("the store changed: recomputing what the page shows")
                self._values.clear()
                self._fingerprint = fingerprint

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The value for ``key``, computed once per store state."""
        self._fresh()
        with self._guard:
            if key in self._values:
                return self._values[key]  # type: ignore[return-value]
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            with self._guard:
                if key in self._values:
                    return self._values[key]  # type: ignore[return-value]
            started = time.perf_counter()
            value = compute()
            logger.debug("computed %r in %.3f s", key, time.perf_counter() - started)
            with self._guard:
                if len(self._values) >= self.max_entries:
                    self._values.pop(next(iter(self._values)))
                self._values[key] = value
            return value
