"""HTML reports: one self-contained file, figures embedded, every data string escaped."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.report.fixtures import EVIL_MODEL, bench_rows, optimize_result
from wattlens.report import write_bench_html, write_optimize_html

pytest.importorskip("matplotlib")

EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)


def _assert_self_contained(text: str) -> None:
    assert not EXTERNAL.search(text), EXTERNAL.search(text)
    assert "<script" not in text.lower()  # no script at all: only escaped text may mention one
    assert "@import" not in text and "url(" not in text  # no fetched CSS or fonts


@pytest.fixture(scope="module")
def bench_html(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("html") / "nested" / "bench.html"
    run = {"run_id": "run-test-1", "kind": "bench", "status": "done", "config": {"repeats": 5, "warmup": 1}}
    written = write_bench_html(bench_rows(), path, title="bench <b>report</b>", run=run)
    assert Path(written) == path and path.exists()
    return path.read_text(encoding="utf-8")


def test_bench_html_is_self_contained_with_embedded_figures(bench_html: str) -> None:
    assert bench_html.startswith("<!DOCTYPE html>")
    _assert_self_contained(bench_html)
    assert bench_html.count('src="data:image/png;base64,') == 3  # energy/task, vs quality, vs latency


def test_bench_html_escapes_data(bench_html: str) -> None:
    assert EVIL_MODEL not in bench_html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;co/model" in bench_html
    assert "bench &lt;b&gt;report&lt;/b&gt;" in bench_html  # the title too


def test_bench_html_names_every_model_and_keeps_failures(bench_html: str) -> None:
    for row in bench_rows():
        if row["model"] != EVIL_MODEL:
            assert row["model"] in bench_html
    assert "MemoryError: out of memory while loading weights" in bench_html
    assert "cv 0.31 &gt; 0.10" in bench_html
    assert "n/a" in bench_html


def test_optimize_html_on_the_contract_fields(tmp_path: Path) -> None:
    result = optimize_result()
    for key in ("baseline", "recommended", "saving_factor", "pareto", "rejected", "search", "payback_queries"):
        assert key in result
    for key in ("config", "j_per_query", "quality", "p50_ms", "p95_ms", "peak_rss_mb"):
        assert key in result["baseline"] and key in result["recommended"]
    path = write_optimize_html(result, tmp_path / "opt.html", title="opt <i>x</i>")
    text = path.read_text(encoding="utf-8")
    _assert_self_contained(text)
    assert text.count('src="data:image/png;base64,') == 1
    assert "opt &lt;i&gt;x&lt;/i&gt;" in text
    assert "quality 0.85 &lt; floor 0.90 &lt;b&gt;" in text  # the rejected config's why, escaped
    assert "Recommended:" in text and "4.00× less energy per query" in text
    assert "exhaustive_trials" in text and "547" in text


def test_optimize_html_without_a_pair_still_writes(tmp_path: Path) -> None:
    path = write_optimize_html({"search": {"trials": 0}}, tmp_path / "empty.html")
    text = path.read_text(encoding="utf-8")
    _assert_self_contained(text)
    assert "no baseline/recommended pair" in text
