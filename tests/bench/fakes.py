"""Synthetic meters with known answers for the method tests (no hardware, no torch)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from wattlens.meters.base import ComponentEnergy
from wattlens.tracking.result import IdleBaseline, Measurement


@dataclass
class Ledger:
    """Joules 'spent' by the fake workload; the fake monitor reads its delta at window edges."""

    joules: float = 0.0


@dataclass
class FakeMonitor:
    """Window energy = work joules recorded in the ledger + idle_w x wall duration (+ per-window offsets).

    ``rel_err`` gives the meter's own interval (+/- fraction); ``offsets_j`` adds a fixed extra energy to
    successive windows (to create known spread across repeats, or negative energies).
    """

    ledger: Ledger
    idle_w: float = 0.0
    rel_err: float = 0.0
    offsets_j: list[float] = field(default_factory=list)
    source: str = "measured"
    idle: IdleBaseline | None = None
    open: dict = field(default_factory=dict)
    ended: int = 0
    unavailable: bool = False

    def begin(self, name: str) -> None:
        self.open[name] = (time.perf_counter(), time.time(), self.ledger.joules)

    def end(self, name: str) -> Measurement:
        t0, wall0, j0 = self.open.pop(name)
        dur = time.perf_counter() - t0
        off = self.offsets_j[self.ended] if self.ended < len(self.offsets_j) else 0.0
        self.ended += 1
        e = self.ledger.joules - j0 + self.idle_w * dur + off
        if self.unavailable:
            comp = ComponentEnergy.unavailable("cpu", "fake", "switched off")
        else:
            comp = ComponentEnergy("cpu", e, self.source, "fake", e * (1 - self.rel_err), e * (1 + self.rel_err))
        return Measurement(name, wall0, dur, [comp], idle=self.idle)

    def measure_idle(self, seconds: float) -> IdleBaseline:
        time.sleep(seconds)
        return IdleBaseline({"cpu": self.idle_w}, {"cpu": self.idle_w}, {"cpu": self.idle_w}, seconds, self.source)

    def close(self) -> None:
        pass


def workload(ledger: Ledger, j_per_query: float, sleep_s: float = 0.0):
    """A query function that 'spends' j_per_query per input (and optionally sleeps per batch)."""

    def fn(batch: list) -> list:
        if sleep_s:
            time.sleep(sleep_s)
        ledger.joules += j_per_query * len(batch)
        return [x for x in batch]

    return fn
