"""`wattlens bench --embodied --water` and `results --embodied` (issue 15): per 1,000 queries, beside the
operational CO2e (unchanged), with the device time from the measured throughput."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_bench_cli import _bench, fake_models  # noqa: F401  (fixture)
from wattlens.cli.main import main

YEAR = 365.25 * 86400.0


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("WATTLENS_EMBODIED", "WATTLENS_WATER", "WATTLENS_HOST", "WATTLENS_WUE"):
        monkeypatch.delenv(name, raising=False)


def test_bench_rows_gain_lifecycle_per_1000(tmp_path: Path, capsys, fake_models: None) -> None:  # noqa: F811
    _db, rows = _bench(
        tmp_path,
        capsys,
        "--embodied",
        "--water",
        "--host",
        "generic-rack-server-platform",
        "--lifetime-years",
        "4",
        "--wue",
        "0.2",
    )
    good = next(r for r in rows if r["model"] == "good-trained")
    assert good["co2e_g_per_1000"] is not None  # the operational figure is still there, unchanged
    busy = 1000.0 / good["throughput_qps"]  # device-seconds per 1,000 queries
    host = next(d for d in good["embodied"]["devices"] if d["kind"] == "host")
    assert host["busy_s"] == pytest.approx(busy)
    assert host["co2e_g"] == pytest.approx(271.38 * 1000 * busy / (4 * YEAR))
    assert good["co2e_embodied_g_per_1000"] == pytest.approx(
        sum(d["co2e_g"] for d in good["embodied"]["devices"] if d["status"] == "counted")
    )
    assert good["co2e_total_g_per_1000"] == pytest.approx(good["co2e_g_per_1000"] + good["co2e_embodied_g_per_1000"])
    kwh = good["j_per_query"] * 1000 / 3.6e6
    assert good["water_l_per_1000"] == pytest.approx(kwh * (0.2 + 3.6737))  # France, WUE 0.2 given
    failed = next(r for r in rows if r["status"] == "failed")
    assert failed.get("co2e_embodied_g_per_1000") is None and "throughput" in failed["embodied_basis"]


def test_results_can_add_lifecycle_to_an_old_run(tmp_path: Path, capsys, fake_models: None) -> None:  # noqa: F811
    db, rows = _bench(tmp_path, capsys)
    assert not any("co2e_embodied_g_per_1000" in r for r in rows)  # off by default
    assert main(["results", "--db", db, "--json", "--embodied"]) == 0
    rows = json.loads(capsys.readouterr().out)
    good = next(r for r in rows if r["model"] == "good-trained")
    cpu = next(d for d in good["embodied"]["devices"] if d["kind"] == "cpu")
    assert cpu["status"] in ("counted", "unavailable") and good["embodied_complete"] is False  # no host given
    assert main(["results", "--db", db]) == 0 and "Lifecycle per 1,000" not in capsys.readouterr().out
    assert main(["results", "--db", db, "--embodied"]) == 0
    assert "Lifecycle per 1,000 queries" in capsys.readouterr().out


def test_bad_lifecycle_flag_stops_bench_before_any_cell(tmp_path: Path, capsys, fake_models: None) -> None:  # noqa: F811
    suite = tmp_path / "s.toml"
    suite.write_text('[suite]\nname = "x"\n[[task]]\nname = "text-classification"\nmodels = ["m"]\n', "utf-8")
    rc = main(["bench", "--suite", str(suite), "--db", str(tmp_path / "d.sqlite"), "--utilisation", "7"])
    err = capsys.readouterr().err  # refused while parsing, before the store or any cell
    assert rc == 2 and "--utilisation" in err and "allowed: a finite number > 0 and <= 1" in err
    assert not (tmp_path / "d.sqlite").exists()


def test_report_shows_the_split_as_a_stacked_bar(tmp_path: Path, capsys, fake_models: None) -> None:  # noqa: F811
    _db, rows = _bench(tmp_path, capsys, "--embodied", "--water", "--host", "generic-rack-server-platform")
    from wattlens.report.figures import bench_figures, build_lifecycle_split
    from wattlens.report.htmlreport import render_bench_html

    fig = build_lifecycle_split(rows)
    carbon_ax, water_ax = fig.axes[:2]
    bars = [p for p in carbon_ax.patches if p.get_width() > 0]
    ok = [r for r in rows if r["status"] == "ok"]
    assert len(bars) == 2 * len(ok)  # operational + embodied for every ok cell
    # the embodied bar starts where the operational one ends: a stacked bar
    starts = sorted(round(p.get_x(), 12) for p in bars if p.get_x() > 0)
    assert starts == sorted(round(r["co2e_g_per_1000"], 12) for r in ok)
    assert "water" in water_ax.get_xlabel()
    assert "lifecycle_split" in bench_figures(rows)
    html = render_bench_html(rows, title="t")
    assert "Lifecycle: embodied carbon and water" in html and "embodied gCO2e" in html
    assert build_lifecycle_split([r for r in rows if "embodied" not in r]) is None
