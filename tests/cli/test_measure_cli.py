"""`wattlens measure`, `wattlens sources`, `wattlens project`."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest

from wattlens.cli.main import main
from wattlens.cli.measure import UsageError, parse_rate

PY = sys.executable
BUSY = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass"
REQUIRED = {
    "duration_s",
    "energy_j",
    "low_j",
    "high_j",
    "source",
    "components",
    "boundary",
    "pue",
    "co2e_g",
    "carbon_intensity_g_per_kwh",
    "location",
    "cost",
    "exit_code",
    "facility_energy_j",
    "gross_j",
    "idle_j",
    "net_j",
    "notes",
}


def _json(capsys: pytest.CaptureFixture[str]) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_measure_json_contract_and_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(
        [
            "measure",
            "--json",
            "--country",
            "FR",
            "--pue",
            "1.2",
            "--price-per-kwh",
            "0.2",
            "--currency",
            "EUR",
            "--",
            PY,
            "-c",
            "import sys; sys.exit(3)",
        ]
    )
    assert rc == 3
    rec = _json(capsys)
    assert REQUIRED <= set(rec)
    assert rec["exit_code"] == 3 and rec["pue"] == 1.2 and rec["location"]["key"] == "FRA"
    for c in rec["components"]:
        assert {"domain", "energy_j", "source", "method", "low_j", "high_j"} <= set(c)
    assert rec["facility_energy_j"] == pytest.approx(1.2 * rec["energy_j"])
    assert rec["cost"]["currency"] == "EUR" and rec["boundary"] == "facility"  # a PUE was given
    assert rec["meter"]["sources"] and "cpu_power_model" in rec["meter"]


def test_children_cpu_time_counts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["measure", "--json", "--attribution", "process", "--", PY, "-c", BUSY]) == 0
    rec = _json(capsys)
    cpu = next(c for c in rec["components"] if c["domain"] == "cpu")
    # process attribution: E = P_max x CPU time; the child burnt >= 0.3 s of CPU
    assert cpu["source"] == "estimated" and cpu["low_j"] >= 0.3 * 1.0
    assert rec["attribution"] == "process"


def test_world_average_is_stated(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WATTLENS_COUNTRY", raising=False)
    monkeypatch.delenv("WATTLENS_REGION", raising=False)
    assert main(["measure", "--", PY, "-c", "pass"]) == 0
    err = capsys.readouterr().err
    assert "world average" in err and "component" in err and "estimated" in err and "PUE 1" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--country", "FRX", "--", "true"], "FRA"),
        (["--pue", "0.5", "--", "true"], "allowed 1 to 3"),
        (["--pue", "50", "--", "true"], "allowed 1 to 3"),
        (["--pue", "abc", "--", "true"], "--pue: PUE must be a number"),
        ([], "no command given"),
        (["--"], "no command given"),
        (["--idle-baseline", "-1", "--", "true"], "--idle-baseline"),
        (["--sources", "geiger", "--", "true"], "unknown energy source"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(args, message, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["measure", *args]) == 2
    assert message in capsys.readouterr().err


def test_command_not_found_is_127(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["measure", "--", "wattlens-no-such-command-xyz"]) == 127
    assert "command not found" in capsys.readouterr().err


def test_csv_and_db_outputs(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    out, db = tmp_path / "m.csv", tmp_path / "m.sqlite"
    for _ in range(2):
        assert main(["measure", "--csv", str(out), "--db", str(db), "--", PY, "-c", "pass"]) == 0
    # a third row with a price adds cost columns: the header widens, earlier rows are kept
    assert main(["measure", "--csv", str(out), "--price-per-kwh", "0.3", "--", PY, "-c", "pass"]) == 0
    with out.open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 and rows[0]["energy_j"] and "cost.amount" in rows[0]
    from wattlens.store import open_store

    assert len(open_store(str(db)).measurements()) == 2


def test_idle_baseline_gives_net(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["measure", "--json", "--idle-baseline", "0.05", "--", PY, "-c", "pass"]) == 0
    rec = _json(capsys)
    assert rec["idle_j"] is not None and rec["net_j"] == pytest.approx(rec["gross_j"] - rec["idle_j"])


def test_sources(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sources"]) == 0
    text = capsys.readouterr().out
    assert "RAPL:" in text and "estimator:" in text and "found" in text
    assert main(["sources", "--json"]) == 0
    data = _json(capsys)
    names = [s["name"] for s in data["sources"]]
    assert names == ["rapl", "nvml", "amd", "apple", "estimator"] and all(s["detail"] for s in data["sources"])
    assert "raw_model" in data["cpu"]


def test_project(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "project",
                "--j-per-query",
                "10",
                "--rate",
                "10M/day",
                "--country",
                "DE",
                "--json",
                "--price-per-kwh",
                "0.2",
                "--currency",
                "EUR",
            ]
        )
        == 0
    )
    y = _json(capsys)
    assert y["queries_per_year"] == pytest.approx(10e6 * 365, rel=1e-12)
    assert main(["project", "--j-per-query", "10", "--rate", "1e9/year", "--json"]) == 0
    assert _json(capsys)["queries_per_year"] == pytest.approx(1e9, rel=1e-12)  # a rate per year round-trips
    assert y["kwh_per_year"] == pytest.approx(10 * y["queries_per_year"] / 3.6e6)
    assert y["cost_per_year"]["currency"] == "EUR"
    assert main(["project", "--j-per-query", "10", "--rate", "lots"]) == 2
    assert "--rate" in capsys.readouterr().err
    assert main(["project", "--j-per-query", "1", "--rate", "5/s"]) == 0
    assert "tCO2e/year" in capsys.readouterr().out


def test_parse_rate() -> None:
    assert parse_rate("10M/day") == 1e7 and parse_rate("1/s") == 86400 and parse_rate("2k/min") == 2000 * 1440
    assert parse_rate("1000") == 1000 and parse_rate("24/hours") == 576
    with pytest.raises(UsageError):
        parse_rate("10/fortnight")


def test_wrapper_exits_with_the_command_code_as_a_real_process() -> None:
    r = subprocess.run(
        [PY, "-m", "wattlens", "measure", "--", PY, "-c", "raise SystemExit(5)"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 5 and "command exit code 5" in r.stderr


def test_region_and_provider_pue(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["measure", "--json", "--region", "aws:us-east-1", "--pue", "provider", "--", PY, "-c", "pass"]) == 0
    rec = _json(capsys)
    assert rec["location"]["key"].lower().startswith("aws") and rec["pue"] > 1.0 and rec["boundary"] == "facility"
    assert main(["measure", "--json", "--intensity", "100", "--", PY, "-c", "pass"]) == 0
    assert _json(capsys)["carbon_intensity_g_per_kwh"] == 100.0
    assert main(["measure", "--region", "aws:mars-north-1", "--", "true"]) == 2
    assert "mars" in capsys.readouterr().err


def test_sigterm_is_forwarded_and_the_measurement_still_printed() -> None:
    import signal
    import time

    import psutil

    wrapper = subprocess.Popen(
        [PY, "-m", "wattlens", "measure", "--", PY, "-c", "import time; time.sleep(60)"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not psutil.Process(wrapper.pid).children() and time.monotonic() < deadline:
            time.sleep(0.05)
        child = psutil.Process(wrapper.pid).children()[0]
        wrapper.send_signal(signal.SIGTERM)
        _, err = wrapper.communicate(timeout=30)
    finally:
        if wrapper.poll() is None:
            wrapper.kill()
    assert wrapper.returncode == 128 + signal.SIGTERM and "command exit code 143" in err
    assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE
