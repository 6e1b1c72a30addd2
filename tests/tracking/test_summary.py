"""The measured-window record: its typed keys come first in every ``measure`` record, and it reads back."""

from __future__ import annotations

import json

from wattlens.carbon.footprint import footprint
from wattlens.carbon.intensity import resolve_location
from wattlens.tracking import Monitor
from wattlens.tracking.summary import WindowComponent, WindowRecord, build_record, window_record


def _measured():
    with Monitor(["estimator"]) as mon:
        mon.begin("w")
        sum(range(20000))
        return mon.end("w")


def test_the_record_starts_with_the_typed_keys_and_keeps_the_callers() -> None:
    m = _measured()
    fp = footprint(m.energy_j, m.low_j, m.high_j, location=resolve_location(country="FR", use_env=False), use_env=False)
    record = build_record(m, fp, {"command": ["true"], "exit_code": 0})
    keys = list(record)
    assert keys[: len(WindowRecord.json_keys())] == list(WindowRecord.json_keys())
    assert keys[len(WindowRecord.json_keys()) :] == ["command", "exit_code"]
    assert list(record["components"][0]) == list(WindowComponent.json_keys())
    assert record["co2e_g"] is not None and record["location"]["key"] == "FRA"
    assert record["energy_j"] == m.energy_j and record["facility_energy_j"] >= m.energy_j  # PUE >= 1
    json.dumps(record)  # plain JSON


def test_the_record_reads_back_as_the_same_typed_record() -> None:
    typed = window_record(_measured())
    back = WindowRecord.from_dict(json.loads(json.dumps(typed.to_dict())))
    assert back == typed
    assert back.co2e_g is None and back.pue == 1.0 and back.pue_origin == "default"  # no footprint: stated default
