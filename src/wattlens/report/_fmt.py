"""Formatting helpers shared by the terminal tables, the figures and the HTML report.

Everything here is pure Python (no rich, no matplotlib) so that it is cheap to import and easy to test.
Rows are :class:`~wattlens.bench.records.BenchRow` records (the ``wattlens results --json`` contract);
results are :class:`~wattlens.optimize.results.OptimizeResult` records. The report's public functions also
accept their JSON form (dicts), read back with ``from_dict`` at the door (:func:`as_rows`, :func:`as_result`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

from wattlens.bench.records import BenchRow
from wattlens.optimize.results import OptimizeResult
from wattlens.records import records_from
from wattlens.units import wh_per_1000 as _wh_per_1000

NA = "n/a"  # shown for "not applicable / unknown": never a fake number
DASH = "—"  # shown where a failed cell has no figure at all

STATUS_OK = "ok"
STATUS_ORDER = {"ok": 0, "contended": 1, "invalid": 2, "failed": 3}

RowLike = BenchRow | Mapping[str, object]
ResultLike = OptimizeResult | Mapping[str, object]


def as_rows(rows: Iterable[RowLike]) -> list[BenchRow]:
    """Leaderboard rows as records (dicts in the JSON contract's shape are read with ``BenchRow.from_dict``)."""
    return records_from(BenchRow, list(rows))


def as_row(row: RowLike) -> BenchRow:
    return row if isinstance(row, BenchRow) else BenchRow.from_dict(row)


def as_result(result: ResultLike) -> OptimizeResult:
    return result if isinstance(result, OptimizeResult) else OptimizeResult.from_dict(result)


def num(value: object) -> float | None:
    """``value`` as a finite float, or None (None, NaN, inf, strings that are not numbers)."""
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def sig(value: object, digits: int = 3) -> str:
    """A number with ``digits`` significant figures, switching to scientific notation when tiny/huge."""
    x = num(value)
    if x is None:
        return NA
    if x == 0:
        return "0"
    mag = math.floor(math.log10(abs(x)))
    if mag < -3 or mag >= 6:
        return f"{x:.{max(digits - 1, 0)}e}"
    decimals = max(digits - 1 - mag, 0)
    return f"{x:,.{decimals}f}"


def stars(rating: int | None, scale: int = 5) -> str:
    """``★★★☆☆`` for an integer rating, ``""`` when there is none."""
    if rating is None:
        return ""
    n = max(0, min(scale, round(rating)))
    return "★" * n + "☆" * (scale - n)


def config_label(config: object) -> str:
    """Short, stable text for a configuration: ``b1 fp32 t2 pytorch`` (known keys first)."""
    if hasattr(config, "to_dict") and callable(config.to_dict):
        config = config.to_dict()
    if not isinstance(config, Mapping):
        return "" if config is None else str(config)
    parts: list[str] = []
    known = (("batch", "b"), ("precision", ""), ("threads", "t"), ("engine", ""))
    for key, prefix in known:
        val = config.get(key)
        if val is not None and val != "":
            parts.append(f"{prefix}{val}")
    for key, val in config.items():
        if key in {k for k, _ in known} or val is None or isinstance(val, (dict, list)):
            continue
        parts.append(f"{key}={val}")
    return " ".join(parts)


def wh_per_1000(row: BenchRow) -> float | None:
    """Wh per 1,000 queries: the row's own figure, else derived from J/query."""
    if row.wh_per_1000 is not None:
        return row.wh_per_1000
    return None if row.j_per_query is None else _wh_per_1000(row.j_per_query)


def wh_bounds(row: BenchRow) -> tuple[float | None, float | None]:
    """(low, high) Wh per 1,000 queries from the J/query interval, when the row has one."""
    lo, hi = row.j_per_query_low, row.j_per_query_high
    return (None if lo is None else _wh_per_1000(lo), None if hi is None else _wh_per_1000(hi))


def status_of(row: BenchRow) -> str:
    return (row.status or "ok").lower()


def validity_list(row: BenchRow) -> list[str]:
    """The row's failed validity checks as text."""
    return [str(v) for v in row.validity if v]


def reason_of(row: BenchRow) -> str:
    """Why a row is not ``ok``: its error, else its failed validity checks; "" for ok rows."""
    if status_of(row) == STATUS_OK:
        return ""
    parts = []
    if row.error:
        parts.append(row.error.strip())
    parts.extend(validity_list(row))
    return "; ".join(p for p in parts if p) or "no reason recorded"


def short_model(model: object, limit: int = 28) -> str:
    """The last path component of a model id, shortened for figure labels."""
    text = str(model or "?").rstrip("/")
    text = text.rsplit("/", 1)[-1] or text
    return text if len(text) <= limit else text[: limit - 1] + "…"


def task_groups(rows: Iterable[BenchRow]) -> dict[str, list[BenchRow]]:
    """Rows grouped by task, in first-seen order."""
    groups: dict[str, list[BenchRow]] = {}
    for row in rows:
        groups.setdefault(row.task or "?", []).append(row)
    return groups


def sort_rows(rows: Iterable[BenchRow]) -> list[BenchRow]:
    """ok rows first, cheapest first; then invalid, then failed (both kept: they are reported, not hidden)."""

    def key(row: BenchRow) -> tuple[int, float, str]:
        energy = num(row.j_per_query)
        return (STATUS_ORDER.get(status_of(row), 4), math.inf if energy is None else energy, str(row.model))

    return sorted(rows, key=key)


def quality_metric(rows: Sequence[BenchRow]) -> str | None:
    """The quality metric's name when all rows that state one agree (e.g. "accuracy")."""
    names = {r.quality_metric for r in rows if r.quality_metric}
    return names.pop() if len(names) == 1 else None


def wattlens_version() -> str:
    try:
        from importlib.metadata import version

        return version("wattlens")
    except Exception:  # not installed (e.g. run from a source tree): say so rather than guess
        return "unknown (not installed)"
