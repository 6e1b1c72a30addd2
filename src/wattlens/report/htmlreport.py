"""Self-contained HTML reports for ``wattlens bench`` and ``wattlens optimize``.

One file, nothing fetched: the CSS is inline, the figures are base64 PNGs, there is no script, no
web font and no external link, so the report opens offline and can be mailed or archived as is.
Every string that comes from data (model ids, errors, config values, notes) is HTML-escaped.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from wattlens.bench.records import BenchRow
from wattlens.optimize.gen_results import GenOptimizeResult, GenTrial
from wattlens.optimize.results import OptimizeResult
from wattlens.records import to_json
from wattlens.report import _fmt as f
from wattlens.report.tables import LEADERBOARD_COLUMNS, TextTable, leaderboard_cells, optimize_tables
from wattlens.stats import median

RunLike = Mapping[str, object]  # a store's run row (run_id, kind, status, config, environment, ...)

# What each provenance label means (DESIGN.md, idea 1), printed next to the counts.
SOURCE_MEANING = {
    "measured": "read from a hardware energy counter (RAPL, NVML energy counter, amdsmi, powermetrics)",
    "integrated": "sampled power integrated over the window",
    "estimated": "a documented model (e.g. process CPU time × per-core power); widest interval",
    "unavailable": "no reading could be taken",
}

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0 auto;
max-width:1280px;padding:1.2rem 1.6rem;color:#1d1d1f;line-height:1.45}
h1{font-size:1.6rem;margin:.2rem 0 .3rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
h3{font-size:1rem;margin:1.2rem 0 .4rem}
.meta,.caption,footer{color:#555;font-size:.85rem}
nav a{margin-right:1rem;font-size:.9rem}
table{border-collapse:collapse;margin:.4rem 0 1rem;font-size:.82rem}
th,td{border-bottom:1px solid #e4e4e4;padding:.25rem .55rem;text-align:left;vertical-align:top}
th{background:#f4f5f7;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.failed td{background:#fdecea}tr.invalid td{background:#fff6e0}
td.status{max-width:26rem}.stars{color:#b8860b;white-space:nowrap}
table.kv th{width:16rem}
figure{margin:1rem 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
.headline{font-size:1.1rem;background:#eef7ee;border-left:4px solid #2ca02c;padding:.6rem .9rem}
.warn{background:#fff6e0;border-left:4px solid #e0a000;padding:.5rem .8rem}
code{background:#f4f5f7;padding:0 .2rem}
"""


# ------------------------------------------------------------------------------------------- primitives


def esc(value: object) -> str:
    """HTML-escape anything (quotes too: values also land in attributes)."""
    return html.escape("" if value is None else str(value), quote=True)


def _value_text(value: object) -> str:
    """A compact human text for a config/metadata value of any shape."""
    if value is None:
        return f.NA
    if isinstance(value, float):
        return f.sig(value, 4)
    if isinstance(value, (str, int, bool)):
        return str(value)
    if isinstance(value, (list, tuple)) and all(isinstance(v, (str, int, float, bool)) or v is None for v in value):
        return ", ".join(_value_text(v) for v in value)
    text = json.dumps(to_json(value), default=str, ensure_ascii=False, separators=(", ", ": "))
    return text if len(text) <= 600 else text[:599] + "…"


def kv_table(data: Mapping[str, object], *, skip: Iterable[str] = ()) -> str:
    skipped = set(skip)
    rows = "".join(
        f"<tr><th>{esc(k)}</th><td>{esc(_value_text(v))}</td></tr>" for k, v in data.items() if k not in skipped
    )
    return f'<table class="kv">{rows}</table>' if rows else ""


def html_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    numeric: Sequence[bool] | None = None,
    row_class: Callable[[int], str] | None = None,
    cell_class: Mapping[str, str] | None = None,
) -> str:
    numeric = list(numeric or [False] * len(headers))
    cell_class = dict(cell_class or {})
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = []
    for i, cells in enumerate(rows):
        cls = row_class(i) if row_class else ""
        tds = []
        for h, c, is_num in zip(headers, cells, numeric, strict=False):
            classes = " ".join(x for x in ("num" if is_num else "", cell_class.get(h, "")) if x)
            tds.append(f'<td class="{classes}">{esc(c)}</td>' if classes else f"<td>{esc(c)}</td>")
        body.append(f'<tr class="{esc(cls)}">{"".join(tds)}</tr>' if cls else f"<tr>{''.join(tds)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def text_table_html(tt: TextTable) -> str:
    caption = f'<p class="caption">{esc(tt.caption)}</p>' if tt.caption else ""
    return f"<h3>{esc(tt.title)}</h3>" + html_table(tt.headers, tt.rows, numeric=tt.right) + caption


def img_tag(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{esc(alt)}">'


def figure_block(png: bytes | None, caption: str) -> str:
    if png is None:
        return ""
    return f"<figure>{img_tag(png, caption)}<figcaption class='caption'>{esc(caption)}</figcaption></figure>"


def _page(title: str, sections: Sequence[tuple[str, str, str]], meta: str) -> str:
    """sections: (anchor id, heading, inner html); empty inner html drops the section."""
    present = [(a, h, body) for a, h, body in sections if body]
    nav = "".join(f'<a href="#{esc(a)}">{esc(h)}</a>' for a, h, _ in present)
    blocks = "".join(f'<section id="{esc(a)}"><h2>{esc(h)}</h2>{body}</section>' for a, h, body in present)
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    footer = (
        f"<footer><hr>Generated by wattlens {esc(f.wattlens_version())} on {esc(now)}. "
        "Self-contained report: no external resources.</footer>"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{esc(title)}</h1><p class='meta'>{meta}</p><nav>{nav}</nav></header>"
        f"{blocks}{footer}</body></html>\n"
    )


def _write(path: str | Path, text: str) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target


def _run_config(run: RunLike | None) -> dict[str, object]:
    if not isinstance(run, Mapping):
        return {}
    cfg = run.get("config")
    return dict(cfg) if isinstance(cfg, Mapping) else {}


def _present(value: object) -> bool:
    return value not in (None, "", [], {}, ())


def _value(row: BenchRow, key: str) -> object:
    """A row's figure by its JSON name, as plain JSON (records as dicts)."""
    return to_json(row.figure(key))


def _first(rows: Sequence[BenchRow], run_cfg: Mapping[str, object], *keys: str) -> object:
    """The first value of any of ``keys`` in the run config, else in the rows."""
    for key in keys:
        if _present(run_cfg.get(key)):
            return run_cfg[key]
    for row in rows:
        for key in keys:
            value = _value(row, key)
            if _present(value):
                return value
    return None


def _distinct(rows: Sequence[BenchRow], key: str) -> list[object]:
    seen: dict[str, object] = {}
    for row in rows:
        val = _value(row, key)
        if _present(val):
            seen.setdefault(json.dumps(val, sort_keys=True, default=str), val)
    return list(seen.values())


# ------------------------------------------------------------------------------------------------ bench


def _status_class(ordered: Sequence[BenchRow]) -> Callable[[int], str]:
    """The CSS class of the i-th row: its status where it is not ok (failed/invalid rows are tinted)."""

    def row_class(i: int) -> str:
        status = f.status_of(ordered[i])
        return status if status != "ok" else ""

    return row_class


def _leaderboard_html(rows: Sequence[BenchRow]) -> str:
    headers = [h for h, _ in LEADERBOARD_COLUMNS]
    numeric = [r for _, r in LEADERBOARD_COLUMNS]
    parts = []
    for task, group in f.task_groups(rows).items():
        ordered = f.sort_rows(group)
        metric = f.quality_metric(group)
        counts = {s: sum(1 for r in group if f.status_of(r) == s) for s in ("ok", "contended", "invalid", "failed")}
        summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
        parts.append(f"<h3>{esc(task)} <span class='meta'>({esc(summary)})</span></h3>")
        parts.append(
            html_table(
                headers,
                [leaderboard_cells(r) for r in ordered],
                numeric=numeric,
                row_class=_status_class(ordered),
                cell_class={"Status": "status", "Rating": "stars"},
            )
        )
        notes = ["J/query: mean with its interval [low–high]", "Wh/1,000 = J/query × 1,000 / 3,600"]
        if metric:
            notes.append(f"quality metric: {metric}")
        if any(r.weights == "random" for r in group):
            notes.append("random weights: energy and latency are valid, quality is n/a by design")
        parts.append(f"<p class='caption'>{esc('; '.join(notes))}.</p>")
    return "".join(parts)


def _summary_html(rows: Sequence[BenchRow], run: RunLike | None) -> str:
    tasks = f.task_groups(rows)
    models = {r.model for r in rows}
    counts = {s: sum(1 for r in rows if f.status_of(r) == s) for s in ("ok", "contended", "invalid", "failed")}
    facts: dict[str, object] = {
        "cells": len(rows),
        "tasks": ", ".join(tasks),
        "models": len(models),
        "ok / invalid / failed": f"{counts['ok']} / {counts['invalid']} / {counts['failed']}",
    }
    run_ids = sorted({r.run_id for r in rows if r.run_id})
    if run_ids:
        facts["run"] = ", ".join(run_ids)
    if isinstance(run, Mapping):
        for key in ("kind", "status", "created_at", "started_at", "finished_at", "host", "machine"):
            if run.get(key) not in (None, ""):
                facts[key] = run[key]
    html_out = kv_table(facts)
    cfg = _run_config(run)
    shown = {k: v for k, v in cfg.items() if k not in ("result", "rows", "cells") and not isinstance(v, (list, dict))}
    if shown:
        html_out += "<h3>Run configuration</h3>" + kv_table(shown)
    return html_out


def _method_html(rows: Sequence[BenchRow], run: RunLike | None) -> str:
    cfg = _run_config(run)
    out = []
    boundary = _first(rows, cfg, "boundary")
    boundaries = _distinct(rows, "boundary")
    if len(boundaries) > 1:
        boundary = ", ".join(map(str, boundaries)) + " (mixed: compare only within one boundary)"
    out.append(
        kv_table(
            {
                "boundary": boundary if boundary is not None else "not recorded with these results",
                "energy basis of J/query": _first(rows, cfg, "energy_basis", "basis_energy")
                or "as recorded by the runner (gross, idle and net listed below)",
                "repeats per cell": _first(rows, cfg, "repeats") or "not recorded",
                "warm-up batches": _first(rows, cfg, "warmup"),
                "minimum window (s)": _first(rows, cfg, "min_window_s"),
            }
        )
    )
    out.append(_sources_html(rows))
    out.append(_energy_accounting_html(rows))
    out.append(_uncertainty_html(rows))
    out.append(_validity_html(rows))
    return "".join(out)


def _sources_html(rows: Sequence[BenchRow]) -> str:
    counts: dict[str, int] = {}
    for r in rows:
        source = r.source or "not recorded"
        counts[source] = counts.get(source, 0) + 1
    lines = [[src, str(n), SOURCE_MEANING.get(src, "")] for src, n in sorted(counts.items())]
    return "<h3>Source of the figures</h3>" + html_table(["source", "cells", "meaning"], lines)


def _energy_accounting_html(rows: Sequence[BenchRow]) -> str:
    lines = []
    for r in f.sort_rows(rows):
        gross, idle, net = r.gross_j, r.idle_j, r.net_j
        if gross is None and idle is None and net is None:
            continue
        share = f"{100 * idle / gross:.0f} %" if gross and idle is not None else f.NA
        lines.append(
            [
                r.task,
                r.model,
                f.config_label(r.config),
                f.sig(r.queries),
                f.sig(gross),
                f.sig(idle),
                f.sig(net),
                share,
            ]
        )
    if not lines:
        return ""
    intro = (
        "<p>Gross: everything the counted devices drew during the measured windows. Idle: the machine's idle "
        "baseline over the same time. Net (marginal): gross − idle, the energy the workload added.</p>"
    )
    headers = ["task", "model", "config", "queries", "gross J", "idle J", "net J", "idle share"]
    return (
        "<h3>Gross, idle and net energy</h3>"
        + intro
        + html_table(headers, lines, numeric=[False, False, False, True, True, True, True, True])
    )


def _uncertainty_html(rows: Sequence[BenchRow]) -> str:
    cvs = [r.cv for r in rows if r.cv is not None]
    cis = [r for r in rows if r.ci95_j is not None]
    if not cvs and not cis:
        return ""
    facts: dict[str, object] = {}
    if cvs:
        facts["coefficient of variation across repeats"] = (
            f"median {100 * median(cvs):.1f} %, worst {100 * max(cvs):.1f} % ({len(cvs)} cells)"
        )
    if cis:
        facts["95 % confidence interval"] = f"reported per cell as ± J/query ({len(cis)} cells); see J/query [low–high]"
    return "<h3>Repeats and uncertainty</h3>" + kv_table(facts)


def _validity_html(rows: Sequence[BenchRow]) -> str:
    bad = [r for r in rows if f.status_of(r) != "ok" or f.validity_list(r)]
    if not bad:
        return "<h3>Validity</h3><p>All cells passed their validity checks.</p>"
    lines = [
        [
            r.task,
            r.model,
            f.config_label(r.config),
            f.status_of(r),
            f.reason_of(r) or "; ".join(f.validity_list(r)),
        ]
        for r in bad
    ]
    return (
        "<h3>Validity failures and errors</h3><p class='warn'>These cells are kept in the tables, marked, and left "
        "out of the figures.</p>" + html_table(["task", "model", "config", "status", "reason"], lines)
    )


def _ratings_html(rows: Sequence[BenchRow], run: RunLike | None) -> str:
    cfg = _run_config(run)
    parts = []
    run_rating = _first([], cfg, "rating", "ratings", "rating_method")
    if isinstance(run_rating, Mapping):
        parts.append(kv_table(run_rating))
    elif run_rating is not None:
        parts.append(f"<p>{esc(_value_text(run_rating))}</p>")
    for task, group in f.task_groups(rows).items():
        for band in _distinct(group, "rating_band"):
            parts.append(f"<h3>{esc(task)}</h3>")
            parts.append(kv_table(band) if isinstance(band, Mapping) else f"<p>{esc(_value_text(band))}</p>")
    if not parts and not any(r.rating is not None for r in rows):
        return ""
    intro = (
        "<p>Stars are relative to the reference population and band edges below (5 = cheapest band); they change "
        "when the population changes, the Wh beside them does not. Compare the raw Wh/1,000 first.</p>"
    )
    if not parts:
        parts.append("<p>The band edges and reference population were not recorded with these results.</p>")
    return intro + "".join(parts)


CARBON_KEYS = (
    "carbon",
    "location",
    "carbon_location",
    "pue",
    "carbon_intensity_g_per_kwh",
    "intensity_basis",
    "basis",
    "price_per_kwh",
    "currency",
)


def _carbon_html(rows: Sequence[BenchRow], run: RunLike | None) -> str:
    cfg = _run_config(run)
    facts: dict[str, object] = {}
    for key in CARBON_KEYS:
        values = ([cfg[key]] if cfg.get(key) not in (None, "", {}) else []) or _distinct(rows, key)
        if not values:
            continue
        value = values[0] if len(values) == 1 else values
        if isinstance(value, Mapping):
            for k, v in value.items():
                facts[f"{key}.{k}" if key != "carbon" else str(k)] = v
        else:
            facts[key] = value
    if not facts:
        if any(r.co2e_g_per_1000 is not None for r in rows):
            return "<p class='warn'>CO2e figures are shown, but their location, basis and PUE were not recorded.</p>"
        return ""
    return "<p>CO2e = facility energy (node energy × PUE) × grid carbon intensity.</p>" + kv_table(facts)


def _lifecycle_html(rows: Sequence[BenchRow]) -> str:
    """Embodied CO2e and water per 1,000 queries, beside the operational figure, with their basis."""
    with_lc = [r for r in rows if r.embodied is not None or r.water is not None]
    if not with_lc:
        return ""

    def iv(r: BenchRow, key: str, scale: float = 1.0) -> str:
        v, lo, hi = (f.num(r.figure(k)) for k in (key, f"{key}_low", f"{key}_high"))
        if v is None:
            return "n/a"
        return f"{f.sig(v * scale)} [{f.sig((lo or 0) * scale)}, {f.sig((hi or 0) * scale)}]"

    body = [
        [
            r.task,
            r.model,
            iv(r, "co2e_g_per_1000"),
            iv(r, "co2e_embodied_g_per_1000"),
            iv(r, "co2e_total_g_per_1000"),
            iv(r, "water_l_per_1000", 1000.0),
        ]
        for r in with_lc
    ]
    headers = ["task", "model", "operational gCO2e", "embodied gCO2e", "total gCO2e", "water mL"]
    table = html_table(headers, body, numeric=[False, False, True, True, True, True])
    bases = sorted({b for r in with_lc for b in (r.embodied_basis, r.water_basis) if b})
    note = (
        "<p>Per 1,000 queries. The operational CO2e is the figure of the leaderboard, unchanged; the embodied "
        "carbon of the hardware is amortised over its service life (device time = 1,000 / throughput) and water "
        "is counted in litres on its own (docs/LIFECYCLE.md). Not counted: end of life, networking, cooling plant, "
        "the building.</p>"
    )
    return note + table + _notes_html(bases)


def _notes_html(notes: str | Sequence[str] | None) -> str:
    if not notes:
        return ""
    items = [notes] if isinstance(notes, str) else list(notes)
    return "<ul>" + "".join(f"<li>{esc(n)}</li>" for n in items) + "</ul>"


def _bench_figures_html(rows: Sequence[BenchRow]) -> str:
    try:
        from wattlens.report import figures
    except ImportError:  # pragma: no cover - figures.py itself has no hard dependency at import time
        return ""
    try:
        figs = figures.bench_figures(rows)
    except ImportError:
        return "<p class='warn'>matplotlib is not installed: figures omitted (pip install 'wattlens[report]').</p>"
    captions = {
        "energy_per_task": "Energy per 1,000 queries by task, log scale, tasks ordered by median (after Power Hungry "
        "Processing, Luccioni et al. 2024). Hollow diamonds: random weights.",
        "energy_vs_quality": "Energy vs quality per task; dashed green line: Pareto frontier.",
        "energy_vs_latency": "Energy vs p95 latency per task; dashed green line: Pareto frontier.",
        "lifecycle_split": "gCO2e per 1,000 queries: operational (blue) stacked with the amortised embodied carbon "
        "of the hardware (orange), whiskers = interval of the total; water in its own panel (docs/LIFECYCLE.md).",
    }
    return "".join(figure_block(png, captions.get(name, name)) for name, png in figs.items())


def render_bench_html(
    rows: Sequence[f.RowLike],
    *,
    title: str,
    run: RunLike | None = None,
    notes: str | Sequence[str] | None = None,
) -> str:
    """The bench report as an HTML string (see :func:`write_bench_html`)."""
    rows = f.as_rows(rows)
    run_id = (run or {}).get("run_id") or (run or {}).get("id") or next((r.run_id for r in rows if r.run_id), None)
    meta = f"Run {esc(run_id)} · {len(rows)} cells" if run_id else f"{len(rows)} cells"
    sections = [
        ("summary", "Summary", _summary_html(rows, run)),
        ("leaderboard", "Leaderboard", _leaderboard_html(rows) or "<p>No results.</p>"),
        ("figures", "Figures", _bench_figures_html(rows)),
        ("method", "Method", _method_html(rows, run)),
        ("ratings", "Ratings", _ratings_html(rows, run)),
        ("carbon", "Carbon assumptions", _carbon_html(rows, run)),
        ("lifecycle", "Lifecycle: embodied carbon and water", _lifecycle_html(rows)),
        ("notes", "Notes", _notes_html(notes)),
    ]
    return _page(title, sections, meta)


def write_bench_html(
    rows: Sequence[f.RowLike],
    path: str | Path,
    *,
    title: str = "wattlens bench report",
    run: RunLike | None = None,
    notes: str | Sequence[str] | None = None,
) -> Path:
    """Write the bench report (leaderboards, figures, method, ratings, carbon) as one self-contained HTML file."""
    return _write(path, render_bench_html(rows, title=title, run=run, notes=notes))


# --------------------------------------------------------------------------------------------- optimize


def _delta(base: object, rec: object, *, ratio: bool) -> str:
    b, r = f.num(base), f.num(rec)
    if b is None or r is None:
        return f.NA
    if ratio:
        return f"×{f.sig(r / b)}" if b else f.NA
    d = r - b
    return ("+" if d > 0 else "") + f.sig(d)


# (label, field, change shown as ratio?) for the "what it costs elsewhere" table (DESIGN.md, idea 5)
PRICE_ROWS = (
    ("J per query", "j_per_query", True),
    ("quality", "quality", False),
    ("p50 latency (ms)", "p50_ms", True),
    ("p95 latency (ms)", "p95_ms", True),
    ("throughput (queries/s)", "throughput_qps", True),
    ("peak RSS (MB)", "peak_rss_mb", True),
    ("model size (MB)", "model_size_mb", True),
)


def _price_html(result: OptimizeResult) -> str:
    base, rec = result.baseline, result.recommended
    if base is None or rec is None:
        return "<p class='warn'>The result has no baseline/recommended pair.</p>"
    lines = [["config", f.config_label(base.config), f.config_label(rec.config), ""]]
    for label, key, ratio in PRICE_ROWS:
        b, r = getattr(base, key), getattr(rec, key)
        lines.append([label, f.sig(b, 4), f.sig(r, 4), _delta(b, r, ratio=ratio)])
    saving = result.saving_factor
    headline = (
        f"<p class='headline'>Recommended: <b>{esc(f.config_label(rec.config))}</b> — "
        f"{esc(f.sig(saving))}× less energy per query than the baseline "
        f"<b>{esc(f.config_label(base.config))}</b>.</p>"
        if saving is not None
        else ""
    )
    return (
        headline
        + "<p>No saving without its price: what the recommendation changes elsewhere.</p>"
        + html_table(["", "baseline", "recommended", "change"], lines, numeric=[False, True, True, True])
    )


def _search_html(result: OptimizeResult) -> str:
    facts: dict[str, object] = dict(result.search.to_dict())
    if result.payback_queries is not None:
        facts["payback_queries (search energy ÷ saving per query)"] = result.payback_queries
    return kv_table(facts)


def _savings_html(contract: Mapping[str, object]) -> str:
    facts: dict[str, object] = {}
    for key, value in contract.items():
        if "year" in key or (key.startswith("saving") and key != "saving_factor"):
            if isinstance(value, Mapping):
                facts.update({f"{key}.{k}": v for k, v in value.items()})
            elif value is not None:
                facts[key] = value
    return kv_table(facts)


_OPT_KNOWN = {"baseline", "recommended", "pareto", "rejected", "search", "trials", "saving_factor", "payback_queries"}


def _context_html(contract: Mapping[str, object]) -> str:
    ctx = {
        k: v
        for k, v in contract.items()
        if k not in _OPT_KNOWN
        and "year" not in k
        and not k.startswith("saving")
        and not isinstance(v, list)
        and _present(v)
    }
    return kv_table(ctx)


def render_optimize_html(result: f.ResultLike, *, title: str) -> str:
    """The optimize report as an HTML string (see :func:`write_optimize_html`)."""
    result = f.as_result(result)
    contract = result.to_dict()  # the key-value sections show the JSON contract's own names
    try:
        from wattlens.report import figures

        png = figures.optimize_figure(result)
        figs = figure_block(
            png,
            "J/query vs quality and vs p95 latency; dashed: Pareto frontier; red square: "
            "baseline; green star: recommended; grey crosses: rejected.",
        )
    except ImportError:
        figs = "<p class='warn'>matplotlib is not installed: figures omitted.</p>"
    tables = "".join(text_table_html(t) for t in optimize_tables(result))
    sections = [
        ("recommendation", "Recommendation and its price", _price_html(result)),
        ("savings", "Savings per year", _savings_html(contract)),
        ("figures", "Trade-offs", figs),
        ("configs", "Configurations", tables),
        ("search", "Search", _search_html(result)),
        ("context", "Context", _context_html(contract)),
    ]
    meta = esc(" · ".join(v for v in (result.task, result.model) if v))
    return _page(title, sections, meta)


def write_optimize_html(result: f.ResultLike, path: str | Path, *, title: str = "wattlens optimize report") -> Path:
    """Write the optimize report (recommendation and its price, Pareto chart, rejected with why) as one HTML file."""
    return _write(path, render_optimize_html(result, title=title))


# --- optimize: text generation -------------------------------------------------------------------------------------


def _iv(value: float | None, low: float | None, high: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.4g} [{low:.3g}–{high:.3g}]" if low is not None and high is not None else f"{value:.4g}"


def _num(value: float | None, fmt: str = "{:.4g}") -> str:
    return "n/a" if value is None else fmt.format(value)


_GEN_HEADERS = (
    "Role",
    "Config",
    "J/token [95 %]",
    "J/query",
    "Prefill J/query",
    "Decode J/token",
    "TTFT p50/p95 ms",
    "ITL p50/p95 ms",
    "Tokens/s",
    "Peak RSS MB",
    "Source",
)


def _gen_row(role: str, t: GenTrial) -> list[str]:
    return [
        role,
        t.label,
        _iv(t.j_per_token, t.j_per_token_low, t.j_per_token_high),
        _num(t.j_per_query),
        _num(t.prefill_j_per_query),
        _num(t.decode_j_per_token),
        f"{_num(t.ttft_p50_ms, '{:.3g}')} / {_num(t.ttft_p95_ms, '{:.3g}')}",
        f"{_num(t.itl_p50_ms, '{:.3g}')} / {_num(t.itl_p95_ms, '{:.3g}')}",
        _num(t.tokens_per_s, "{:.3g}"),
        _num(t.peak_rss_mb, "{:.0f}"),
        t.energy_source or "n/a",
    ]


def _gen_recommendation_html(r: GenOptimizeResult) -> str:
    rows = [_gen_row(role, t) for role, t in (("baseline", r.baseline), ("recommended", r.recommended)) if t]
    if not rows:
        return "<p>No configuration was measured.</p>"
    parts = [html_table(_GEN_HEADERS, rows, numeric=[False, False, *([True] * 8), False])]
    if r.saving_factor_j_per_token:
        parts.append(
            f"<p>Saving factor <b>×{r.saving_factor_j_per_token:.2f}</b> J/token "
            f"[{r.saving_factor_low or 0:.2f}, {r.saving_factor_high or 0:.2f}] on this hardware "
            "(the interval: the worst case of the two configurations' intervals).</p>"
        )
    q = r.recommended_quality
    if q is not None:
        gate = ">=" if r.quality_metric == "token_agreement" else "<="
        parts.append(
            f"<p>Quality of the recommendation vs the unmodified model: token agreement {q.token_agreement:.4f} "
            f"[{q.token_agreement_low:.3f}, {q.token_agreement_high:.3f}], mean KL {q.kl_mean_nats:.3g} nats "
            f"[{q.kl_mean_low_nats:.3g}, {q.kl_mean_high_nats:.3g}], n={q.n_prompts} prompts ({q.n_tokens} tokens; "
            f"{esc(q.interval)}); gate {esc(r.quality_metric)} {gate} {r.min_quality}.</p>"
        )
    return "".join(parts)


def _gen_trials_html(r: GenOptimizeResult) -> str:
    headers = ("Config", "Fidelity", "Status", "J/token [95 %]", "TTFT p95 ms", "ITL p95 ms", "Tokens/s", "Resumed")
    rows = [
        [
            t.label,
            t.fidelity,
            "ok" if t.ok else f"failed: {t.why or ''}",
            _iv(t.j_per_token, t.j_per_token_low, t.j_per_token_high),
            _num(t.ttft_p95_ms, "{:.3g}"),
            _num(t.itl_p95_ms, "{:.3g}"),
            _num(t.tokens_per_s, "{:.3g}"),
            "yes" if t.resumed else "",
        ]
        for t in r.trials
    ]
    rejected = "".join(f"<li>{esc(x)}</li>" for x in r.rejected)
    extra = f"<h3>Rejected</h3><ul>{rejected}</ul>" if rejected else ""
    numeric = [False, False, False, True, True, True, True, False]
    return (html_table(headers, rows, numeric=numeric) if rows else "") + extra


def _gen_explain_html(r: GenOptimizeResult) -> str:
    rows = [[v.transform, v.verdict, _num(v.factor_vs_baseline, "×{:.2f}"), v.why] for v in r.explain]
    variants = [
        [
            v.variant,
            "passed" if v.passed else "failed",
            "n/a" if v.quality is None else f"{v.quality.value:.4g} (n={v.quality.n_prompts})",
            v.why or "",
        ]
        for v in r.variant_quality
    ]
    out = html_table(("Transform", "Verdict", "vs baseline", "Why"), rows) if rows else ""
    if variants:
        out += "<h3>Variant quality (the gate)</h3>" + html_table(("Variant", "Gate", "Quality", "Why"), variants)
    return out


def _gen_context_html(r: GenOptimizeResult) -> str:
    search = {
        "search_duration_s": r.search_duration_s,
        "search_cpu_s": r.search_cpu_s,
        "search_energy_j": r.search_energy_j,
        "decoding": r.decoding,
        "max_new_tokens": f"{r.max_new_tokens} ({r.max_new_tokens_policy})",
        "weights": r.weights,
        "mode": r.mode,
    }
    notes = "".join(f"<li>{esc(n)}</li>" for n in r.notes)
    return (
        kv_table(search)
        + "<h3>Hardware</h3>"
        + kv_table(r.hardware.to_dict())
        + (f"<h3>Notes</h3><ul>{notes}</ul>" if notes else "")
    )


def render_generation_html(result: GenOptimizeResult, *, title: str) -> str:
    """The text-generation optimize report (recommendation with J/token, TTFT and ITL, every trial, why each
    transform won or lost, quality of each variant, hardware and the search's own cost) as an HTML string."""
    sections = [
        ("recommendation", "Recommendation and its price", _gen_recommendation_html(result)),
        ("explain", "Why each transform won or lost here", _gen_explain_html(result)),
        ("trials", "Every configuration measured", _gen_trials_html(result)),
        ("context", "Search and hardware", _gen_context_html(result)),
    ]
    meta = esc(f"text-generation · {result.model} · run {result.run_id}")
    return _page(title, sections, meta)


def write_generation_html(
    result: GenOptimizeResult, path: str | Path, *, title: str = "wattlens optimize report (text generation)"
) -> Path:
    """Write :func:`render_generation_html` to ``path`` (one self-contained file)."""
    return _write(path, render_generation_html(result, title=title))
