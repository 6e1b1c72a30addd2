"""Terminal tables: the bench leaderboard (one table per task) and the optimize summary.

Rendered with ``rich`` to a string (no ANSI colour unless asked), with a plain-text fallback when
rich is not installed. Failed and invalid cells stay in the table with their reason: a leaderboard
that silently drops the models that broke is a biased leaderboard.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from wattlens.report import _fmt as f

# (header, right-aligned?) in display order; the rating sits next to the raw Wh it was derived from.
LEADERBOARD_COLUMNS: tuple[tuple[str, bool], ...] = (
    ("Model", False),
    ("Config", False),
    ("Weights", False),
    ("Status", False),
    ("J/query [low–high]", True),
    ("Wh/1,000", True),
    ("Rating", False),
    ("p50/p95 ms", True),
    ("Quality", True),
    ("gCO2e/1,000", True),
    ("Source", False),
)


# Shorter headers for the terminal only (the HTML report has room for the long ones).
TERMINAL_HEADERS = {"Wh/1,000": "Wh/1k", "gCO2e/1,000": "gCO2e/1k", "J/query [low–high]": "J/query [lo–hi]"}
WRAPPABLE = frozenset({"Model", "Config", "Why"})  # short status/source words must stay whole


@dataclass
class TextTable:
    """A renderer-neutral table: rich or plain text draw it."""

    title: str
    headers: list[str]
    right: list[bool]
    rows: list[list[str]]
    caption: str = ""
    notes: list[str] = field(default_factory=list)  # footnotes printed under the table (failure reasons)


def _energy_cell(row: Mapping[str, Any]) -> str:
    j = f.num(row.get("j_per_query"))
    if j is None:
        return f.DASH if f.status_of(row) == "failed" else f.NA
    lo, hi = f.num(row.get("j_per_query_low")), f.num(row.get("j_per_query_high"))
    if lo is None or hi is None:
        return f.sig(j)
    return f"{f.sig(j)} [{f.sig(lo)}–{f.sig(hi)}]"


def _rating_cell(row: Mapping[str, Any]) -> str:
    text = f.stars(row.get("rating"))
    return text or (f.DASH if f.status_of(row) != "ok" else f.NA)


def _latency_cell(row: Mapping[str, Any]) -> str:
    p50, p95 = f.num(row.get("p50_ms")), f.num(row.get("p95_ms"))
    if p50 is None and p95 is None:
        return f.DASH if f.status_of(row) == "failed" else f.NA
    return f"{f.sig(p50)} / {f.sig(p95)}"


def _status_cell(row: Mapping[str, Any], note: int | None = None) -> str:
    """Status with its reason inline, or with a footnote mark ``failed [1]`` when the reason goes under the table."""
    status = f.status_of(row)
    reason = f.reason_of(row)
    if not reason:
        return status
    return f"{status} [{note}]" if note is not None else f"{status}: {reason}"


def _missing(row: Mapping[str, Any], text: str) -> str:
    """A failed cell has no figure ("—"); an ok cell with nothing to say is "n/a"."""
    return f.DASH if text == f.NA and f.status_of(row) == "failed" else text


def leaderboard_cells(row: Mapping[str, Any], note: int | None = None) -> list[str]:
    """One leaderboard row as display strings, in LEADERBOARD_COLUMNS order.

    ``note``: footnote number for the failure reason (terminal); None puts the reason in the cell (HTML).
    """
    wh = f.wh_per_1000(row)
    return [
        str(row.get("model") or "?"),
        f.config_label(row.get("config")),
        str(row.get("weights") or f.NA),
        _status_cell(row, note),
        _energy_cell(row),
        _missing(row, f.sig(wh)),
        _rating_cell(row),
        _latency_cell(row),
        _missing(row, f.sig(row.get("quality"))),  # None -> "n/a": never a made-up score
        _missing(row, f.sig(row.get("co2e_g_per_1000"))),
        str(row.get("source") or f.NA),
    ]


def _fold_uniform(table: TextTable, candidates: Sequence[str]) -> TextTable:
    """Move columns whose value is the same on every row into the caption: a terminal is narrow."""
    for header in candidates:
        if header not in table.headers or not table.rows:
            continue
        i = table.headers.index(header)
        values = {r[i] for r in table.rows}
        if len(values) != 1:
            continue
        (value,) = values
        table.caption = f"{header.lower()}: {value}; " + table.caption if value else table.caption
        del table.headers[i], table.right[i]
        for r in table.rows:
            del r[i]
    return table


def _task_caption(rows: Sequence[Mapping[str, Any]]) -> str:
    parts = ["J/query: mean with its interval"]
    if any(f.num(r.get("rating")) is not None for r in rows):
        parts.append("rating: stars from the Wh/1,000 beside them")
    metric = f.quality_metric(rows)
    if metric:
        parts.append(f"quality: {metric}")
    if any(str(r.get("weights")) == "random" for r in rows):
        parts.append("random weights: energy/latency valid, quality n/a")
    return "; ".join(parts)


def leaderboard_tables(rows: Sequence[Mapping[str, Any]]) -> list[TextTable]:
    """One TextTable per task, rows ordered ok (cheapest first), then invalid, then failed."""
    tables = []
    for task, group in f.task_groups(rows).items():
        ordered = f.sort_rows(group)
        counts = {s: sum(1 for r in group if f.status_of(r) == s) for s in ("ok", "invalid", "failed")}
        extra = ", ".join(f"{n} {s}" for s, n in counts.items() if n and s != "ok")
        title = f"{task} — {len(group)} cell{'s' if len(group) != 1 else ''}" + (f" ({extra})" if extra else "")
        cells, notes = [], []
        for row in ordered:
            reason = f.reason_of(row)
            if reason:  # the reason goes under the table in full: a narrow cell would chop it into pieces
                notes.append(f"[{len(notes) + 1}] {row.get('model')} ({f.config_label(row.get('config'))}): {reason}")
            cells.append(leaderboard_cells(row, len(notes) if reason else None))
        table = TextTable(
            title=title,
            headers=[h for h, _ in LEADERBOARD_COLUMNS],
            right=[r for _, r in LEADERBOARD_COLUMNS],
            rows=cells,
            caption=_task_caption(group),
            notes=notes,
        )
        tables.append(_fold_uniform(table, ("Config", "Weights", "Source")))
    return tables


def _min_width(tt: TextTable) -> int:
    """Columns that may not wrap need their longest cell; wrappable ones their longest word (Model >= 20)."""
    total = 3 * (len(tt.headers) - 1) + 4  # padding (2) and divider (1) between columns, edges
    for i, header in enumerate(tt.headers):
        shown = TERMINAL_HEADERS.get(header, header)
        cells = [r[i] for r in tt.rows]
        if header in WRAPPABLE:
            words = [w for c in [shown, *cells] for w in c.split()] or [""]
            need = max(len(w) for w in words)
            if header in ("Model", "Role"):
                need = max(need if need <= 20 else 0, min(max(map(len, cells), default=0), 20))
            total += need
        else:
            total += max(len(c) for c in [shown, *cells])
    return total


def _render_rich(tables: Sequence[TextTable], width: int, color: bool) -> str:
    from io import StringIO

    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    buf = StringIO()
    console = Console(
        file=buf, width=width, force_terminal=color, color_system="standard" if color else None, highlight=False
    )
    for tt in tables:
        table = Table(
            title=Text(tt.title, style="bold"),
            caption=Text(tt.caption) if tt.caption else None,
            box=box.SIMPLE_HEAD,
            show_lines=False,
            pad_edge=False,
            title_justify="left",
            caption_justify="left",
        )
        for i, (header, right) in enumerate(zip(tt.headers, tt.right, strict=False)):
            longest = max((len(r[i]) for r in tt.rows), default=0)
            # Numbers and model ids should not break mid-token: rich shrinks the wrappable text columns first.
            table.add_column(
                TERMINAL_HEADERS.get(header, header),
                justify="right" if right else "left",
                overflow="fold",
                no_wrap=header not in WRAPPABLE,
                # a squeezed table must still name its models: never fold them below ~20 characters
                min_width=min(longest, 20) if header in ("Model", "Role") else None,
            )
        for cells in tt.rows:
            style = None
            status = cells[tt.headers.index("Status")] if "Status" in tt.headers else "ok"
            if color and status.startswith("failed"):
                style = "red"
            elif color and status.startswith("invalid"):
                style = "yellow"
            # Text objects, not markup strings: a model called "[bold]x" must print literally.
            table.add_row(*(Text(c) for c in cells), style=style)
        # Cropping would lose figures: when the unbreakable cells need more than `width`, print wider lines.
        console.width = max(width, _min_width(tt))
        console.print(table)
        console.width = width
        for note in tt.notes:
            console.print(Text(note, style="red" if color else ""), overflow="fold")
        if tt.notes:
            console.print()
    return buf.getvalue()


def _render_plain(tables: Sequence[TextTable]) -> str:
    """Fixed-width fallback used when rich is not installed."""
    out: list[str] = []
    for tt in tables:
        widths = [max(len(h), *(len(r[i]) for r in tt.rows)) if tt.rows else len(h) for i, h in enumerate(tt.headers)]

        def line(cells: Sequence[str], widths: list[int] = widths, right: list[bool] = tt.right) -> str:
            cols = zip(cells, widths, right, strict=False)
            return "  ".join(c.rjust(w) if r else c.ljust(w) for c, w, r in cols).rstrip()

        out.append(tt.title)
        out.append(line(tt.headers))
        out.append("  ".join("-" * w for w in widths))
        out.extend(line(r) for r in tt.rows)
        if tt.caption:
            out.append(tt.caption)
        out.extend(tt.notes)
        out.append("")
    return "\n".join(out)


def render_tables(tables: Sequence[TextTable], *, width: int | None = None, color: bool = False) -> str:
    if width is None:
        width = max(shutil.get_terminal_size((140, 24)).columns, 100)
    try:
        return _render_rich(tables, width, color)
    except ImportError:
        return _render_plain(tables)


def leaderboard_table(rows: Sequence[Mapping[str, Any]], *, width: int | None = None, color: bool = False) -> str:
    """The bench leaderboard, one table per task, as a string ready to print.

    ``width`` defaults to the terminal width (at least 100 columns); ``color`` adds ANSI styles.
    """
    if not rows:
        return "No results to show.\n"
    return render_tables(leaderboard_tables(rows), width=width, color=color)


# --------------------------------------------------------------------------------------------- optimize

OPTIMIZE_COLUMNS: tuple[tuple[str, bool], ...] = (
    ("Role", False),
    ("Config", False),
    ("J/query", True),
    ("Quality", True),
    ("p50/p95 ms", True),
    ("Peak RSS MB", True),
    ("Why", False),
)


def _opt_cells(role: str, point: Mapping[str, Any], why: str = "") -> list[str]:
    return [
        role,
        f.config_label(point.get("config")),
        f.sig(point.get("j_per_query")),
        f.sig(point.get("quality")),
        f"{f.sig(point.get('p50_ms'))} / {f.sig(point.get('p95_ms'))}",
        f.sig(point.get("peak_rss_mb")),
        why,
    ]


def optimize_tables(result: Mapping[str, Any]) -> list[TextTable]:
    """Baseline, recommendation, Pareto set and rejected configurations (with why) as TextTables."""
    headers = [h for h, _ in OPTIMIZE_COLUMNS]
    right = [r for _, r in OPTIMIZE_COLUMNS]
    main: list[list[str]] = []
    if isinstance(result.get("baseline"), Mapping):
        main.append(_opt_cells("baseline", result["baseline"]))
    if isinstance(result.get("recommended"), Mapping):
        main.append(_opt_cells("recommended", result["recommended"]))
    for point in result.get("pareto") or []:
        if isinstance(point, Mapping):
            main.append(_opt_cells("pareto", point))
    saving = f.num(result.get("saving_factor"))
    caption = f"saving factor ×{f.sig(saving)}" if saving is not None else ""
    if f.num(result.get("payback_queries")) is not None:
        caption += f"; search pays back after {f.sig(result['payback_queries'])} queries"
    tables = [TextTable("optimize — baseline, recommendation, Pareto set", headers, right, main, caption.strip("; "))]
    rejected = [
        _opt_cells("rejected", p, str(p.get("why") or p.get("reason") or "no reason recorded"))
        for p in result.get("rejected") or []
        if isinstance(p, Mapping)
    ]
    if rejected:
        tables.append(TextTable("rejected configurations", headers, right, rejected))
    return tables


def optimize_table(result: Mapping[str, Any], *, width: int | None = None, color: bool = False) -> str:
    """The optimize result as terminal tables (baseline vs recommended first, rejected with their why)."""
    return render_tables(optimize_tables(result), width=width, color=color)
