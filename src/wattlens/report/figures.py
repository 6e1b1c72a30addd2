"""Figures for bench and optimize reports (matplotlib, imported lazily, rendered off-screen with Agg).

Each public ``*_figure`` function returns the PNG bytes (and writes them to ``path`` when given), or
None when there is nothing honest to draw (e.g. no model with a quality figure). The ``build_*``
functions return the matplotlib ``Figure`` itself, for tests and for callers that want to restyle.

We never touch pyplot: figures are created with ``matplotlib.figure.Figure`` and drawn by the Agg
canvas, so no global backend is switched and no GUI window can open (safe in notebooks and servers).

The energy-per-task chart follows Power Hungry Processing (Luccioni, Jernite, Strubell, FAccT 2024,
arXiv 2311.16863): energy per 1,000 queries on a log axis, tasks ordered by their median, one point
per model. Task energies span ~3 orders of magnitude there (text classification 0.002 kWh to image
generation 2.9 kWh per 1,000 queries, benchmark-anchors.md §1.3), hence the log scale.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

from wattlens.bench.records import BenchRow
from wattlens.optimize.results import Config, OptimizeResult
from wattlens.pareto import Objective, pareto_front
from wattlens.report import _fmt as f
from wattlens.stats import median

if TYPE_CHECKING:  # pragma: no cover - typing only, keeps matplotlib out of `import wattlens`
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

T = TypeVar("T")
Getter = Callable[[T], float | None]


class _Point(Protocol):
    """What a point of the optimize chart needs (OptimizePoint, TrialPoint and Rejection have it)."""

    @property
    def config(self) -> Config: ...
    @property
    def j_per_query(self) -> float | None: ...
    @property
    def quality(self) -> float | None: ...
    @property
    def p95_ms(self) -> float | None: ...


def _front(items: Sequence[T], x_of: Getter[T], y_of: Getter[T], minimize_y: bool) -> list[T]:
    """The (x, y) Pareto front, x minimised: the one front function of wattlens.pareto."""
    return pareto_front(items, [Objective(x_of), Objective(y_of, minimize=minimize_y)])


TRAINED_COLOR = "#1f77b4"
RANDOM_COLOR = "#ff7f0e"
FRONTIER_COLOR = "#2ca02c"
BASELINE_COLOR = "#d62728"
RECOMMENDED_COLOR = "#2ca02c"
OTHER_COLOR = "#7f7f7f"
DPI = 110
MAX_POINT_LABELS = 60  # beyond this the labels overlap into a smear; the HTML table names every model


# ----------------------------------------------------------------------------------------------- plumbing


def _pad_bottom(fig: Figure, h_pad: float) -> None:
    from matplotlib.layout_engine import ConstrainedLayoutEngine

    engine = fig.get_layout_engine()
    if isinstance(engine, ConstrainedLayoutEngine):
        engine.set(h_pad=h_pad)


def _xs(getter: Getter[T], items: Sequence[T]) -> list[float]:
    """Values to draw (items without one were filtered out before; NaN would be skipped by matplotlib)."""
    return [math.nan if (v := getter(it)) is None else v for it in items]


def _new_figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def to_png(fig: Figure, path: str | Path | None = None) -> bytes:
    """Render ``fig`` to PNG bytes (Agg); also write them to ``path`` when given."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)  # attach an Agg canvas explicitly: no pyplot, no global backend
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    data = buf.getvalue()
    if path is not None:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return data


def _tick_text(value: float, _pos: object = None) -> str:
    """Plain tick labels (0.03, 1, 200) instead of 3×10⁻²: easier to read for people who are not physicists."""
    if value <= 0:
        return ""
    return f"{value:g}" if 1e-4 <= value < 1e6 else f"{value:.0e}"


def _log_axis(ax: Axes, which: str) -> None:
    """Log scale with plain labels; minor ticks (2×, 5×) labelled only when the data span is short."""
    from matplotlib import ticker

    getattr(ax, f"set_{which}scale")("log")
    axis = ax.xaxis if which == "x" else ax.yaxis
    lo, hi = ax.get_xlim() if which == "x" else ax.get_ylim()
    plain = ticker.FuncFormatter(_tick_text)
    axis.set_major_formatter(plain)
    axis.set_minor_locator(ticker.LogLocator(base=10.0, subs=(2.0, 5.0)))
    decades = math.log10(hi / lo) if lo > 0 and hi > 0 else 99.0
    # Over a short span there may be no power of ten on the axis at all: then the minor labels are the scale.
    axis.set_minor_formatter(plain if decades < 2.5 else ticker.NullFormatter())


def _usable(rows: Sequence[BenchRow]) -> tuple[list[BenchRow], dict[str, int]]:
    """Rows that can be plotted (status ok, an energy figure) and how many were left out, by status."""
    keep: list[BenchRow] = []
    left_out: dict[str, int] = {}
    for row in rows:
        status = f.status_of(row)
        if status == "ok" and f.wh_per_1000(row) is not None:
            keep.append(row)
        else:
            key = status if status != "ok" else "no energy figure"
            left_out[key] = left_out.get(key, 0) + 1
    return keep, left_out


def _left_out_note(left_out: Mapping[str, int], extra: str = "") -> str:
    parts = [f"{n} {k}" for k, n in left_out.items()]
    note = f"Not plotted: {', '.join(parts)} (see the table for reasons)." if parts else ""
    return " ".join(p for p in (note, extra) if p)


def _point_label(row: BenchRow, duplicated: bool) -> str:
    """Short model name; the config is added only when one model appears with several configs."""
    label = f.short_model(row.model)
    if duplicated:
        label += f" ({f.config_label(row.config)})"
    return label


def _duplicated_models(rows: Sequence[BenchRow]) -> set[str]:
    seen: dict[str, int] = {}
    for row in rows:
        key = f"{row.task}|{row.model}"
        seen[key] = seen.get(key, 0) + 1
    return {k for k, n in seen.items() if n > 1}


def _sources_note(rows: Sequence[BenchRow]) -> str:
    sources = sorted({r.source for r in rows if r.source})
    return f"Source of figures: {', '.join(sources)}." if sources else ""


# ------------------------------------------------------------------------------------ (1) energy per task


def build_energy_per_task(rows: Sequence[f.RowLike], *, title: str | None = None) -> Figure | None:
    """Wh per 1,000 queries per task on a log axis, tasks ordered by median, one point per model."""
    usable, left_out = _usable(f.as_rows(rows))
    if not usable:
        return None
    groups = f.task_groups(usable)
    medians = {t: median([f.wh_per_1000(r) or 0.0 for r in g]) for t, g in groups.items()}
    tasks = sorted(groups, key=lambda t: (medians[t], t))
    dup = _duplicated_models(usable)
    label_points = len(usable) <= MAX_POINT_LABELS

    fig = _new_figure(max(7.0, 1.6 * len(tasks) + 3.0), 5.6)
    ax = fig.add_subplot()
    for i, task in enumerate(tasks):
        pts = sorted(groups[task], key=lambda r: f.wh_per_1000(r) or 0.0)
        offsets = _spread(len(pts), 0.28)
        for dx, row in zip(offsets, pts, strict=True):  # _spread(n) returns n offsets
            _energy_point(ax, i + dx, row)
            if label_points:
                duplicated = f"{row.task}|{row.model}" in dup
                ax.annotate(
                    _point_label(row, duplicated),
                    (i + dx, f.wh_per_1000(row) or 0.0),
                    xytext=(5, 0),
                    textcoords="offset points",
                    fontsize=6.5,
                    va="center",
                    color="#333333",
                    zorder=4,
                    bbox={"boxstyle": "square,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.75},
                )
        ax.hlines(medians[task], i - 0.38, i + 0.38, colors="black", linewidth=1.6, alpha=0.6, zorder=1)

    _log_axis(ax, "y")
    ax.set_xticks(range(len(tasks)))
    ax.set_xticklabels([f"{t}\n(n={len(groups[t])})" for t in tasks], rotation=20, ha="right", fontsize=8)
    ax.set_xlim(-0.6, len(tasks) - 0.4)
    ax.set_ylabel("Wh per 1,000 queries (log scale)")
    ax.grid(axis="y", which="both", alpha=0.3)
    ax.set_title(title or "Energy per 1,000 queries by task (tasks ordered by median)")
    _energy_legend(ax, usable)
    note = _left_out_note(left_out, _sources_note(usable) + " Error bars: the J/query interval of each cell.")
    fig.text(0.01, 0.005, note, fontsize=7, color="#555555", ha="left", va="bottom", wrap=True)
    _pad_bottom(fig, 0.25)  # room for the note under the axis labels
    return fig


def _spread(n: int, half_width: float) -> list[float]:
    """Evenly spaced horizontal offsets so that points of one task do not sit on top of each other."""
    if n == 1:
        return [0.0]
    step = 2 * half_width / (n - 1)
    return [-half_width + k * step for k in range(n)]


def _energy_point(ax: Axes, x: float, row: BenchRow) -> None:
    wh = f.wh_per_1000(row) or 0.0
    lo, hi = f.wh_bounds(row)
    yerr = None
    if lo is not None and hi is not None:
        yerr = [[max(wh - lo, 0.0)], [max(hi - wh, 0.0)]]
    random_weights = row.weights == "random"
    # Random weights are valid for energy and latency, not quality: drawn hollow so nobody reads them as a
    # trained model's result.
    ax.errorbar(
        [x],
        [wh],
        yerr=yerr,
        fmt="D" if random_weights else "o",
        markersize=6,
        color=RANDOM_COLOR if random_weights else TRAINED_COLOR,
        markerfacecolor="white" if random_weights else TRAINED_COLOR,
        ecolor="#888888",
        elinewidth=1,
        capsize=2,
        zorder=3,
    )


def _energy_legend(ax: Axes, rows: Sequence[BenchRow]) -> None:
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], marker="o", linestyle="", color=TRAINED_COLOR, label="model, trained weights")]
    if any(r.weights == "random" for r in rows):
        handles.append(
            Line2D(
                [],
                [],
                marker="D",
                linestyle="",
                color=RANDOM_COLOR,
                markerfacecolor="white",
                label="model, random weights (energy valid, no quality)",
            )
        )
    handles.append(Line2D([], [], color="black", linewidth=1.6, label="task median"))
    ax.legend(handles=handles, loc="upper left", fontsize=8, framealpha=0.9)


def energy_per_task_figure(
    rows: Sequence[f.RowLike], path: str | Path | None = None, *, title: str | None = None
) -> bytes | None:
    """The paper's log-scale energy-per-task chart as PNG bytes (None when no row has an energy figure)."""
    fig = build_energy_per_task(rows, title=title)
    return None if fig is None else to_png(fig, path)


# ------------------------------------------------------------------------------ (2)/(3) per-task Pareto


def _grid(n: int) -> tuple[int, int]:
    cols = min(3, n)
    return math.ceil(n / cols), cols


def _pareto_panels(
    rows: Sequence[BenchRow],
    *,
    x_of: Getter[BenchRow],
    y_of: Getter[BenchRow],
    minimize_y: bool,
    x_label: str,
    y_label: str,
    x_log: bool,
    y_log: bool,
    title: str,
    note: str,
) -> Figure | None:
    """One panel per task: every usable point, the frontier drawn through the non-dominated ones."""
    usable, left_out = _usable(rows)
    groups = {
        t: [r for r in g if x_of(r) is not None and y_of(r) is not None] for t, g in f.task_groups(usable).items()
    }
    groups = {t: g for t, g in groups.items() if g}
    if not groups:
        return None
    nrows, ncols = _grid(len(groups))
    fig = _new_figure(4.6 * ncols + 0.6, 3.9 * nrows + 0.7)
    dup = _duplicated_models(usable)
    for k, (task, pts) in enumerate(groups.items()):
        ax = fig.add_subplot(nrows, ncols, k + 1)
        front = _front(pts, x_of, y_of, minimize_y)
        front_ids = {id(r) for r in front}
        for row in pts:
            on_front = id(row) in front_ids
            random_weights = row.weights == "random"
            ax.scatter(
                _xs(x_of, [row]),
                _xs(y_of, [row]),
                marker="D" if random_weights else "o",
                s=36,
                facecolors="white" if random_weights else (FRONTIER_COLOR if on_front else OTHER_COLOR),
                edgecolors=FRONTIER_COLOR if on_front else OTHER_COLOR,
                zorder=3,
            )
            label = _point_label(row, f"{row.task}|{row.model}" in dup)
            ax.annotate(label, (x_of(row), y_of(row)), xytext=(4, 3), textcoords="offset points", fontsize=6.5)
        if len(front) > 1:
            ax.plot(_xs(x_of, front), _xs(y_of, front), color=FRONTIER_COLOR, linestyle="--", lw=1.2)
        ax.margins(0.15)
        if x_log:
            _log_axis(ax, "x")
        if y_log:
            _log_axis(ax, "y")
        ax.set_title(f"{task} (n={len(pts)})", fontsize=10)
        ax.set_xlabel(x_label, fontsize=8)
        ax.set_ylabel(y_label, fontsize=8)
        ax.tick_params(which="both", labelsize=7)
        ax.grid(which="both", alpha=0.3)
    fig.suptitle(title, fontsize=11)
    excluded = len(usable) - sum(len(g) for g in groups.values())
    if excluded:
        left_out = {**left_out, f"without {y_label.split(' (')[0].lower()}": excluded}
    fig.text(0.01, 0.005, _left_out_note(left_out, note), fontsize=7, color="#555555", ha="left", va="bottom")
    _pad_bottom(fig, 0.2)
    return fig


def build_energy_quality(rows: Sequence[f.RowLike], *, title: str | None = None) -> Figure | None:
    """Energy (x, log) vs quality (y) per task; only models with a quality figure; frontier dashed."""
    rows = f.as_rows(rows)
    return _pareto_panels(
        rows,
        x_of=f.wh_per_1000,
        y_of=lambda r: f.num(r.quality),
        minimize_y=False,
        x_label="Wh per 1,000 queries (log)",
        y_label=f"Quality ({f.quality_metric(rows)})" if f.quality_metric(rows) else "Quality",
        x_log=True,
        y_log=False,
        title=title or "Energy vs quality per task — green: Pareto frontier (less energy, more quality)",
        note="Models with random weights or without a quality metric are not drawn.",
    )


def energy_quality_figure(
    rows: Sequence[f.RowLike], path: str | Path | None = None, *, title: str | None = None
) -> bytes | None:
    """Energy-vs-quality Pareto chart as PNG bytes, or None when no model has a quality figure."""
    fig = build_energy_quality(rows, title=title)
    return None if fig is None else to_png(fig, path)


def build_energy_latency(rows: Sequence[f.RowLike], *, title: str | None = None) -> Figure | None:
    """p95 latency (x, log) vs energy (y, log) per task; frontier of (faster, cheaper) dashed."""
    return _pareto_panels(
        f.as_rows(rows),
        x_of=lambda r: f.num(r.p95_ms),
        y_of=f.wh_per_1000,
        minimize_y=True,
        x_label="p95 latency, ms (log)",
        y_label="Wh per 1,000 queries (log)",
        x_log=True,
        y_log=True,
        title=title or "Energy vs p95 latency per task — green: Pareto frontier (faster and cheaper)",
        note="",
    )


def energy_latency_figure(
    rows: Sequence[f.RowLike], path: str | Path | None = None, *, title: str | None = None
) -> bytes | None:
    """Energy-vs-p95-latency Pareto chart as PNG bytes, or None when no row has both figures."""
    fig = build_energy_latency(rows, title=title)
    return None if fig is None else to_png(fig, path)


# ------------------------------------------------------------------------------------------ (4) optimize


def _opt_points(result: OptimizeResult) -> list[tuple[str, _Point]]:
    """(role, point) for every configuration with numbers: baseline, recommended, Pareto set, trials, rejected.

    A Pareto/trial point with the same config as the baseline or the recommendation is drawn once, in its
    highlighted role (the recommendation is normally also a member of the Pareto set).
    """
    out: list[tuple[str, _Point]] = []
    for role, point in (("baseline", result.baseline), ("recommended", result.recommended)):
        if point is not None:
            out.append((role, point))
    highlighted = [p.config for _, p in out]
    groups: tuple[tuple[str, Sequence[_Point]], ...] = (
        ("pareto", result.pareto),
        ("trial", result.trials),
        ("rejected", result.rejected),
    )
    for role, points in groups:
        for p in points:
            if f.num(p.j_per_query) is None:
                continue
            if role != "rejected" and p.config in highlighted:
                continue
            out.append((role, p))
    return out


def _optimize_panel(
    ax: Axes, points: Sequence[tuple[str, _Point]], y_of: Getter[_Point], minimize_y: bool, y_label: str
) -> None:
    def x_of(p: _Point) -> float | None:
        return f.num(p.j_per_query)

    drawable = [(role, p) for role, p in points if x_of(p) is not None and y_of(p) is not None]
    if not drawable:
        ax.text(0.5, 0.5, f"no {y_label.lower()} figures", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    # The frontier is computed over the configurations that passed the gates; rejected ones are context.
    candidates = [p for role, p in drawable if role != "rejected"]
    front = _front(candidates, x_of, y_of, minimize_y)
    styles = {
        "rejected": ("x", OTHER_COLOR, 30, "rejected (see table)"),
        "trial": ("o", "#bbbbbb", 20, "other trial"),
        "pareto": ("o", FRONTIER_COLOR, 36, "Pareto set"),
        "baseline": ("s", BASELINE_COLOR, 110, "baseline"),
        "recommended": ("*", RECOMMENDED_COLOR, 220, "recommended"),
    }
    drawn: set[str] = set()
    order = ("rejected", "trial", "pareto", "baseline", "recommended")
    for role in order:
        for r, p in drawable:
            if r != role:
                continue
            marker, color, size, label = styles[role]
            ax.scatter(
                _xs(x_of, [p]),
                _xs(y_of, [p]),
                marker=marker,
                c=color,
                s=size,
                # "x" is an unfilled marker: an edgecolor there is ignored by matplotlib (and warns)
                edgecolors="black" if role in ("baseline", "recommended") else (None if role == "rejected" else "none"),
                zorder=4 if role in ("baseline", "recommended") else 3,
                label=None if role in drawn else label,
            )
            drawn.add(role)
            if role in ("baseline", "recommended") or (role == "pareto" and len(drawable) <= 25):
                _optimize_label(ax, role, p, (x_of(p), y_of(p)))
    if len(front) > 1:
        ax.plot(_xs(x_of, front), _xs(y_of, front), "--", color=FRONTIER_COLOR, lw=1.2, zorder=2)
    xs = [x for x in (x_of(p) for _, p in drawable) if x is not None]
    ax.margins(0.15)
    if min(xs) > 0 and max(xs) / min(xs) > 5:  # a log axis only when the spread needs one
        _log_axis(ax, "x")
    ax.set_xlabel("J per query" + (" (log)" if ax.get_xscale() == "log" else ""), fontsize=9)
    ax.set_ylabel(y_label, fontsize=9)
    ax.grid(which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="best")


def _optimize_label(ax: Axes, role: str, point: _Point, xy: tuple[float | None, float | None]) -> None:
    """Config label next to a point. The baseline is usually the most expensive (rightmost) point, so its
    label goes to the left; the recommendation is usually the cheapest, so its label goes to the right."""
    highlighted = role in ("baseline", "recommended")
    text = (f"{role}: " if highlighted else "") + f.config_label(point.config)
    left = role == "baseline"
    ax.annotate(
        text,
        xy,
        xytext=(-9 if left else 8, -13 if left else 6),
        textcoords="offset points",
        ha="right" if left else "left",
        fontsize=7 if highlighted else 6.5,
        fontweight="bold" if highlighted else "normal",
        zorder=5,
        bbox={"boxstyle": "square,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.75},
    )


def build_optimize(result: f.ResultLike, *, title: str | None = None) -> Figure | None:
    """Two panels: J/query vs quality and J/query vs p95, frontier dashed, baseline and recommendation marked."""
    result = f.as_result(result)
    points = _opt_points(result)
    if not points:
        return None
    fig = _new_figure(12.0, 5.0)
    ax_q, ax_l = fig.subplots(1, 2)
    _optimize_panel(ax_q, points, lambda p: f.num(p.quality), minimize_y=False, y_label="Quality")
    _optimize_panel(ax_l, points, lambda p: f.num(p.p95_ms), minimize_y=True, y_label="p95 latency (ms)")
    saving = result.saving_factor
    suffix = f" — saving ×{f.sig(saving)}" if saving is not None else ""
    fig.suptitle((title or "Optimize: energy vs quality and vs tail latency") + suffix, fontsize=11)
    return fig


def optimize_figure(result: f.ResultLike, path: str | Path | None = None, *, title: str | None = None) -> bytes | None:
    """The optimize trade-off chart as PNG bytes, or None when the result holds no configuration with numbers."""
    fig = build_optimize(result, title=title)
    return None if fig is None else to_png(fig, path)


# ------------------------------------------------------------------- (4) lifecycle: operational + embodied


def _lifecycle_rows(rows: Sequence[BenchRow]) -> list[BenchRow]:
    return [
        r
        for r in rows
        if f.status_of(r) == "ok" and (r.co2e_embodied_g_per_1000 is not None or r.water_l_per_1000 is not None)
    ]


def _whiskers(rows: Sequence[BenchRow], key: str, scale: float = 1.0) -> tuple[list[float], list[list[float]]]:
    """Central values and [below, above] error lengths from ``key``, ``key_low``, ``key_high``."""
    values: list[float] = []
    errs: list[list[float]] = [[], []]
    for r in rows:
        v = (f.num(r.figure(key)) or 0.0) * scale
        lo, hi = (f.num(r.figure(f"{key}_{b}")) for b in ("low", "high"))
        values.append(v)
        errs[0].append(max(v - lo * scale, 0.0) if lo is not None else 0.0)
        errs[1].append(max(hi * scale - v, 0.0) if hi is not None else 0.0)
    return values, errs


def build_lifecycle_split(rows: Sequence[f.RowLike], *, title: str | None = None) -> Figure | None:
    """Per cell, gCO2e per 1,000 queries as a stacked bar — operational (the figure users compare) then the
    amortised embodied share — with the total's interval; and, in its own panel, water per 1,000 queries.
    Linear axes: a stacked bar on a log axis would misstate the shares. None when no row has the figures."""
    usable = _lifecycle_rows(f.as_rows(rows))
    if not usable:
        return None
    has_carbon = any(r.co2e_embodied_g_per_1000 is not None for r in usable)
    has_water = any(r.water_l_per_1000 is not None for r in usable)
    panels = int(has_carbon) + int(has_water)
    fig = _new_figure(6.5 * panels + 1.5, max(2.6, 0.34 * len(usable) + 1.4))
    axes = fig.subplots(1, panels, sharey=True, squeeze=False)[0]
    labels = [f"{r.task} / {f.short_model(r.model)}" for r in usable]
    ys = list(range(len(usable)))
    i = 0
    if has_carbon:
        ax = axes[i]
        i += 1
        op = [r.co2e_g_per_1000 or 0.0 for r in usable]
        emb = [r.co2e_embodied_g_per_1000 or 0.0 for r in usable]
        ax.barh(ys, op, color=TRAINED_COLOR, label="operational (electricity)")
        ax.barh(ys, emb, left=op, color=RANDOM_COLOR, label="embodied (hardware, amortised)")
        totals, errs = _whiskers(usable, "co2e_total_g_per_1000")
        ax.errorbar(totals, ys, xerr=errs, fmt="none", ecolor="black", elinewidth=0.8, capsize=2)
        ax.set_xlabel("gCO2e per 1,000 queries")
        ax.legend(fontsize=7, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False)
        ax.grid(axis="x", alpha=0.3)
    if has_water:
        ax = axes[i]
        water, errs = _whiskers(usable, "water_l_per_1000", 1000.0)
        ax.barh(ys, water, color=FRONTIER_COLOR, xerr=errs, error_kw={"elinewidth": 0.8, "capsize": 2})
        ax.set_xlabel("water, mL per 1,000 queries (on site + off site)")
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(ys)
    axes[0].set_yticklabels(labels, fontsize=7)
    axes[0].invert_yaxis()
    fig.suptitle(title or "Operational and embodied CO2e, and water, per 1,000 queries", fontsize=10)
    return fig


def lifecycle_split_figure(
    rows: Sequence[f.RowLike], path: str | Path | None = None, *, title: str | None = None
) -> bytes | None:
    fig = build_lifecycle_split(rows, title=title)
    return None if fig is None else to_png(fig, path)


# ------------------------------------------------------------------------------------------- collections


def bench_figures(rows: Sequence[f.RowLike]) -> dict[str, bytes]:
    """All bench figures that have something to show: name -> PNG bytes (names are file stems)."""
    rows = f.as_rows(rows)
    makers: dict[str, Callable[[Sequence[BenchRow]], bytes | None]] = {
        "energy_per_task": energy_per_task_figure,
        "energy_vs_quality": energy_quality_figure,
        "energy_vs_latency": energy_latency_figure,
        "lifecycle_split": lifecycle_split_figure,
    }
    out = {}
    for name, make in makers.items():
        png = make(rows)
        if png is not None:
            out[name] = png
    return out


def optimize_figures(result: f.ResultLike) -> dict[str, bytes]:
    png = optimize_figure(result)
    return {"optimize_tradeoffs": png} if png is not None else {}


def save_figures(figures: Mapping[str, bytes], directory: str | Path) -> list[Path]:
    """Write ``name.png`` for each figure into ``directory`` (created); returns the paths written."""
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, png in figures.items():
        p = target / f"{name}.png"
        p.write_bytes(png)
        paths.append(p)
    return paths
