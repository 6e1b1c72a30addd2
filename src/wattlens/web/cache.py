"""What the page computed from the store, kept until the part of the store it was computed from changes.

A leaderboard of 10,000 cells takes seconds to build (every cell read back as a record, its carbon computed, the
whole run rated); the page answers in milliseconds by keeping it. Every kept value names what it was computed from
(its *scopes*): :data:`MEASUREMENTS` (the ``measure`` records), :data:`RUN_LIST` (which runs exist and their
status), :data:`CELL_COUNTS` (how many cells each run has) and :func:`run_scope` (one run: its row and its
cells). The store's change marks (:meth:`wattlens.store.db.Store.change_marks`) are read at most once per
``recheck_s``; a change makes stale only the values of the scopes that changed: a new ``measure`` record, the
History page's; a new cell of one run, that run's views and the run list. So a run that is still writing cells
shows its new cells within ``recheck_s`` without the other runs being recomputed.

A value that is slow to rebuild (a leaderboard) can be asked for with :meth:`ResultsCache.get_or_stale`: when it
is stale, the previous value is answered at once, *marked stale with the time it was computed*, while one
background thread computes the new one (the page says so and reloads); the first request after a write never
waits seconds. One lock per key: two requests for the same cold value compute it once.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from wattlens._logging import get_logger

logger = get_logger(__name__)
T = TypeVar("T")

MEASUREMENTS = "measurements"  # the measure records (History)
RUN_LIST = "runs"  # which runs exist, their status and configuration
CELL_COUNTS = "cell-counts"  # how many cells each run has (the run lists)
EVERYTHING: frozenset[Hashable] | None = None  # a value computed from anything (stale after any change)
NOTHING: frozenset[Hashable] = frozenset()  # a value derived from other kept values only (keyed by their tokens)


def run_scope(run_id: str) -> tuple[str, str]:
    """The scope of one run: its row (status) and its cells."""
    return ("run", run_id)


def changed_scopes(old: Mapping[str, Any], new: Mapping[str, Any]) -> set[Hashable]:
    """The scopes that differ between two :meth:`Store.change_marks` answers."""
    out: set[Hashable] = set()
    if old.get("measurements") != new.get("measurements"):
        out.add(MEASUREMENTS)
    for part, scope in (("runs", RUN_LIST), ("cells", CELL_COUNTS)):
        a: Mapping[str, object] = old.get(part) or {}
        b: Mapping[str, object] = new.get(part) or {}
        if a != b:
            out.add(scope)
            out.update(run_scope(r) for r in set(a) | set(b) if a.get(r) != b.get(r))
    return out


@dataclass(frozen=True)
class Cached(Generic[T]):
    """A kept value: ``token`` names this computation (values derived from it are keyed by it), ``stale`` says
    that the store has changed since ``computed_unix_s`` and a new value is being computed."""

    value: T
    token: int
    computed_unix_s: float
    stale: bool = False


@dataclass
class _Entry:
    value: object
    deps: frozenset[Hashable] | None
    versions: tuple[tuple[Hashable, int], ...]
    epoch: int
    token: int
    computed_unix_s: float


class ResultsCache:
    """Memoised reads of one store (thread-safe: the server answers from a thread pool)."""

    def __init__(self, store: Any, *, recheck_s: float = 1.0, max_entries: int = 256) -> None:
        self.store = store
        self.recheck_s = recheck_s
        self.max_entries = max_entries
        self._values: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._locks: dict[Hashable, threading.Lock] = {}
        self._guard = threading.Lock()
        self._checking = threading.Lock()
        self._marks: Mapping[str, Any] | None = None
        self._fingerprint: tuple[object, ...] | None = None
        self._versions: dict[Hashable, int] = {}
        self._epoch = 0  # bumped on any change (values computed from EVERYTHING)
        self._tokens = itertools.count(1)
        self._rebuilding: set[Hashable] = set()
        self._checked = -float("inf")

    # -- what changed ------------------------------------------------------------------------------------
    def _fresh(self) -> None:
        """Learn what changed in the store since the last look (looked at most every recheck_s)."""
        now = time.monotonic()
        if now - self._checked < self.recheck_s or not self._checking.acquire(blocking=False):
            return  # looked at recently, or another request is looking now
        try:
            if now - self._checked < self.recheck_s:
                return
            if hasattr(self.store, "change_marks"):
                self._apply_marks(self.store.change_marks(), now)
            else:
                self._apply_fingerprint(now)
        finally:
            self._checking.release()

    def _apply_marks(self, marks: Mapping[str, Any], now: float) -> None:
        with self._guard:
            self._checked = now
            if self._marks is None:
                self._marks = marks
                return
            changed = changed_scopes(self._marks, marks)
            self._marks = marks
            if changed:
                self._bump(changed)

    def _apply_fingerprint(self, now: float) -> None:
        """A store without change marks: any change (or no fingerprint at all) makes everything stale."""
        fingerprint = tuple(self.store.fingerprint()) if hasattr(self.store, "fingerprint") else None
        with self._guard:
            self._checked = now
            if fingerprint is None or fingerprint != self._fingerprint:
                self._fingerprint = fingerprint
                self._epoch += 1
                self._versions.clear()
                self._values.clear()

    def _bump(self, changed: Iterable[Hashable]) -> None:
        changed = list(changed)
        self._epoch += 1
        for scope in changed:
            self._versions[scope] = self._versions.get(scope, 0) + 1
        stale = sum(1 for e in self._values.values() if not self._is_fresh(e))
        logger.info("the store changed (%s): %d kept values to recompute", _describe(changed), stale)

    def _is_fresh(self, entry: _Entry) -> bool:
        if entry.deps is None:
            return entry.epoch == self._epoch
        return all(self._versions.get(scope, 0) == v for scope, v in entry.versions)

    def _stamp(self, deps: frozenset[Hashable] | None) -> tuple[tuple[tuple[Hashable, int], ...], int]:
        versions = () if deps is None else tuple((s, self._versions.get(s, 0)) for s in deps)
        return versions, self._epoch

    # -- reading ---------------------------------------------------------------------------------------------
    def get(self, key: Hashable, compute: Callable[[], T], deps: Iterable[Hashable] | None = EVERYTHING) -> T:
        """The value for ``key``, computed once per state of the scopes in ``deps`` (None: of the whole store)."""
        return self.get_cached(key, compute, deps).value

    def get_cached(
        self, key: Hashable, compute: Callable[[], T], deps: Iterable[Hashable] | None = EVERYTHING
    ) -> Cached[T]:
        """:meth:`get` with the value's token and when it was computed."""
        self._fresh()
        scopes = None if deps is None else frozenset(deps)
        entry = self._hit(key, fresh_only=True)
        if entry is not None:
            return _cached(entry)
        return self._compute(key, compute, scopes)

    def get_or_stale(self, key: Hashable, compute: Callable[[], T], deps: Iterable[Hashable]) -> Cached[T]:
        """The kept value even when stale (marked so, and recomputed in the background); computed now only when
        there is none at all."""
        self._fresh()
        scopes = frozenset(deps)
        entry = self._hit(key, fresh_only=False)
        if entry is None:
            return self._compute(key, compute, scopes)
        with self._guard:
            fresh = self._is_fresh(entry)
            start = not fresh and key not in self._rebuilding
            if start:
                self._rebuilding.add(key)
        if start:
            threading.Thread(
                target=self._rebuild, args=(key, compute, scopes), name="wattlens-cache-rebuild", daemon=True
            ).start()
        return _cached(entry, stale=not fresh)

    def _hit(self, key: Hashable, *, fresh_only: bool) -> _Entry | None:
        with self._guard:
            entry = self._values.get(key)
            if entry is None or (fresh_only and not self._is_fresh(entry)):
                return None
            self._values.move_to_end(key)  # least recently used goes first
            return entry

    def _compute(self, key: Hashable, compute: Callable[[], T], deps: frozenset[Hashable] | None) -> Cached[T]:
        """Compute and keep the value (once: a thread that waited for another one computing it reads that)."""
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            entry = self._hit(key, fresh_only=True)
            if entry is not None:
                return _cached(entry)
            with self._guard:
                versions, epoch = self._stamp(deps)  # before computing: a change meanwhile makes it stale
            started = time.perf_counter()
            value = compute()
            logger.debug("computed %r in %.3f s", key, time.perf_counter() - started)
            entry = _Entry(value, deps, versions, epoch, next(self._tokens), time.time())
            self._keep(key, entry)
            return _cached(entry)

    def _keep(self, key: Hashable, entry: _Entry) -> None:
        with self._guard:
            self._values[key] = entry
            self._values.move_to_end(key)
            while len(self._values) > self.max_entries:
                self._values.popitem(last=False)

    def _rebuild(self, key: Hashable, compute: Callable[[], object], deps: frozenset[Hashable]) -> None:
        """Recompute a stale value in the background; on failure drop it (the next request computes it and says
        what is wrong)."""
        try:
            self._compute(key, compute, deps)
        except Exception as exc:
            logger.warning("recomputing %r failed (%s: %s); the next request computes it", key, type(exc).__name__, exc)
            with self._guard:
                self._values.pop(key, None)
        finally:
            with self._guard:
                self._rebuilding.discard(key)

    def rebuilding(self) -> bool:
        """Whether a stale value is being recomputed in the background (tests and benchmarks wait on it)."""
        with self._guard:
            return bool(self._rebuilding)


def _cached(entry: _Entry, *, stale: bool = False) -> Cached[Any]:
    return Cached(entry.value, entry.token, entry.computed_unix_s, stale)


def _describe(scopes: Iterable[Hashable]) -> str:
    names = sorted(s[1] if isinstance(s, tuple) else str(s) for s in scopes)
    return ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
