"""Formatting helpers shared by the terminal tables, the figures and the HTML report.

Everything here is pure Python (no rich, no matplotlib) so that it is cheap to import and easy to
test. Rows are plain dicts (the ``wattlens results --json`` contract); every optional key may be
missing, so all accessors are tolerant.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

NA = "n/a"  # shown for "not applicable / unknown": never a fake number
DASH = "—"  # shown where a failed cell has no figure at all
J_PER_WH = 3600.0

STATUS_OK = "ok"
STATUS_ORDER = {"ok": 0, "invalid": 1, "failed": 2}


def num(value: Any) -> float | None:
    """``value`` as a finite float, or None (None, NaN, inf, strings that are not numbers)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def sig(value: Any, digits: int = 3) -> str:
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
    text = f"{x:,.{decimals}f}"
    return text


def stars(rating: Any, scale: int = 5) -> str:
    """``★★★☆☆`` for an integer rating, ``""`` when there is none."""
    x = num(rating)
    if x is None:
        return ""
    n = max(0, min(scale, round(x)))
    return "★" * n + "☆" * (scale - n)


def config_of(row: Mapping[str, Any]) -> dict[str, Any]:
    cfg = row.get("config")
    return dict(cfg) if isinstance(cfg, Mapping) else {}


def config_label(config: Any) -> str:
    """Short, stable text for a configuration: ``b1 fp32 t2 pytorch`` (known keys first)."""
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


def wh_per_1000(row: Mapping[str, Any]) -> float | None:
    """Wh per 1,000 queries: the row's own figure, else derived from J/query (1,000 J/query / 3,600)."""
    wh = num(row.get("wh_per_1000"))
    if wh is not None:
        return wh
    j = num(row.get("j_per_query"))
    return None if j is None else j * 1000.0 / J_PER_WH


def wh_bounds(row: Mapping[str, Any]) -> tuple[float | None, float | None]:
    """(low, high) Wh per 1,000 queries from the J/query interval, when the row has one."""
    lo, hi = num(row.get("j_per_query_low")), num(row.get("j_per_query_high"))
    k = 1000.0 / J_PER_WH
    return (None if lo is None else lo * k, None if hi is None else hi * k)


def status_of(row: Mapping[str, Any]) -> str:
    return str(row.get("status") or "ok").lower()


def validity_list(row: Mapping[str, Any]) -> list[str]:
    """Failed validity checks as text, whatever their shape (strings, dicts, one string)."""
    raw = row.get("validity")
    if raw is None or raw == "" or raw == []:
        return []
    if isinstance(raw, (str, bytes)):
        return [str(raw)]
    if isinstance(raw, Mapping):
        raw = [raw]
    out: list[str] = []
    for item in raw if isinstance(raw, Iterable) else [raw]:
        if isinstance(item, Mapping):
            if item.get("ok") is True or item.get("passed") is True:
                continue  # a passed check listed for completeness is not a failure
            name = item.get("check") or item.get("name") or item.get("id") or "check"
            detail = item.get("detail") or item.get("message") or item.get("why") or item.get("reason")
            out.append(f"{name}: {detail}" if detail else str(name))
        else:
            out.append(str(item))
    return out


def reason_of(row: Mapping[str, Any]) -> str:
    """Why a row is not ``ok``: its error, else its failed validity checks; "" for ok rows."""
    status = status_of(row)
    if status == STATUS_OK:
        return ""
    parts = []
    if row.get("error"):
        parts.append(str(row["error"]).strip())
    parts.extend(validity_list(row))
    return "; ".join(p for p in parts if p) or "no reason recorded"


def short_model(model: Any, limit: int = 28) -> str:
    """The last path component of a model id, shortened for figure labels."""
    text = str(model or "?").rstrip("/")
    text = text.rsplit("/", 1)[-1] or text
    return text if len(text) <= limit else text[: limit - 1] + "…"


def task_groups(rows: Iterable[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    """Rows grouped by task, in first-seen order."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault(str(row.get("task") or "?"), []).append(row)
    return groups


def sort_rows(rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """ok rows first, cheapest first; then invalid, then failed (both kept: they are reported, not hidden)."""

    def key(row: Mapping[str, Any]) -> tuple[int, float, str]:
        energy = num(row.get("j_per_query"))
        return (STATUS_ORDER.get(status_of(row), 3), math.inf if energy is None else energy, str(row.get("model")))

    return sorted(rows, key=key)


def median(values: list[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        return math.nan
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2.0


def quality_metric(rows: Iterable[Mapping[str, Any]]) -> str | None:
    """The quality metric's name when all rows that state one agree (e.g. "accuracy")."""
    names = {str(r.get("quality_metric")) for r in rows if r.get("quality_metric")}
    return names.pop() if len(names) == 1 else None


def wattlens_version() -> str:
    try:
        from importlib.metadata import version

        return version("wattlens")
    except Exception:  # not installed (e.g. run from a source tree): say so rather than guess
        return "unknown (not installed)"
