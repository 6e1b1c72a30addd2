"""The public facade: wattlens.measure / wattlens.measured / wattlens.Monitor."""

from __future__ import annotations

import doctest

import pytest

import wattlens
import wattlens.api
from wattlens.carbon import CarbonError


def test_measure_context_manager_gives_energy_and_carbon() -> None:
    with wattlens.measure("inference", country="FR", pue=1.2, price_per_kwh=0.2, currency="EUR") as m:
        sum(i * i for i in range(50_000))
    r = m.result
    assert r.measurement.name == "inference" and r.measurement.energy_j > 0
    assert {c.domain for c in r.measurement.components} >= {"cpu", "memory"}
    fp = r.footprint
    assert fp.location["key"] == "FRA" and fp.pue == 1.2
    assert fp.facility_energy_j == pytest.approx(1.2 * r.measurement.energy_j)
    assert fp.co2e_low_g <= fp.co2e_g <= fp.co2e_high_g and fp.cost["currency"] == "EUR"
    text = str(r)
    assert "estimated" in text and "FRA" in text and "PUE 1.2" in text
    d = r.to_dict()
    assert d["energy_j"] == r.measurement.energy_j and d["location"]["key"] == "FRA"


def test_measure_without_location_states_world_average(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("WATTLENS_COUNTRY", "WATTLENS_REGION", "WATTLENS_PUE", "WATTLENS_PRICE_PER_KWH"):
        monkeypatch.delenv(var, raising=False)
    with wattlens.measure("x") as m:
        pass
    fp = m.result.footprint
    assert fp.location["stated_default"] is True and fp.pue == 1.0 and fp.cost is None


def test_bad_location_fails_before_the_block_runs() -> None:
    ran = []
    with pytest.raises(CarbonError, match="FRA"):
        with wattlens.measure("x", country="FRX"):
            ran.append(1)
    assert not ran


def test_exception_in_block_propagates_and_result_is_kept() -> None:
    ctx = wattlens.measure("fails", country="DE")
    with pytest.raises(KeyError), ctx:
        raise KeyError("boom")
    assert ctx.result is not None and "raised KeyError" in ctx.result.measurement.notes[-1]


def test_measured_decorator_last_result_and_callback() -> None:
    seen = []

    @wattlens.measured("predict", country="FR", callback=seen.append)
    def predict(x: int) -> int:
        return x * 2

    assert predict.last_result is None
    assert predict(21) == 42
    assert predict.last_result.measurement.name == "predict" and seen[-1] is predict.last_result
    predict(1)
    assert len(seen) == 2

    @wattlens.measured
    def fact(n: int) -> int:  # recursion: nested windows under one name
        return 1 if n <= 1 else n * fact(n - 1)

    assert fact(5) == 120 and fact.last_result.measurement.name.endswith("fact")

    @wattlens.measured("bad")
    def bad() -> None:
        raise ValueError("no")

    with pytest.raises(ValueError):
        bad()
    assert "raised ValueError" in bad.last_result.measurement.notes[-1]
    assert bad.monitor().open_windows == []


def test_measure_saves_to_a_store(tmp_path) -> None:
    db = str(tmp_path / "m.sqlite")
    with wattlens.measure("saved", country="FR", db=db):
        pass
    from wattlens.store import open_store

    rows = open_store(db).measurements()
    assert rows[-1]["name"] == "saved" and rows[-1]["location_key"] == "FRA"


def test_lazy_exports() -> None:
    assert wattlens.Monitor is wattlens.tracking.Monitor
    assert wattlens.measure is wattlens.api.measure
    with pytest.raises(AttributeError):
        wattlens.no_such_name  # noqa: B018
    assert "measure" in dir(wattlens)


def test_docstring_examples_run() -> None:
    for module in (wattlens.api, wattlens):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0, module.__name__


def test_given_monitor_is_reused_and_not_closed() -> None:
    mon = wattlens.Monitor(["estimator"])
    with wattlens.measure("a", monitor=mon, country="FR") as m1:
        pass
    with wattlens.measure("b", monitor=mon, country="FR", idle_baseline_s=0.02) as m2:
        pass
    assert m1.result.measurement.name == "a" and m2.result.measurement.net_j is not None
    assert mon.idle is not None
    mon.begin("still-usable")
    mon.end("still-usable")
    mon.close()


def test_footprint_failure_is_a_note_not_an_exception(monkeypatch: pytest.MonkeyPatch) -> None:
    import wattlens.carbon

    def broken(*args, **kwargs):
        raise wattlens.carbon.CarbonError("energy interval is inverted")

    monkeypatch.setattr(wattlens.carbon, "footprint", broken)
    with wattlens.measure("x") as m:
        pass
    assert m.result.footprint is None and "footprint unavailable" in m.result.measurement.notes[-1]
    assert m.result.to_dict()["co2e_g"] is None


def test_measure_in_a_loop_reuses_one_monitor_and_nests() -> None:
    import time

    with wattlens.measure("warm", country="FR") as first:
        pass
    t = time.perf_counter()
    for _ in range(50):
        with wattlens.measure("req", country="FR") as m:
            with wattlens.measure("req", country="FR") as inner:  # same name, nested: fine
                pass
    per_call_s = (time.perf_counter() - t) / 50
    assert m.monitor is first.monitor is inner.monitor and m.monitor.open_windows == []
    assert m.result.measurement.name == inner.result.measurement.name == "req"
    assert per_call_s < 0.05  # no source discovery per call (that alone costs milliseconds)


def test_measured_returns_a_typed_wrapper_that_keeps_the_function() -> None:
    def predict(x: int, *, scale: int = 2) -> int:
        """Double it."""
        return x * scale

    wrapped = wattlens.measured("predict", country="FR")(predict)
    assert isinstance(wrapped, wattlens.MeasuredFunction)
    assert wrapped.__name__ == "predict" and wrapped.__doc__ == "Double it." and wrapped.__wrapped__ is predict
    import inspect

    assert inspect.signature(wrapped) == inspect.signature(predict)
    assert not hasattr(predict, "last_result")  # nothing is patched onto the user's function
    assert wrapped(3, scale=3) == 9
    assert wrapped.last_result is not None and wrapped.last_result.footprint is not None
    assert wrapped.last_result.footprint.location["key"] == "FRA"
    assert "calls=1" in repr(wrapped)


def test_measured_method_binds_self_and_exposes_last_result() -> None:
    class Model:
        def __init__(self, k: int) -> None:
            self.k = k

        @wattlens.measured("infer", country="DE")
        def infer(self, x: int) -> int:
            return self.k * x

    m = Model(5)
    assert m.infer(2) == 10
    assert m.infer.last_result is Model.infer.last_result  # one wrapper per function, shared like a function's
    assert m.infer.last_result.measurement.name == "infer"
    assert isinstance(Model.__dict__["infer"], wattlens.MeasuredFunction)


def test_embodied_and_water_from_the_python_api_leave_operational_co2e_alone() -> None:
    with wattlens.measure("off", country="FR") as plain:
        sum(i * i for i in range(50_000))
    with wattlens.measure("on", country="FR", embodied=True, water=True, lifetime_years=4, utilisation=0.5) as m:
        sum(i * i for i in range(50_000))
    assert plain.result is not None and m.result is not None
    assert plain.result.co2e_embodied_g is None and "co2e_embodied_g" not in plain.result.to_dict()
    rec = m.result.to_dict()
    assert m.result.co2e_embodied_g is not None and m.result.co2e_embodied_g > 0
    assert m.result.water_l is not None and m.result.water_l > 0
    assert rec["co2e_total_g"] == pytest.approx(rec["co2e_g"] + rec["co2e_embodied_g"])
    assert rec["embodied"]["amortisation"]["lifetime_years"] == 4.0
    assert rec["embodied"]["amortisation"]["utilisation"] == 0.5
    ran = []
    with pytest.raises(CarbonError, match="no-such-server"):  # checked before the block runs
        with wattlens.measure("bad", host="no-such-server"):
            ran.append(1)
    assert not ran
    with pytest.raises(CarbonError):  # and at decoration time
        wattlens.measured(embodied=True, lifetime_years=-1)


def test_a_measured_function_carries_its_embodied_share() -> None:
    @wattlens.measured(country="DE", embodied=True)
    def work() -> int:
        return sum(range(10_000))

    assert work() == sum(range(10_000))
    assert work.last_result is not None and (work.last_result.co2e_embodied_g or 0) > 0
