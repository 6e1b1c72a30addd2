"""`wattlens measure --embodied --water`, `project --hardware`, `hardware --lifecycle` (issue 15): the lifecycle
figures sit beside the operational CO2e (which never changes), with low/high, basis and a total."""

from __future__ import annotations

import json
import sys

import pytest

from tests.meters.fakes.nvml import HOPPER, FakeGpu, FakeNvml, uuid_for
from wattlens.carbon import resolve_location
from wattlens.carbon.lifecycle import resolve_amortisation
from wattlens.carbon.water import resolve_wue
from wattlens.cli.lifecycle_opts import LifecycleOptions, measurement_fields
from wattlens.cli.main import main
from wattlens.meters.nvml import NvmlSource
from wattlens.tracking import Monitor

PY = sys.executable
YEAR = 365.25 * 86400.0


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "WATTLENS_EMBODIED",
        "WATTLENS_WATER",
        "WATTLENS_HOST",
        "WATTLENS_WUE",
        "WATTLENS_LIFETIME_YEARS",
        "WATTLENS_UTILISATION",
        "WATTLENS_COUNTRY",
        "WATTLENS_REGION",
    ):
        monkeypatch.delenv(name, raising=False)


def _json(capsys: pytest.CaptureFixture[str]) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_measure_embodied_and_water_beside_operational(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["measure", "--json", "--country", "FR", "--embodied", "--water", "--", PY, "-c", "pass"]) == 0
    rec = _json(capsys)
    for key in (
        "co2e_embodied_g",
        "co2e_embodied_low_g",
        "co2e_embodied_high_g",
        "embodied_basis",
        "water_l",
        "water_low_l",
        "water_high_l",
        "water_basis",
        "co2e_total_g",
    ):
        assert key in rec, key
    assert rec["co2e_total_g"] == pytest.approx(rec["co2e_g"] + rec["co2e_embodied_g"])
    assert rec["co2e_embodied_low_g"] <= rec["co2e_embodied_g"] <= rec["co2e_embodied_high_g"]
    devices = {d["label"]: d for d in rec["embodied"]["devices"]}
    assert devices["cpu"]["status"] == "counted" and devices["cpu"]["basis"] == "estimated"
    assert devices["host"]["status"] == "unavailable" and "--host" in devices["host"]["reason"]
    assert rec["embodied"]["complete"] is False and "partial" in rec["embodied_basis"]
    assert rec["embodied"]["amortisation"]["text"] == "service life 5 y [4, 6] (default), utilisation 1 (default)"
    assert rec["water"]["offsite"]["key"] == "FRA" and rec["water_l"] > 0
    assert rec["water"]["wue"]["origin"] == "default"


def test_lifecycle_is_off_by_default_and_on_by_environment(capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["measure", "--json", "--", PY, "-c", "pass"]) == 0
    rec = _json(capsys)
    assert not {"co2e_embodied_g", "water_l", "co2e_total_g"} & set(rec)
    monkeypatch.setenv("WATTLENS_EMBODIED", "1")
    monkeypatch.setenv("WATTLENS_WATER", "yes")
    assert main(["measure", "--json", "--host", "generic-rack-server-platform", "--", PY, "-c", "pass"]) == 0
    rec = _json(capsys)
    assert rec["embodied"]["complete"] and rec["co2e_embodied_g"] > 0 and rec["water_l"] > 0
    assert rec["water"]["offsite"]["stated_default"]  # no country: the world figure, said so


def test_human_table_shows_per_device_lines_and_the_settings(capsys) -> None:
    args = [
        "measure",
        "--country",
        "FR",
        "--embodied",
        "--water",
        "--wue",
        "0",
        "--lifetime-years",
        "4",
        "--utilisation",
        "0.5",
        "--",
        PY,
        "-c",
        "pass",
    ]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "embodied" in err and "service life 4 y (argument), utilisation 0.5 (argument)" in err
    assert "host       unavailable" in err and "total CO2e" in err and "on-site WUE 0 L/kWh" in err


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            ["--utilisation", "2"],
            "--utilisation/--utilization: '2' is not allowed; allowed: a finite number > 0 and <= 1",
        ),
        (["--lifetime-years", "0"], "--lifetime-years: '0' is not allowed; allowed: a finite number > 0"),
        (["--host", "dell-poweredge-r7400"], "Did you mean"),
        (["--wue", "hetzner"], "no published WUE for provider 'hetzner'"),
        (["--host-share", "0"], "--host-share: '0' is not allowed; allowed: a finite number > 0 and <= 1"),
    ],
)
def test_bad_lifecycle_input_exits_2_before_running(flags, message, tmp_path, capsys) -> None:
    marker = tmp_path / "ran"
    rc = main(["measure", *flags, "--", PY, "-c", f"open({str(marker)!r}, 'w')"])
    assert rc == 2 and not marker.exists()
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_measure_db_stores_the_columns(tmp_path, capsys) -> None:
    db = tmp_path / "m.sqlite"
    assert main(["measure", "--json", "--embodied", "--water", "--db", str(db), "--", PY, "-c", "pass"]) == 0
    rec = _json(capsys)
    from wattlens.store import open_store

    row = open_store(str(db)).measurements()[-1]
    assert row["co2e_embodied_g"] == pytest.approx(rec["co2e_embodied_g"]) and row["water_l"] == pytest.approx(
        rec["water_l"]
    )


def test_gpu_names_from_the_driver_reach_the_lifecycle_rows() -> None:
    """A window over two GPUs read through the NVML stand-in: the H100 is counted from NVIDIA's PCF, the
    unknown one is unavailable with its name."""
    nvml = FakeNvml([FakeGpu(HOPPER, uuid_for(0)), FakeGpu(99, uuid_for(1))])
    with Monitor([NvmlSource(nvml=nvml, env={})]) as mon:
        mon.begin("w")
        for g in nvml.gpus:
            g.energy_mj += 100_000
        m = mon.end("w")
        sources = mon.sources
    opts = LifecycleOptions(
        True,
        True,
        resolve_amortisation(use_env=False),
        resolve_wue("gcp", use_env=False),
        "generic-rack-server-platform",
        1.0,
    )
    fields = measurement_fields(opts, m, sources, None, resolve_location(country="US", use_env=False))
    devices = {d["label"]: d for d in fields["embodied"]["devices"]}
    assert devices["gpu:0"]["hardware"] == "nvidia-h100-sxm" and devices["gpu:0"]["status"] == "counted"
    assert devices["gpu:0"]["co2e_g"] == pytest.approx(164_000 * m.duration_s / (5 * YEAR))
    assert devices["gpu:1"]["status"] == "unavailable" and "NVIDIA GPU" in devices["gpu:1"]["reason"]
    assert fields["embodied_complete"] is False
    assert fields["water_l"] == pytest.approx(m.energy_j / 3.6e6 * (0.916 + 3.1321))


def test_project_the_issue_example(capsys) -> None:
    args = [
        "project",
        "--json",
        "--j-per-query",
        "0.5",
        "--rate",
        "10M/day",
        "--hardware",
        "h100",
        "--lifetime-years",
        "5",
        "--utilisation",
        "0.6",
    ]
    assert main(args) == 0
    y = _json(capsys)
    busy = 3.65e9 * 0.5 / 700.0  # queries/year x J/query / TDP 700 W (hardware profile h100-sxm)
    assert y["device_seconds_per_query"] == pytest.approx(0.5 / 700.0) and "lower bound" in y["device_seconds_basis"]
    assert y["co2e_embodied_g"] == pytest.approx(164_000 * busy / (5 * YEAR * 0.6))
    assert y["co2e_embodied_g_per_query"] == pytest.approx(y["co2e_embodied_g"] / 3.65e9)
    assert y["lifecycle_period"] == "year" and y["embodied"]["amortisation"]["utilisation"] == 0.6
    assert y["tco2e_per_year"] * 1e6 == pytest.approx(y["co2e_total_g"] - y["co2e_embodied_g"])  # operational unchanged


def test_project_with_measured_device_time_and_water(capsys) -> None:
    args = [
        "project",
        "--json",
        "--j-per-query",
        "2",
        "--rate",
        "1/s",
        "--hardware",
        "l4",
        "--device-seconds-per-query",
        "0.01",
        "--water",
        "--region",
        "gcp:europe-west1",
    ]
    assert main(args) == 0
    y = _json(capsys)
    assert y["device_seconds_per_query"] == 0.01
    kwh = 2 * 86400 * 365 / 3.6e6
    assert y["water_l"] == pytest.approx(kwh * (0.916 + 2.6198))  # GCP fleet WUE + Belgium's generation water


def test_project_embodied_needs_hardware(capsys) -> None:
    assert main(["project", "--j-per-query", "1", "--rate", "1/s", "--embodied"]) == 2
    assert "needs --hardware" in capsys.readouterr().err


def test_hardware_lifecycle(capsys) -> None:
    assert main(["hardware", "h100", "--lifecycle", "--json"]) == 0
    d = _json_block(capsys)
    assert d["hardware"]["embodied_kg"] == 164 and d["hardware"]["boundary"] == "cradle-to-gate"
    assert d["hardware"]["url"].endswith("HGX-H100-PCF-Summary.pdf")
    assert main(["hardware", "h100", "--lifecycle"]) == 0
    out = capsys.readouterr().out
    assert "cradle-to-gate" in out and "per device-hour" in out and "not counted: end of life" in out
    assert main(["hardware", "mi300x", "--lifecycle"]) == 0  # a known profile without a figure: unavailable, why
    assert "embodied carbon unavailable" in capsys.readouterr().out
    assert main(["hardware", "--lifecycle"]) == 0
    assert "dell-poweredge-r740" in capsys.readouterr().out


def _json_block(capsys) -> dict:
    return json.loads(capsys.readouterr().out)
