"""Terminal leaderboard and optimize tables from synthetic rows (no store, no matplotlib)."""

from __future__ import annotations

from tests.report.fixtures import EVIL_MODEL, bench_rows, optimize_result
from wattlens.report import leaderboard_table, optimize_table
from wattlens.report._fmt import sig
from wattlens.report.tables import LEADERBOARD_COLUMNS, leaderboard_cells, leaderboard_tables

WIDE = 400  # wide enough that rich never folds a cell: the assertions read whole strings


def test_leaderboard_lists_every_model_once_per_task() -> None:
    rows = bench_rows()
    text = leaderboard_table(rows, width=WIDE)
    for row in rows:
        assert row["model"] in text  # failed and invalid cells stay in the table
    tables = leaderboard_tables(rows)
    assert {t.title.split(" — ")[0] for t in tables} == {r["task"] for r in rows}
    assert sum(len(t.rows) for t in tables) == len(rows)


def test_none_quality_is_na_never_a_number() -> None:
    rows = bench_rows()
    quality = [h for h, _ in LEADERBOARD_COLUMNS].index("Quality")
    for row in rows:
        cell = leaderboard_cells(row)[quality]
        if row["quality"] is None:
            assert cell == ("—" if row["status"] == "failed" else "n/a")
        else:
            assert cell == sig(row["quality"]) and cell.startswith(str(row["quality"]))
    assert "n/a" in leaderboard_table(rows, width=WIDE)


def test_failed_and_invalid_cells_show_their_reason() -> None:
    status = [h for h, _ in LEADERBOARD_COLUMNS].index("Status")
    cells = {r["model"]: leaderboard_cells(r)[status] for r in bench_rows()}
    assert cells["pegasus-large"] == "failed: MemoryError: out of memory while loading weights"
    assert cells["opt-350m"].startswith("invalid:") and "cv 0.31 > 0.10" in cells["opt-350m"]
    assert "power above TDP" in cells["opt-350m"]
    # terminal: the cell carries a footnote mark and the full reason is printed under its task's table
    text = " ".join(leaderboard_table(bench_rows(), width=WIDE).split())
    assert "failed [1]" in text and "invalid [1]" in text
    assert "[1] pegasus-large (b1 fp32 t2 pytorch): MemoryError: out of memory while loading weights" in text
    assert "cv 0.31 > 0.10" in text and "power above TDP" in text


def test_markup_in_a_model_name_prints_literally() -> None:
    text = leaderboard_table(bench_rows(), width=WIDE)
    assert EVIL_MODEL in text


def test_plain_fallback_renders_the_same_cells(monkeypatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_rich(name, *args, **kwargs):
        if name == "rich" or name.startswith("rich."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_rich)
    text = leaderboard_table(bench_rows())
    assert "pegasus-large" in text and "failed [1]" in text and "): MemoryError" in text and "n/a" in text


def test_empty_rows() -> None:
    assert leaderboard_table([]) == "No results to show.\n"


def test_optimize_table_has_baseline_recommendation_and_rejected_why() -> None:
    text = optimize_table(optimize_result(), width=WIDE)
    assert "baseline" in text and "recommended" in text and "pareto" in text
    assert "quality 0.85 < floor 0.90 <b>" in text
    assert "saving factor ×4" in text and "547" in text
