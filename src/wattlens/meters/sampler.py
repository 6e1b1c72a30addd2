"""One shared background thread that polls the energy sources which cannot be read at window edges only.

Most sources are read at window edges and need no thread at all. A few need polling while a window is
open: power that must be integrated (pre-Volta NVIDIA, AMD fallback, Apple powermetrics) and counters
that could wrap more than once inside a window (RAPL). All of them share **one** daemon thread (not one
per source, not a process per counter file as Zeus does), which

* is started lazily, only when a window opens and at least one registered source asks for polling;
* polls each source at its own ``sample_period_s()`` (re-read after each sample and at each window
  opening, so a source may switch to polling later, e.g. an AMD counter found implausible);
* catches and records every exception raised by ``sample()``; nothing propagates out of the thread;
* is stopped **and joined** when the last open window closes (or on :meth:`Sampler.stop`), so nothing
  of it is alive afterwards.

Cost (measured on the 2-vCPU development VM): starting the thread ≈75 µs, stopping and joining it
≈45 µs, paid once per "no window open → window open → none open" cycle, and only when some source
needs polling. ``linger_s`` trades that for an idle thread that exits by itself ``linger_s`` after the
last window closed (``stop()`` still joins at once). Each wake-up costs a few µs of CPU plus the
source's ``sample()``; :meth:`Sampler.stats` reports the thread's own CPU time so the ≤ 0.1 %-of-a-core
budget can be checked.

Example:
    >>> from wattlens.meters.sampler import Sampler
    >>> s = Sampler()
    >>> s.open_window(); s.close_window()   # no source needs polling: no thread is ever started
    >>> s.running
    False
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from wattlens.meters.base import SourceUnavailableError

# When a registered source's period is None it is not polled; the thread still re-checks it this often
# so that a source that starts needing polling mid-window (rare) is picked up.
_RECHECK_S = 5.0
_MAX_ERRORS = 100  # bounded error log: a source failing at 10 Hz for a day must not grow memory


class _Entry:
    __slots__ = ("due_s", "period_s", "source")

    def __init__(self, source: Any) -> None:
        self.source = source
        self.period_s: float | None = None
        self.due_s = 0.0


class Sampler:
    """Polls registered sources from one daemon thread while at least one window is open.

    ``register(source)`` / ``unregister(source)`` choose the sources; ``open_window()`` /
    ``close_window()`` are called by the Monitor at window begin/end (they nest: the thread runs while
    the count is > 0). ``stop()`` ends the thread and joins it; the sampler can be reused afterwards.

    Example:
        >>> from wattlens.meters.sampler import Sampler
        >>> class Ticker:
        ...     name = "ticker"; n = 0
        ...     def sample_period_s(self): return 0.01
        ...     def sample(self): self.n += 1
        >>> s = Sampler(); t = Ticker(); s.register(t)
        >>> s.open_window(); import time; time.sleep(0.05); s.close_window()
        >>> t.n > 0 and not s.running
        True
    """

    def __init__(self, *, linger_s: float = 0.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._linger_s = max(0.0, float(linger_s))
        self._cond = threading.Condition(threading.Lock())
        self._entries: dict[int, _Entry] = {}
        self._open = 0
        self._thread: threading.Thread | None = None
        self._stop_flag = False
        self._exiting = False
        self._closed_at_s: float | None = None
        self.errors: deque[tuple[float, str, str]] = deque(maxlen=_MAX_ERRORS)  # (t_s, source, message)
        self._n_errors = 0
        self._n_samples = 0
        self._n_wakeups = 0
        self._cpu_s = 0.0

    # -- registration -------------------------------------------------------------------------------
    def register(self, source: Any) -> None:
        """Add a source (any object with ``sample_period_s()`` and ``sample()``). Idempotent."""
        with self._cond:
            if id(source) not in self._entries:
                self._entries[id(source)] = _Entry(source)
            self._refresh_locked(self._clock())
            if self._open > 0:
                self._ensure_thread_locked()
            self._cond.notify_all()

    def unregister(self, source: Any) -> None:
        with self._cond:
            self._entries.pop(id(source), None)
            self._cond.notify_all()

    # -- windows --------------------------------------------------------------------------------------
    def open_window(self) -> None:
        """One more window is open; start the thread if some source needs polling."""
        with self._cond:
            self._open += 1
            self._closed_at_s = None
            if self._open == 1 or self._thread is None:
                # A fresh run of windows: the edge read that opens it is itself a sample, so every
                # source is next due one period from now.
                self._refresh_locked(self._clock(), reset=self._open == 1)
                self._ensure_thread_locked()

    def close_window(self) -> None:
        """One window fewer; when none is left the thread is stopped and joined (unless ``linger_s``)."""
        with self._cond:
            if self._open > 0:
                self._open -= 1
            if self._open > 0:
                return
            if self._linger_s > 0.0:
                self._closed_at_s = self._clock()
                self._cond.notify_all()
                return
        self._stop_and_join()

    @property
    def open_windows(self) -> int:
        return self._open

    @property
    def running(self) -> bool:
        t = self._thread
        return t is not None and t.is_alive()

    def stop(self) -> None:
        """Stop and join the thread now, whatever the number of open windows. Idempotent."""
        with self._cond:
            self._open = 0
        self._stop_and_join()

    def stats(self) -> dict[str, float]:
        """Counters of the thread's work: wake-ups, samples, errors and its own CPU seconds."""
        return {
            "wakeups": self._n_wakeups,
            "samples": self._n_samples,
            "errors": self._n_errors,
            "thread_cpu_s": self._cpu_s,
        }

    # -- internals --------------------------------------------------------------------------------------
    def _refresh_locked(self, now_s: float, reset: bool = False) -> None:
        for e in self._entries.values():
            period = _safe_period(e.source)
            if reset or period != e.period_s:
                e.period_s = period
                e.due_s = now_s + period if period is not None else now_s + _RECHECK_S

    def _needs_thread_locked(self) -> bool:
        return any(e.period_s is not None for e in self._entries.values())

    def _ensure_thread_locked(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            if not self._exiting:
                return
            self._thread.join()  # it decided to end (linger over) and needs the lock no more
        if not self._needs_thread_locked():
            return
        self._stop_flag = False
        self._exiting = False
        self._thread = threading.Thread(target=self._run, name="wattlens-sampler", daemon=True)
        self._thread.start()

    def _stop_and_join(self) -> None:
        with self._cond:
            thread = self._thread
            self._stop_flag = True
            self._cond.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        with self._cond:
            if self._thread is thread:
                self._thread = None

    def _run(self) -> None:
        _block_async_signals()
        last_cpu_s = time.thread_time()
        try:
            while True:
                due = self._wait_for_due()
                if due is None:
                    return
                for entry in due:
                    self._sample_one(entry)
                now_cpu_s = time.thread_time()
                self._cpu_s += now_cpu_s - last_cpu_s
                last_cpu_s = now_cpu_s
        finally:
            self._cpu_s += time.thread_time() - last_cpu_s

    def _wait_for_due(self) -> list[_Entry] | None:
        """Block until some source is due (returned) or the thread must end (None)."""
        with self._cond:
            while True:
                if self._stop_flag:
                    self._exiting = True
                    return None
                now = self._clock()
                if self._open == 0:
                    if self._closed_at_s is None or now - self._closed_at_s >= self._linger_s:
                        self._exiting = True  # past this point the thread takes the lock no more
                        return None
                due = [e for e in self._entries.values() if e.due_s <= now]
                if due:
                    self._n_wakeups += 1
                    return due
                next_due = min((e.due_s for e in self._entries.values()), default=now + _RECHECK_S)
                timeout = next_due - now
                if self._open == 0 and self._closed_at_s is not None:
                    timeout = min(timeout, self._closed_at_s + self._linger_s - now)
                self._cond.wait(max(timeout, 0.0))

    def _sample_one(self, entry: _Entry) -> None:
        source = entry.source
        if entry.period_s is not None:
            try:
                source.sample()
                self._n_samples += 1
            except Exception as exc:  # a failing sensor must never kill the thread or the caller
                self._n_errors += 1
                self.errors.append((self._clock(), getattr(source, "name", type(source).__name__), repr(exc)))
        now = self._clock()
        with self._cond:
            period = _safe_period(source)
            entry.period_s = period
            entry.due_s = now + (period if period is not None else _RECHECK_S)


# Asynchronous, process-directed signals. A helper thread must not be the one the kernel picks to deliver them:
# a Python handler only runs in the main thread, and `wattlens measure` waits for them with sigwaitinfo() in
# its main thread (a signal delivered here would be lost to it). Synchronous ones (SIGSEGV...) stay unblocked.
_ASYNC_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGCHLD", "SIGWINCH")


def _block_async_signals() -> None:
    """Block the asynchronous signals in the calling (sampler) thread; a no-op where that is not possible."""
    import _signal  # type: ignore[import-not-found,unused-ignore]  # `signal`'s C half, loaded at start-up

    mask = getattr(_signal, "pthread_sigmask", None)
    if mask is None:  # Windows
        return
    try:
        mask(_signal.SIG_BLOCK, {getattr(_signal, n) for n in _ASYNC_SIGNALS if hasattr(_signal, n)})
    except (OSError, ValueError):  # nothing to protect then: the main thread still gets most signals
        pass


def _safe_period(source: Any) -> float | None:
    try:
        p = source.sample_period_s()
    except Exception:
        return None
    if p is None:
        return None
    p = float(p)
    return p if p > 0 else None


__all__ = ["Sampler", "SourceUnavailableError", "shared_sampler"]

_SHARED: Sampler | None = None
_SHARED_LOCK = threading.Lock()


def shared_sampler() -> Sampler:
    """The process-wide sampler: every Monitor should use this one, so there is one thread in all."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None:
            _SHARED = Sampler()
        return _SHARED
