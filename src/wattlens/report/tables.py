"""Terminal tables: the bench leaderboard (one table per task) and the optimize summaries.

Rendered with ``rich`` to a string (no ANSI colour unless asked), with a plain-text fallback when
rich is not installed. Failed and invalid cells stay in the table with their reason: a leaderboard
that silently drops the models that broke is a biased leaderboard.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from wattlens.bench.records import BenchRow
from wattlens.optimize.gen_results import GenOptimizeResult, GenTrial
from wattlens.optimize.results import OptimizePoint, Rejection, TrialPoint
from wattlens.report import _fmt as f

if TYPE_CHECKING:
    from wattlens.report.query import Leaderboard

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


def _energy_cell(row: BenchRow) -> str:
    j = row.j_per_query
    if j is None:
        return f.DASH if f.status_of(row) == "failed" else f.NA
    lo, hi = row.j_per_query_low, row.j_per_query_high
    if lo is None or hi is None:
        return f.sig(j)
    return f"{f.sig(j)} [{f.sig(lo)}–{f.sig(hi)}]"


def _rating_cell(row: BenchRow) -> str:
    text = f.stars(row.rating)
    return text or (f.DASH if f.status_of(row) != "ok" else f.NA)


def _latency_cell(row: BenchRow) -> str:
    p50, p95 = row.p50_ms, row.p95_ms
    if p50 is None and p95 is None:
        return f.DASH if f.status_of(row) == "failed" else f.NA
    return f"{f.sig(p50)} / {f.sig(p95)}"


def _status_cell(row: BenchRow, note: int | None = None) -> str:
    """Status with its reason inline, or with a footnote mark ``failed [1]`` when the reason goes under the table."""
    status = f.status_of(row)
    reason = f.reason_of(row)
    if not reason:
        return status
    return f"{status} [{note}]" if note is not None else f"{status}: {reason}"


def _missing(row: BenchRow, text: str) -> str:
    """A failed cell has no figure ("—"); an ok cell with nothing to say is "n/a"."""
    return f.DASH if text == f.NA and f.status_of(row) == "failed" else text


def leaderboard_cells(row: f.RowLike, note: int | None = None) -> list[str]:
    """One leaderboard row as display strings, in LEADERBOARD_COLUMNS order.

    ``note``: footnote number for the failure reason (terminal); None puts the reason in the cell (HTML).
    """
    row = f.as_row(row)
    return [
        row.model or "?",
        f.config_label(row.config),
        row.weights or f.NA,
        _status_cell(row, note),
        _energy_cell(row),
        _missing(row, f.sig(f.wh_per_1000(row))),
        _rating_cell(row),
        _latency_cell(row),
        _missing(row, _quality_text(row)),  # None -> "n/a": never a made-up score
        _missing(row, f.sig(row.co2e_g_per_1000)),
        row.source or f.NA,
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


def _quality_text(row: BenchRow) -> str:
    """The score with the number of inputs it stands on (``0.971 n=450``); the interval is in the JSON."""
    text = f.sig(row.quality)
    return f"{text} n={row.quality_n}" if row.quality is not None and row.quality_n else text


def _task_caption(rows: Sequence[BenchRow]) -> str:
    parts = ["J/query: mean with its interval"]
    if any(r.rating is not None for r in rows):
        parts.append("rating: stars from the Wh/1,000 beside them")
    metric = f.quality_metric(rows)
    if metric:
        parts.append(f"quality: {metric} on n inputs (95 % Wilson interval in --json)")
    if any(r.weights == "random" for r in rows):
        parts.append("random weights: energy/latency valid, quality n/a")
    return "; ".join(parts)


def leaderboard_tables(rows: Sequence[f.RowLike]) -> list[TextTable]:
    """One TextTable per task, rows ordered ok (cheapest first), then invalid, then failed."""
    tables = []
    for task, group in f.task_groups(f.as_rows(rows)).items():
        ordered = f.sort_rows(group)
        counts = {s: sum(1 for r in group if f.status_of(r) == s) for s in ("ok", "contended", "invalid", "failed")}
        extra = ", ".join(f"{n} {s}" for s, n in counts.items() if n and s != "ok")
        title = f"{task} — {len(group)} cell{'s' if len(group) != 1 else ''}" + (f" ({extra})" if extra else "")
        cells: list[list[str]] = []
        notes: list[str] = []
        for row in ordered:
            reason = f.reason_of(row)
            if reason:  # the reason goes under the table in full: a narrow cell would chop it into pieces
                notes.append(f"[{len(notes) + 1}] {row.model} ({f.config_label(row.config)}): {reason}")
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


def leaderboard_table(rows: Sequence[f.RowLike], *, width: int | None = None, color: bool = False) -> str:
    """The bench leaderboard, one table per task, as a string ready to print.

    ``width`` defaults to the terminal width (at least 100 columns); ``color`` adds ANSI styles.
    """
    if not rows:
        return "No results to show.\n"
    return render_tables(leaderboard_tables(rows), width=width, color=color)


def method_line(board: Leaderboard) -> str:
    """What the figures are: boundary, basis, source, carbon location — stated once above the tables."""
    m = board.method

    def listed(values: Sequence[str]) -> str:
        return ", ".join(values) or "n/a"

    loc = m.location
    where = (
        "n/a"
        if loc is None
        else f"{loc.key} {loc.g_co2e_per_kwh} gCO2e/kWh"
        + (" (stated default: pass --country/--region)" if loc.stated_default else "")
    )
    return (
        f"Boundary: {listed(m.boundaries)}; J/query basis: {listed(m.energy_bases)} (net = gross - idle "
        f"baseline: bench measures it before and after each cell, loadtest before the first request); "
        f"source: {listed(m.sources)}; CO2e at {where}; "
        "[low-high] = meter interval + 95 % t-interval over the repeats"
    )


def ratings_text(board: Leaderboard) -> str:
    """The rating rule, the reference population's tier and the band edges per task, under the tables."""
    body = "\n".join("  " + line for line in board.rating_lines) or "  no ok results: no ratings"
    return (
        f"Ratings ({board.rating_rule}); stars next to the raw Wh. The reference population (PHP per-model "
        f"figures) is {board.reference_tier}: a result is rated against it only in the same tier (device kind "
        "and boundary, on its gross figure); otherwise its stars are relative to this run's own results for "
        f"the task (>= 3), as stated per task:\n{body}\n"
    )


def _lifecycle_figure(value: float | None, low: float | None, high: float | None, scale: float = 1.0) -> str:
    if value is None:
        return f.NA
    return f"{value * scale:.3g} [{(low or 0) * scale:.3g}, {(high or 0) * scale:.3g}]"


def lifecycle_text(rows: Sequence[BenchRow]) -> str:
    """Embodied CO2e and water per 1,000 queries, when the run asked for them (operational CO2e unchanged)."""
    with_lc = [r for r in rows if r.embodied is not None or r.water is not None]
    if not with_lc:
        return ""
    lines = ["Lifecycle per 1,000 queries (operational CO2e unchanged; docs/LIFECYCLE.md):"]
    lines.append(f"  {'task / model':<48}{'operational g':>16}{'embodied g':>26}{'total g':>26}{'water mL':>26}")
    for r in with_lc:
        name = f"{r.task} / {r.model}"[:47]
        operational = _lifecycle_figure(r.co2e_g_per_1000, r.co2e_g_per_1000_low, r.co2e_g_per_1000_high)
        embodied = _lifecycle_figure(
            r.co2e_embodied_g_per_1000, r.co2e_embodied_g_per_1000_low, r.co2e_embodied_g_per_1000_high
        )
        total = _lifecycle_figure(r.co2e_total_g_per_1000, r.co2e_total_g_per_1000_low, r.co2e_total_g_per_1000_high)
        water = _lifecycle_figure(r.water_l_per_1000, r.water_l_per_1000_low, r.water_l_per_1000_high, 1000.0)
        lines.append(f"  {name:<48}{operational:>16}{embodied:>26}{total:>26}{water:>26}")
    basis = next((r.embodied_basis for r in with_lc if r.embodied_basis), None)
    if basis:
        lines.append(f"  embodied: {basis}")
    water_basis = next((r.water_basis for r in with_lc if r.water_basis), None)
    if water_basis:
        lines.append(f"  water: {water_basis}")
    return "\n".join(lines) + "\n"


def leaderboard_text(board: Leaderboard, *, header: str = "", width: int | None = None) -> str:
    """The whole terminal leaderboard of a :class:`~wattlens.report.query.Leaderboard`: the method line, one
    table per task, the rating populations, the lifecycle figures where the run asked for them."""
    parts = [header] if header else []
    if board.rows:
        parts.append(method_line(board))
    parts.append(leaderboard_table(board.rows, width=width))
    if board.rows:
        parts.append(ratings_text(board))
    text = "\n".join(parts)
    lifecycle = lifecycle_text(board.rows)
    return text + ("\n" + lifecycle if lifecycle else "")


# ---------------------------------------------------------------------------------- compact first screen

SUMMARY_COLUMNS: tuple[tuple[str, bool], ...] = (
    ("Task", False),
    ("Model", False),
    ("Status", False),
    ("J/query [low–high]", True),
    ("Wh/1,000", True),
    ("Rating", False),
    ("p50 ms", True),
    ("Quality", True),
    ("gCO2e/1,000", True),
)
SHORT_REASON_CHARS = 100  # a footnote on the first screen is a hint; the full reason is in --full and the report


def _short_reason(reason: str) -> str:
    """The first clause of a reason without the exception's class name (``WorkloadError: ``)."""
    first = reason.split("; ")[0].strip()
    head, sep, rest = first.partition(": ")
    if sep and head.isidentifier() and head.endswith(("Error", "Exception")):
        first = rest
    return first if len(first) <= SHORT_REASON_CHARS else first[: SHORT_REASON_CHARS - 1] + "…"


def summary_table(rows: Sequence[f.RowLike]) -> TextTable:
    """Every cell of the run in one table, task by task and cheapest first: what a newcomer reads first."""
    all_rows = f.as_rows(rows)
    cells: list[list[str]] = []
    notes: list[str] = []
    for task, group in f.task_groups(all_rows).items():
        for row in f.sort_rows(group):
            reason = f.reason_of(row)
            status = f.status_of(row)
            if reason:
                notes.append(f"[{len(notes) + 1}] {_short_reason(reason)}")
                status = f"{status} [{len(notes)}]"
            cells.append(
                [
                    task,
                    row.model or "?",
                    status,
                    _energy_cell(row),
                    _missing(row, f.sig(f.wh_per_1000(row))),
                    _rating_cell(row),
                    _missing(row, f.sig(row.p50_ms)),
                    _missing(row, _quality_text(row)),
                    _missing(row, f.sig(row.co2e_g_per_1000)),
                ]
            )
    counts = {s: sum(1 for r in all_rows if f.status_of(r) == s) for s in ("ok", "contended", "invalid", "failed")}
    tally = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    return TextTable(
        title=f"leaderboard — {len(all_rows)} cell{'s' if len(all_rows) != 1 else ''} ({tally})",
        headers=[h for h, _ in SUMMARY_COLUMNS],
        right=[r for _, r in SUMMARY_COLUMNS],
        rows=cells,
        caption="J/query: mean [95 % interval]; quality on n held-out inputs; cheapest first within each task",
        notes=notes,
    )


def _unrated_reasons(rows: Sequence[BenchRow]) -> list[str]:
    """Why the ok rows without stars have none, each distinct reason once (tier, population, too few models)."""
    reasons: dict[str, None] = {}
    for r in rows:
        if not r.ok or r.rating is not None:
            continue
        ref, rel = r.rating_reference, r.rating_relative
        if ref is not None and ref.run_tier and ref.reference_tier:
            reasons[f"the reference population is {ref.reference_tier}, this machine is {ref.run_tier}"] = None
        elif ref is not None and ref.note and "no reference population" in ref.note:
            reasons["some tasks have no reference population"] = None
        if rel is not None and rel.stars is None and rel.note and ">=" in rel.note:
            reasons["within-run stars need >= 3 ok models of a task, and this run has fewer"] = None
    return list(reasons)


def ratings_summary(board: Leaderboard) -> str:
    """One line on the stars: which tasks have them, and for the others why not and how to get them."""
    ok = [r for r in board.rows if r.ok]
    if not ok:
        return "Ratings: none (no ok results)."
    tasks = list(dict.fromkeys(r.task for r in ok))
    rated = [t for t in tasks if any(r.rating is not None for r in ok if r.task == t)]
    unrated = [t for t in tasks if t not in rated]
    lines = []
    if rated:
        lines.append(f"Ratings: stars for {', '.join(rated)} (bands and population: --full).")
    if unrated:
        why = "; ".join(_unrated_reasons(ok)) or "no comparable population"
        lines.append(
            f"No stars for {len(unrated)} of {len(tasks)} tasks: {why}. To get them, bench >= 3 models of a task "
            "(wattlens bench --task TASK --model A --model B --model C)."
        )
    return "\n".join(lines)


def leaderboard_summary_text(board: Leaderboard, *, header: str = "", width: int | None = None, more: str = "") -> str:
    """The first screen after ``bench``: the method line, one compact table, one line on ratings, where the rest
    is (``more``: e.g. the command that shows the full per-task tables)."""
    if not board.rows:
        return "\n".join([header, "No results to show.\n"] if header else ["No results to show.\n"])
    parts = [header] if header else []
    table = render_tables([summary_table(board.rows)], width=width).rstrip("\n")
    parts += [method_line(board), table, ratings_summary(board)]
    lifecycle = lifecycle_text(board.rows)
    if lifecycle:
        parts.append(lifecycle.rstrip("\n"))
    if more:
        parts.append(more)
    return "\n".join(parts) + "\n"


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


def _opt_cells(role: str, point: OptimizePoint | TrialPoint | Rejection, why: str = "") -> list[str]:
    return [
        role,
        f.config_label(point.config),
        f.sig(point.j_per_query),
        f.sig(point.quality),
        f"{f.sig(point.p50_ms)} / {f.sig(point.p95_ms)}",
        f.sig(point.peak_rss_mb),
        why,
    ]


def optimize_tables(result: f.ResultLike) -> list[TextTable]:
    """Baseline, recommendation, Pareto set and rejected configurations (with why) as TextTables."""
    result = f.as_result(result)
    headers = [h for h, _ in OPTIMIZE_COLUMNS]
    right = [r for _, r in OPTIMIZE_COLUMNS]
    main = [_opt_cells(role, point) for role, point in result.points()]
    caption = f"saving factor ×{f.sig(result.saving_factor)}" if result.saving_factor is not None else ""
    if result.payback_queries is not None:
        caption += f"; search pays back after {f.sig(result.payback_queries)} queries"
    tables = [TextTable("optimize — baseline, recommendation, Pareto set", headers, right, main, caption.strip("; "))]
    rejected = [_opt_cells("rejected", p, p.why or "no reason recorded") for p in result.rejected]
    if rejected:
        tables.append(TextTable("rejected configurations", headers, right, rejected))
    return tables


def optimize_table(result: f.ResultLike, *, width: int | None = None, color: bool = False) -> str:
    """The optimize result as terminal tables (baseline vs recommended first, rejected with their why)."""
    return render_tables(optimize_tables(result), width=width, color=color)


# --- optimize: text generation ---------------------------------------------------------------------------------


def _gen_trial_line(role: str, t: GenTrial) -> str:
    def f(x: float | None, scale: float = 1.0, spec: str = ".2f") -> str:
        return "n/a" if x is None else format(x * scale, spec)

    acc = f", acceptance {t.acceptance_rate:.2f}" if t.acceptance_rate is not None else ""
    return (
        f"  {role:<12} {t.label}: {f(t.j_per_token, 1e3)} mJ/token [{f(t.j_per_token_low, 1e3)}, "
        f"{f(t.j_per_token_high, 1e3)}] ({t.energy_source}), {f(t.j_per_query, 1e3)} mJ/query, "
        f"prefill {f(t.prefill_j_per_query, 1e3)} mJ/query, decode {f(t.decode_j_per_token, 1e3)} mJ/token, "
        f"TTFT p50/p95 {f(t.ttft_p50_ms, 1, '.1f')}/{f(t.ttft_p95_ms, 1, '.1f')} ms, "
        f"ITL p50/p95 {f(t.itl_p50_ms, 1, '.1f')}/{f(t.itl_p95_ms, 1, '.1f')} ms, "
        f"peak RSS {f(t.peak_rss_mb, 1, '.0f')} MB{acc}"
    )


def generation_summary(r: GenOptimizeResult, explain: bool = False) -> str:
    """The human summary of a generation result (``--explain`` adds the per-transform verdicts)."""
    hw = r.hardware
    isa = (
        ", ".join(
            n
            for n, on in (
                ("AVX2", hw.avx2),
                ("AVX-512", hw.avx512),
                ("AVX512-VNNI", hw.avx512_vnni),
                ("AVX-VNNI", hw.avx_vnni),
                ("AMX", hw.amx),
            )
            if on
        )
        or "none of AVX2/AVX-512/VNNI/AMX"
    )
    lines = [
        f"run {r.run_id}: {r.model} (text-generation, {r.mode}, {r.decoding}, {r.max_new_tokens} new tokens; "
        f"weights: {r.weights})",
        f"  hardware: {hw.cpu_model}; {isa}; torch kernels {hw.torch_cpu_capability}, int8 engine "
        f"{hw.quantized_engine}"
        + (f"; GPU compute capability {hw.gpu_compute_capability}" if hw.gpu_compute_capability else "")
        + f" — {hw.note}",
    ]
    if r.baseline is not None:
        lines.append(_gen_trial_line("baseline", r.baseline))
    if r.recommended is not None:
        lines.append(_gen_trial_line("recommended", r.recommended))
    q = r.recommended_quality
    if q is not None:
        lines.append(
            f"  quality: token agreement {q.token_agreement:.4f} [{q.token_agreement_low:.3f}, "
            f"{q.token_agreement_high:.3f}], mean KL {q.kl_mean_nats:.3g} nats [{q.kl_mean_low_nats:.3g}, "
            f"{q.kl_mean_high_nats:.3g}], n={q.n_prompts} prompts ({q.n_tokens} tokens); gate: {r.quality_metric} "
            f"{'>=' if r.quality_metric == 'token_agreement' else '<='} {r.min_quality}"
        )
    if r.saving_factor_j_per_token:
        lines.append(
            f"  saving factor x{r.saving_factor_j_per_token:.2f} J/token "
            f"[{r.saving_factor_low or 0:.2f}, {r.saving_factor_high or 0:.2f}] on this hardware"
        )
    lines.append(
        f"  search: {len(r.trials)} trials, {r.search_duration_s or 0:.0f} s, {r.search_cpu_s or 0:.0f} CPU-s, "
        f"{r.search_energy_j or 0:.0f} J; load average {r.loadavg_start} -> {r.loadavg_end}"
    )
    if r.artefact_path:
        lines.append(f"  artefact: {r.artefact_path} (wattlens bench --model {r.artefact_path})")
    lines.append(f"  rejected: {len(r.rejected)}" + "".join(f"\n    {x}" for x in r.rejected))
    if explain:
        lines.append("  why each transform won or lost here:")
        lines += [f"    {v.transform:22} {v.verdict:12} {v.why}" for v in r.explain]
    return "\n".join(lines)
