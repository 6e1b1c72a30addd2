"""A background reader that takes slow hardware reads off a window's edge.

One NVML energy-counter read costs 3.8 ms (median) and 15 ms (p95) on a virtualised H200
(docs/HARDWARE-RUNS.md), so a window edge that reads the counter itself blocks the caller for milliseconds —
about 15 % of a 50 ms training step. An :class:`EdgeReader` owns one thread per source: an edge only *asks*
for a reading (:meth:`EdgeReader.request`, a few µs) and gets an :class:`EdgeBatch` that the thread fills in.

* **Coalescing.** Requests that arrive while a read is in flight join the *next* read: one read serves every
  request queued meanwhile, so a burst of edges costs one read, and every reading is taken after the request
  it serves (it contains all the energy up to the edge). Each request's lag — from its request to the end of
  the read that served it — is the caller's to record (``EdgeBatch.t_end_s`` minus its own request time).
* **Bounded waits.** :meth:`EdgeBatch.wait` waits at most until ``timeout_s`` after the batch's first request,
  so a result read long after its edge never waits, and a reader stuck in the driver costs each window at
  most ``timeout_s``: the caller then reports the part ``unavailable`` with :meth:`EdgeBatch.failure_reason`.
* **Lifecycle.** The thread starts on the first request and :meth:`EdgeReader.close` stops it after it has
  served every request made before the close; nothing of it runs after ``close`` returns ``True``. A forked
  child (DataLoader workers, multiprocessing) inherits no thread: its readers start afresh on their next
  request, and a request the parent left pending fails at once with that reason.

>>> seen = []
>>> r = EdgeReader(seen.append, name="doc")
>>> b = r.request()
>>> b is not None and b.wait() and seen == [b], r.close(), r.running
(True, True, False)
"""

from __future__ import annotations

import _thread
import os
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

EDGE_TIMEOUT_S = 2.0  # how long after an edge its reading may still arrive (NVML p95 was 15 ms on the H200)
# A batch is read once no request joined it for COALESCE_S (edges that close one window and open the next a
# few µs apart then share one reading, so back-to-back windows tile exactly), but never later than HOLD_S
# after its first request. Both are small against one read (3.8 ms on the H200); the lag they add is recorded.
COALESCE_S = 0.0002
HOLD_S = 0.001
_monotonic = time.monotonic


class EdgeBatch:
    """One read, shared by every request queued while the previous read ran.

    The source's ``read(batch)`` sets ``values`` / ``errors`` (what it would have put in a Snapshot), ``extra``
    (anything else it keeps with the reading) and ``t_start_s`` / ``t_end_s`` (its clock just before and just
    after the hardware read); ``failure`` is set instead when the read itself raised.
    """

    __slots__ = (
        "_done",
        "_finished",
        "deadline",
        "errors",
        "extra",
        "failure",
        "first_s",
        "last_s",
        "requests",
        "t_end_s",
        "t_start_s",
        "values",
    )

    def __init__(self, now: float, timeout_s: float) -> None:
        self._done = _thread.allocate_lock()  # held until the reading is there: a latch (4 µs cheaper than an Event)
        self._done.acquire()
        self._finished = False
        self.first_s = self.last_s = now  # time.monotonic() of the first and the latest request
        self.deadline = now + timeout_s  # after which waiters give up
        self.values: Any = None
        self.errors: dict[str, str] = {}
        self.extra: Any = None
        self.failure = ""
        self.t_start_s = 0.0
        self.t_end_s = 0.0
        self.requests = 0  # how many edges this read serves

    @property
    def done(self) -> bool:
        return self._finished

    def wait(self) -> bool:
        """Whether the reading arrived, waiting at most until the batch's deadline."""
        if self._finished:
            return True
        left = self.deadline - _monotonic()
        if left > 0 and self._done.acquire(True, left):
            self._done.release()  # let every other waiter through
        return self._finished

    def finish(self) -> None:
        if not self._finished:
            self._finished = True
            self._done.release()

    def failure_reason(self, timeout_s: float, what: str) -> str:
        """Why this batch has no reading: the reader's failure, or that it is late (``what`` names the read)."""
        if self.failure:
            return self.failure
        return f"{what} not done {timeout_s:g} s after the edge (the background reader is stuck in the driver)"

    def __repr__(self) -> str:
        state = "failed" if self.failure else "done" if self._finished else "pending"
        return f"EdgeBatch({state}, requests={self.requests}, values={self.values!r})"


class EdgeReader:
    """The thread that serves :class:`EdgeBatch` requests with ``read(batch)``.

    Args:
        read: fills one batch (see :class:`EdgeBatch`); may raise — the batch then carries the reason.
        name: the thread's name suffix.
        timeout_s: see the module docstring.
    """

    def __init__(self, read: Callable[[EdgeBatch], None], *, name: str, timeout_s: float = EDGE_TIMEOUT_S) -> None:
        self._read = read
        self._name = f"wattlens-edge-{name}"
        self.timeout_s = timeout_s
        self._mutex = _thread.allocate_lock()  # guards _open, _stopping, _dead and the counts
        self._wake = _thread.allocate_lock()  # released when there is work: the thread blocks acquiring it
        self._wake.acquire()
        self._open: EdgeBatch | None = None  # the batch the next read will serve
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._dead = ""  # why the thread ended on its own (an error that escaped read())
        self.reads = 0
        self.requests = 0
        _READERS.add(self)

    @property
    def running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def request(self) -> EdgeBatch | None:
        """The batch that will hold the reading for an edge asked for now; None once the reader is closed."""
        with self._mutex:
            if self._stopping:
                return None
            self.requests += 1
            now = _monotonic()
            batch = self._open
            if batch is not None:
                batch.last_s = now
            else:
                batch = EdgeBatch(now, self.timeout_s)
                if self._dead:  # the thread is gone: say why at once rather than after the timeout
                    batch.failure = self._dead
                    batch.finish()
                else:
                    self._open = batch
                    if self._thread is None:
                        self._start()
                    elif self._wake.locked():
                        self._wake.release()
            batch.requests += 1
            return batch

    def _start(self) -> None:
        """Start the thread (caller holds the mutex); a failure is the batch's reason, not an exception."""
        thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        try:
            thread.start()
        except RuntimeError as exc:  # can't start a new thread: this edge, and later ones, say so
            self._dead = f"background edge reader could not start: {exc}"
            batch, self._open = self._open, None
            if batch is not None:
                batch.failure = self._dead
                batch.finish()
            return
        self._thread = thread
        # Only now: while start() waited for it, the thread could run, and it must block on _wake, never on the
        # mutex held here (it would then hold the mutex while waiting for the GIL, and take the batch before the
        # next edge of a burst could join it).
        self._wake.release()

    def _run(self) -> None:
        try:
            while True:
                self._wake.acquire()
                batch = self._take()
                while batch is not None:  # requests that came while it read: served without waiting to be woken
                    self._serve(batch)
                    batch = self._take()
                if self._stopping:  # every request made before close() is served
                    return
        except BaseException as exc:  # a dying reader must leave a reason behind
            with self._mutex:
                self._dead = f"background edge reader stopped: {type(exc).__name__}: {exc}"
                batch, self._open = self._open, None
            if batch is not None:
                batch.failure = self._dead
                batch.finish()

    def _take(self) -> EdgeBatch | None:
        """The open batch once it is quiet (COALESCE_S without a new request) or old (HOLD_S), or None."""
        while True:
            with self._mutex:
                batch = self._open
                if batch is None:
                    return None
                now = _monotonic()
                quiet_s = now - batch.last_s
                if self._stopping or quiet_s >= COALESCE_S or now - batch.first_s >= HOLD_S:
                    self._open = None
                    return batch
            time.sleep(COALESCE_S - quiet_s)

    def _serve(self, batch: EdgeBatch) -> None:
        try:
            self._read(batch)
        except Exception as exc:
            batch.failure = f"background edge read failed: {type(exc).__name__}: {exc}"
        finally:
            with self._mutex:
                self.reads += 1
            batch.finish()

    def _after_fork_in_child(self) -> None:
        """Only the forking thread survives a fork: forget the parent's thread and locks (they may be held)."""
        self._mutex = _thread.allocate_lock()
        self._wake = _thread.allocate_lock()
        self._wake.acquire()
        self._thread = None
        batch, self._open = self._open, None
        if batch is not None:
            batch.failure = "the process forked before this edge was read"
            batch.finish()

    def close(self, join_timeout_s: float | None = None) -> bool:
        """Serve what was asked for, stop the thread and wait for it (at most ``join_timeout_s``, default the
        read timeout). True when no thread of this reader runs any more. Idempotent."""
        with self._mutex:
            self._stopping = True
            if self._wake.locked() and self._thread is not None:
                self._wake.release()
            thread = self._thread
        if thread is None or thread is threading.current_thread():
            return thread is None
        thread.join(self.timeout_s if join_timeout_s is None else join_timeout_s)
        return not thread.is_alive()


_READERS: weakref.WeakSet[EdgeReader] = weakref.WeakSet()


def _reset_readers_after_fork() -> None:
    for reader in list(_READERS):
        reader._after_fork_in_child()


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_reset_readers_after_fork)

__all__ = ["COALESCE_S", "EDGE_TIMEOUT_S", "HOLD_S", "EdgeBatch", "EdgeReader"]
