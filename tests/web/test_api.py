"""The JSON API and the pages over real HTTP (uvicorn on 127.0.0.1), against the seeded SQLite store."""

from __future__ import annotations

import html
import sqlite3
from pathlib import Path
from urllib.parse import quote

import pytest
from benchmarks.web_store import ENVIRONMENT

from tests.web.conftest import Live, live_server
from tests.web.seed import EVIL, MACHINE_B, Seeded
from wattlens.analyze.records import AnalysisSummary
from wattlens.bench.records import BenchRow, WindowRow
from wattlens.optimize.results import OptimizeResult
from wattlens.report.query import GenerationView, leaderboard
from wattlens.store import open_store

pytestmark = pytest.mark.slow  # the seeded store runs a real (tiny) benchmark and a real analysis

PAGES = ("/", "/runs", "/compare", "/optimize", "/analyze", "/history")


def test_api_index_lists_every_endpoint(live: Live) -> None:
    index = live.api("/api/")
    paths = {e["path"] for e in index["endpoints"]}
    assert {"/api/leaderboard", "/api/run", "/api/timeline", "/api/compare", "/api/history"} <= paths
    for endpoint in index["endpoints"][1:]:
        assert live.get(endpoint["path"]).status in (200, 400)  # 400: a required parameter missing, said so


def test_leaderboard_rows_are_the_query_layers_records(live: Live, seeded: Seeded) -> None:
    d = live.api(f"/api/leaderboard?run={seeded.real_run}")
    assert d["run"]["run_id"] == seeded.real_run and d["task"] == "text-classification"
    rows = [BenchRow.from_dict(r) for r in d["rows"]]
    with open_store(seeded.db, read_only=True) as store:
        expected = leaderboard(store, seeded.real_run).rows
    assert {r.cell_key for r in rows} == {r.cell_key for r in expected}
    ok = next(r for r in rows if r.ok)
    same = next(r for r in expected if r.cell_key == ok.cell_key)
    assert ok.j_per_query == same.j_per_query and ok.j_per_query_low == same.j_per_query_low
    assert ok.source == "estimated" and ok.tier and ok.weights == "random"
    failed = next(r for r in rows if r.status == "failed")
    assert "no-such-model" in failed.model and failed.error
    assert d["points"]["j_per_query"] == [ok.j_per_query]  # the failed cell has no point


def test_latest_run_is_the_default_and_filters_change_the_rows(live: Live, seeded: Seeded) -> None:
    d = live.api(f"/api/leaderboard?run={seeded.synth_a}&task=text-classification")
    assert d["choices"]["precision"] == ["bf16", "fp32"] and d["choices"]["batch"] == [1, 4, 8, 32]
    everything = d["total"]
    bf16 = live.api(f"/api/leaderboard?run={seeded.synth_a}&task=text-classification&precision=bf16&batch=8")
    assert 0 < bf16["total"] < everything
    assert {(r["config"]["precision"], r["config"]["batch"]) for r in bf16["rows"]} == {("bf16", 8)}
    assert len(bf16["points"]["j_per_query"]) == bf16["total"]
    page2 = live.api(f"/api/leaderboard?run={seeded.synth_a}&task=text-classification&offset=10&limit=10")
    assert len(page2["rows"]) == 10 and page2["offset"] == 10
    assert live.api("/api/leaderboard")["run"]["run_id"] == live.api("/api/runs?kind=bench")["runs"][0]["run_id"]


def test_run_page_data_gross_idle_net_validity_and_timeline(live: Live, seeded: Seeded) -> None:
    d = live.api(f"/api/run?id={seeded.real_run}")
    assert d["counts"] == {"ok": 1, "failed": 1}
    t = d["totals"]
    assert t["cells"] == 1 and t["gross_j"] == pytest.approx(t["idle_j"] + t["net_j"])
    assert len(d["timeline_cells"]) == 2
    ok_key = next(r["cell_key"] for r in d["rows"] if r["status"] == "ok")
    tl = live.api(f"/api/timeline?run={seeded.real_run}&cell={quote(ok_key)}")
    windows = [WindowRow.from_dict(w) for w in tl["windows"]]
    phases = [w.phase for w in windows]
    assert phases.count("query") == 5 and "load" in phases and "idle-before" in phases
    assert all(w.energy_j is not None and w.low_j <= w.energy_j <= w.high_j for w in windows if w.phase == "query")


def test_compare_two_runs_and_two_machines(live: Live, seeded: Seeded) -> None:
    d = live.api(f"/api/compare?a={seeded.synth_a}&b={seeded.synth_b}")
    c = d["comparison"]
    assert c["matched"] > 50 and c["geomean_ratio"] > 0
    assert len(c["pairs"]) == d["limit"] == 50 < d["total"]  # one page of pairs, those measured on both sides first
    ranks = d["points"]["rank"]  # the chart: every pair measured on both sides, by its row in the table
    assert ranks == list(range(1, len(ranks) + 1)) and len(ranks) >= c["matched"]
    assert d["points"]["ratio"][:50] == [p["ratio"] for p in c["pairs"]]
    page2 = live.api(f"/api/compare?a={seeded.synth_a}&b={seeded.synth_b}&offset=50")
    assert page2["comparison"]["pairs"][0]["ratio"] == d["points"]["ratio"][50] and page2["total"] == d["total"]
    both = [p for p in c["pairs"] if p["ratio"] is not None]
    for p in both[:20]:
        assert p["ratio"] == pytest.approx(p["b"]["j_per_query"] / p["a"]["j_per_query"])
        overlap = (
            p["a"]["j_per_query_low"] <= p["b"]["j_per_query_high"]
            and p["b"]["j_per_query_low"] <= p["a"]["j_per_query_high"]
        )
        assert p["overlap"] is overlap and (p["verdict"] == "overlap") is overlap
    # the two synthetic machines, plus this host when its CPU differs from the synthetic run's (the real run)
    synthetic = {f"{env['cpu']} x{env['logical_cpus']}" for env in (ENVIRONMENT, MACHINE_B)}
    by_label = {m["label"]: m["key"] for m in d["machines"]}
    assert synthetic <= set(by_label) and len(by_label) <= 3
    ma, mb = (by_label[label] for label in sorted(synthetic))
    dm = live.api(f"/api/compare?machine_a={quote(ma)}&machine_b={quote(mb)}&task=fill-mask")
    assert dm["mode"] == "machines" and {p["task"] for p in dm["comparison"]["pairs"]} == {"fill-mask"}


def test_optimize_analyze_and_history(live: Live, seeded: Seeded) -> None:
    o = live.api("/api/optimize")
    result = OptimizeResult.from_dict(o["result"])
    assert o["run"]["run_id"] == seeded.optimize_run and len(result.pareto) == 3 and result.rejected
    a = live.api("/api/analyze")
    summary = AnalysisSummary.from_dict(a["analysis"])
    assert summary.model == "distilgpt2" and summary.hardware.startswith("a100")
    assert {r.role for r in summary.roles} >= {"dense_gemm", "kv_cache_read"} and summary.levers
    assert summary.energy_j is not None and summary.energy_j.low <= summary.energy_j.mid <= summary.energy_j.high
    assert set(summary.energy_by_level_j_mid) >= {"dram", "compute", "static"}
    h = live.api("/api/history")
    assert h["tags"] == ["nightly", "team=search"] and len(h["measurements"]) == 2
    m = h["measurements"][0]
    assert m["energy_j"] > 0 and m["low_j"] <= m["energy_j"] <= m["high_j"] and m["co2e_g"] > 0
    assert "France" in m["location"] and m["source"] == "estimated"
    assert [len(live.api(f"/api/history?tag={quote(t)}")["measurements"]) for t in h["tags"]] == [1, 1]
    assert [r["run_id"] for r in h["runs"]] == [seeded.loadtest_run] and h["runs"][0]["energy_j"] == 120.0


def test_a_text_generation_optimize_run_shows_its_front_and_hidden_costs(live: Live, seeded: Seeded) -> None:
    d = live.api(f"/api/optimize?run={seeded.generation_run}")
    assert d["message"] is None and d["result"] is None  # a finished run: never "no result yet"
    view = GenerationView.from_dict(d["generation"])
    assert view.result.run_id == seeded.generation_run and view.result.recommended is not None
    assert [p.label.rsplit(" ", 3)[1:] for p in view.pareto] == [
        ["int8-pc", "t2", "b4"],
        ["bf16", "t2", "b4"],
        ["fp32", "t1", "b1"],
    ]
    assert len(view.points) == len([t for t in view.result.trials if t.ok])
    rec = next(p for p in view.points if "recommended" in p.roles)
    assert rec.on_front and rec.hidden_costs is not None and rec.hidden_costs.agreement_delta == pytest.approx(-0.03)
    assert rec.hidden_costs.ttft_p95_ratio == pytest.approx(60 / 80) and (rec.hidden_costs.tokens_per_s_ratio or 0) > 1
    assert [r["run_id"] for r in d["runs"]][:2] == [seeded.optimize_run, seeded.generation_run]
    assert live.get(f"/optimize?run={seeded.generation_run}").status == 200


def test_leaderboard_points_are_ranked_as_the_table(live: Live, seeded: Seeded) -> None:
    """The chart's x is each point's row number in the table (1-based): ok rows cheapest first, then invalid."""
    d = live.api(f"/api/leaderboard?run={seeded.synth_a}&task=text-classification&limit=1000")
    points, rows = d["points"], d["rows"]
    assert points["rank"][0] == 1 and "invalid" in points["status"]
    for rank, key in zip(points["rank"], points["cell_key"], strict=True):
        assert rows[rank - 1]["cell_key"] == key
    filtered = live.api(f"/api/leaderboard?run={seeded.synth_a}&task=text-classification&batch=8&limit=1000")
    assert [r["cell_key"] for r in filtered["rows"]] == [
        filtered["points"]["cell_key"][filtered["points"]["rank"].index(i + 1)] for i in range(filtered["total"])
    ]


def test_an_internal_error_is_one_line_without_traceback_or_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Something unexpected inside a view: the page and the JSON say "internal error" and where the details are
    (the server's log), never the traceback, the exception's text or a file path."""
    from wattlens.web import views

    secret = "/home/alice/private/results.sqlite"

    def broken(*_args: object, **_kwargs: object) -> None:
        raise OSError(f"disk error reading {secret} at {__file__}")

    db = str(tmp_path / "store.sqlite")
    open_store(db).close()
    monkeypatch.setattr(views, "list_runs", broken)
    for live in live_server(db):
        answers = [live.get(path) for path in ("/", "/api/leaderboard", "/api/runs", "/optimize", "/api/history")]
    for answer in answers:
        assert answer.status == 500, answer.text[:200]
        for leak in ("Traceback", 'File "', secret, "/home/", ".py", "disk error", str(tmp_path)):
            assert leak not in answer.text, (leak, answer.text[:300])
    assert answers[1].json() == {
        "error": "internal error (OSError); the details are in the server's log",
        "status": 500,
    }
    assert "Something went wrong" in answers[0].text and "internal error (OSError)" in answers[0].text


def test_every_page_is_a_shell_over_its_api(live: Live) -> None:
    for path in PAGES:
        page = live.get(path)
        assert page.status == 200, path
        assert 'src="/static/uplot.iife.min.js"' in page.text and "data-api=" in page.text
        csp = page.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp  # nothing from the network
    for name in ("uplot.iife.min.js", "uplot.min.css", "app.js", "app.css", "UPLOT-LICENSE.txt", "favicon.svg"):
        assert live.get(f"/static/{name}").status == 200
    assert "MIT License" in live.get("/static/UPLOT-LICENSE.txt").text


def test_bad_input_is_a_clear_answer_never_a_traceback(live: Live, seeded: Seeded) -> None:
    unknown = live.get("/run?id=no-such-run")
    assert unknown.status == 404 and "no run" in unknown.text and seeded.real_run in unknown.text
    assert live.get("/api/run?id=no-such-run").json()["error"].startswith("no run 'no-such-run'")
    wrong_kind = live.get(f"/optimize?run={seeded.real_run}")
    assert wrong_kind.status == 404 and "is a &#x27;bench&#x27; run" in wrong_kind.text
    bad = live.get("/api/leaderboard?batch=eight")
    assert bad.status == 400 and bad.json()["error"] == "batch must be a whole number, got 'eight'"
    assert live.get("/api/leaderboard?limit=100000").status == 400
    assert live.get("/api/timeline?run=x").status == 400
    assert live.get("/nowhere").status == 404 and live.get("/api/nowhere").json()["status"] == 404
    for answer in (unknown, wrong_kind, bad, live.get("/api/run")):
        assert "Traceback" not in answer.text and 'File "' not in answer.text


def test_read_only_no_write_methods(live: Live) -> None:
    for method in ("POST", "PUT", "DELETE"):
        assert live.get("/api/runs", method).status == 405


def test_user_strings_are_escaped(live: Live, seeded: Seeded) -> None:
    d = live.api(f"/api/leaderboard?run={seeded.synth_a}&task=text-classification&limit=1000")
    assert EVIL in {r["model"] for r in d["rows"]}  # the API carries the name as it is (JSON)
    evil_id = '"><script>alert(1)</script>'
    page = live.get(f"/run?id={quote(evil_id)}")
    assert page.status == 404 and "<script>alert(1)" not in page.text and html.escape(evil_id) in page.text
    shell = live.get(f"/?task={quote(evil_id)}")
    assert "<script>alert(1)" not in shell.text


def test_a_run_page_of_an_optimize_run_goes_to_its_page(live: Live, seeded: Seeded) -> None:
    import urllib.request

    with urllib.request.urlopen(live.url + f"run?id={seeded.optimize_run}") as r:
        assert r.url.endswith(f"/optimize?run={seeded.optimize_run}")


def test_the_page_follows_the_store(seeded: Seeded, tmp_path: Path) -> None:
    """A run stored while the page is up shows (the cache drops what it kept when the store changes)."""
    import shutil
    import time

    db = str(tmp_path / "copy.sqlite")
    shutil.copy(seeded.db, db)
    for live in live_server(db):
        before = {r["run_id"] for r in live.api("/api/runs")["runs"]}
        with open_store(db) as store:
            new = store.create_run("bench", {"suite": {"name": "late"}})
        time.sleep(1.2)  # the cache looks at the store at most once a second
        after = {r["run_id"] for r in live.api("/api/runs")["runs"]}
        assert after - before == {new}


def test_empty_and_older_databases(tmp_path: Path) -> None:
    empty = str(tmp_path / "empty.sqlite")
    open_store(empty).close()  # the tables, no run
    for live in live_server(empty):
        d = live.api("/api/leaderboard")
        assert d["run"] is None and "no bench runs yet" in d["message"]
        assert live.get("/").status == 200 and live.api("/api/history")["measurements"] == []
    old = str(tmp_path / "v1.sqlite")
    with open_store(old) as store:
        store.save_measurement({"name": "old job", "energy_j": 5.0, "low_j": 4.0, "high_j": 6.0, "co2e_g": 0.01})
    with sqlite3.connect(old) as conn:  # as written by schema version 1: no lifecycle columns
        conn.execute("ALTER TABLE measurements DROP COLUMN co2e_embodied_g")
        conn.execute("ALTER TABLE measurements DROP COLUMN water_l")
        conn.execute("UPDATE schema_version SET version = 1")
    for live in live_server(old):
        m = live.api("/api/history")["measurements"]
        assert [(x["name"], x["energy_j"], x["water_l"]) for x in m] == [("old job", 5.0, None)]
    with sqlite3.connect(old) as conn:
        assert conn.execute("SELECT max(version) FROM schema_version").fetchone()[0] == 1  # read-only: not migrated
