"""Source discovery: lazy, defensive imports; statuses with reasons; the estimator covers what is left."""

from __future__ import annotations

import sys
import types

import pytest

from tests.tracking.fakes import CounterSource
from wattlens.meters import discovery
from wattlens.meters.base import MEASURED, UNAVAILABLE, MeterError, SourceStatus
from wattlens.meters.discovery import UnavailableSource, discover, probe_all


@pytest.fixture(autouse=True)
def _probe_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    # Fake modules stand in for drivers that this machine lacks: skip the cheap "driver absent" gate.
    monkeypatch.setenv(discovery.ENV_PROBE_ALL, "1")


def test_absent_drivers_are_reported_without_importing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(discovery.ENV_PROBE_ALL)
    monkeypatch.setattr(discovery, "_NVIDIA_PATHS", ("/nonexistent/nvidia",))
    monkeypatch.setattr(discovery, "_AMD_PATHS", ("/nonexistent/kfd",))
    monkeypatch.setattr(discovery.sys, "platform", "linux")
    imported = []
    monkeypatch.setattr(discovery, "load_source_class", lambda name: imported.append(name) or (None, "x"))
    assert "no NVIDIA driver" in discovery.probe_source("nvml")[1].detail
    assert "no AMD GPU driver" in discovery.probe_source("amd")[1].detail
    assert "not macOS" in discovery.probe_source("apple")[1].detail
    assert imported == []


def _fake_module(monkeypatch: pytest.MonkeyPatch, name: str, cls: type) -> None:
    mod = types.ModuleType(f"fake_{name}")
    mod.Src = cls
    monkeypatch.setitem(sys.modules, f"fake_{name}", mod)
    monkeypatch.setitem(discovery.HARDWARE_SOURCES, name, (f"fake_{name}", "Src"))


def _covering(*domains: str, available: bool = True, detail: str = "ok") -> type:
    class Src(CounterSource):
        @classmethod
        def probe(cls, **kwargs):
            return SourceStatus("x", available, detail, domains, MEASURED)

        def __init__(self) -> None:
            super().__init__("x", domains[0] if domains else "cpu")

    return Src


def test_probe_all_lists_every_source_with_a_reason() -> None:
    statuses = probe_all()
    assert [s.name for s in statuses] == ["rapl", "nvml", "amd", "apple", "estimator"]
    assert statuses[-1].available and statuses[-1].detail
    assert all(s.detail for s in statuses)  # found or not, each says why


def test_missing_module_and_broken_import_are_statuses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(discovery.HARDWARE_SOURCES, "nvml", ("wattlens.meters.no_such_module", "X"))
    cls, st = discovery.probe_source("nvml")
    assert cls is None and not st.available and "not part of this wattlens build" in st.detail

    broken = types.ModuleType("fake_broken")
    monkeypatch.setitem(sys.modules, "fake_broken", broken)  # no class inside
    monkeypatch.setitem(discovery.HARDWARE_SOURCES, "amd", ("fake_broken", "Missing"))
    cls, st = discovery.probe_source("amd")
    assert cls is None and "failed to import" in st.detail


def test_probe_that_raises_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    class Boom(CounterSource):
        @classmethod
        def probe(cls, **kwargs):
            raise RuntimeError("driver exploded")

    _fake_module(monkeypatch, "apple", Boom)
    st = discovery.probe_source("apple")[1]
    assert not st.available and "driver exploded" in st.detail


def test_sensor_for_cpu_leaves_memory_to_the_estimator(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_module(monkeypatch, "rapl", _covering("cpu"))
    found = discover()
    names = [getattr(s, "name", "") for s in found.sources]
    assert names == ["x", "estimator"]
    assert found.sources[-1].domains == ("memory",)


def test_soc_sensor_needs_no_estimator(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_module(monkeypatch, "apple", _covering("soc"))
    found = discover()
    assert [getattr(s, "name", "") for s in found.sources] == ["x"]
    assert found.statuses[-1].name == "estimator" and not found.statuses[-1].available


def test_source_that_fails_to_open_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    class Fails(_covering("gpu")):  # type: ignore[misc]
        def __init__(self) -> None:
            raise OSError("permission denied")

    _fake_module(monkeypatch, "nvml", Fails)
    found = discover()
    st = next(s for s in found.statuses if s.name == "nvml")
    assert not st.available and "permission denied" in st.detail
    assert [getattr(s, "name", "") for s in found.sources] == ["estimator"]


def test_named_sources(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(MeterError, match="unknown energy source"):
        discover(["rapl", "geiger-counter"])
    monkeypatch.setitem(discovery.HARDWARE_SOURCES, "nvml", ("wattlens.meters.no_such_module", "X"))
    found = discover(["nvml", "estimator"])
    placeholder = found.sources[0]
    assert isinstance(placeholder, UnavailableSource)
    comps = placeholder.delta(placeholder.snapshot(), placeholder.snapshot())
    assert comps[0].source == UNAVAILABLE and "not part of this wattlens build" in comps[0].note
    assert comps[0].domain == "gpu"
    fake = CounterSource()
    found = discover([fake])
    assert found.sources == [fake]
