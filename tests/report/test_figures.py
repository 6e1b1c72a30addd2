"""Figures render off-screen to valid PNGs; the energy-per-task chart is on a log axis."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.report.fixtures import bench_rows, optimize_result
from wattlens.report import figures  # cheap: matplotlib is imported inside the drawing functions

pytest.importorskip("matplotlib")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _is_png(data: bytes | None) -> bool:
    return isinstance(data, bytes) and data.startswith(PNG_SIGNATURE) and len(data) > 1000


def test_energy_per_task_uses_a_log_axis_and_orders_tasks_by_median() -> None:
    fig = figures.build_energy_per_task(bench_rows())
    assert fig is not None
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    labels = [t.get_text().split("\n")[0] for t in ax.get_xticklabels()]
    # failed/invalid cells are left out; medians: text-cls < image-cls < text-gen < summarization
    assert labels == ["text-classification", "image-classification", "text-generation", "summarization"]


@pytest.mark.parametrize(
    "make", [figures.energy_per_task_figure, figures.energy_quality_figure, figures.energy_latency_figure]
)
def test_bench_figure_functions_return_and_save_pngs(make, tmp_path: Path) -> None:
    target = tmp_path / "sub" / "fig.png"
    data = make(bench_rows(), target)
    assert _is_png(data)
    assert target.read_bytes() == data


def test_pareto_figures_use_the_axes_they_describe() -> None:
    quality = figures.build_energy_quality(bench_rows())
    latency = figures.build_energy_latency(bench_rows())
    assert quality is not None and latency is not None
    # only tasks with a quality figure get an energy-vs-quality panel (random weights have none)
    assert {ax.get_title().split(" (")[0] for ax in quality.axes} == {"text-classification", "summarization"}
    assert all(ax.get_xscale() == "log" for ax in quality.axes)
    assert all(ax.get_xscale() == "log" and ax.get_yscale() == "log" for ax in latency.axes)


def test_nothing_honest_to_draw_returns_none() -> None:
    failed = [r for r in bench_rows() if r["status"] == "failed"]
    assert figures.energy_per_task_figure(failed) is None
    no_quality = [r for r in bench_rows() if r["quality"] is None]
    assert figures.energy_quality_figure(no_quality) is None


@pytest.mark.slow
def test_bench_figures_and_save_figures(tmp_path: Path) -> None:
    figs = figures.bench_figures(bench_rows())
    assert set(figs) == {"energy_per_task", "energy_vs_quality", "energy_vs_latency"}
    paths = figures.save_figures(figs, tmp_path / "pngs")
    assert sorted(p.name for p in paths) == ["energy_per_task.png", "energy_vs_latency.png", "energy_vs_quality.png"]
    assert all(_is_png(p.read_bytes()) for p in paths)


def test_optimize_figure_is_a_png() -> None:
    assert _is_png(figures.optimize_figure(optimize_result()))
    assert figures.optimize_figure({"saving_factor": 2.0}) is None
