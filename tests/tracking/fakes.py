"""Test doubles for energy sources (importable by other test packages too)."""

from __future__ import annotations

import time
from typing import Any

from wattlens.meters.base import MEASURED, ComponentEnergy, EnergySource, Snapshot, SourceStatus


class CounterSource(EnergySource):
    """A measured counter whose value the test sets; optional polling period; can be made to fail."""

    def __init__(self, name: str = "fake", domain: str = "cpu", period_s: float | None = None) -> None:
        self.name = name
        self.domain = domain
        self.value_j = 0.0
        self.period_s = period_s
        self.samples = 0
        self.fail_snapshot = False
        self.fail_delta = False
        self.closed = False
        self.edges = 0

    @classmethod
    def probe(cls, **kwargs: Any) -> SourceStatus:
        return SourceStatus("fake", True, "fake counter", ("cpu",), MEASURED)

    def status(self) -> SourceStatus:
        return SourceStatus(self.name, True, "fake counter", (self.domain,), MEASURED)

    def snapshot(self) -> Snapshot:
        if self.fail_snapshot:
            raise RuntimeError("sensor vanished")
        return Snapshot(time.monotonic(), self.value_j)

    def delta(self, start: Snapshot, end: Snapshot) -> list[ComponentEnergy]:
        if self.fail_delta:
            raise RuntimeError("driver bug")
        e = end.values - start.values
        return [ComponentEnergy(self.domain, e, MEASURED, f"{self.name}:counter", e, e)]

    def sample_period_s(self) -> float | None:
        return self.period_s

    def sample(self) -> None:
        self.samples += 1

    def before_edge(self) -> None:
        self.edges += 1

    def close(self) -> None:
        self.closed = True
