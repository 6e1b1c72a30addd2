"""CSV and JSON export of stored rows (stdlib ``csv``/``json`` only).

CSV needs flat rows: nested dicts become dotted columns (``location.key``), lists are written as
JSON text, None as an empty field. JSON keeps the nesting; non-finite floats become null.

>>> import io
>>> buf = io.StringIO()
>>> to_csv([{"name": "a", "fp": {"co2e_g": 1.5, "loc": {"key": "FRA"}}}], buf)
1
>>> buf.getvalue().splitlines()
['name,fp.co2e_g,fp.loc.key', 'a,1.5,FRA']
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

FORMATS = ("csv", "json")


def _clean(value: Any) -> Any:
    """JSON-safe value without importing the store (non-finite floats -> None)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_clean(v) for v in value]
    if hasattr(value, "to_dict") and callable(value.to_dict):
        return _clean(value.to_dict())
    return value


def flatten(row: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts -> dotted keys; lists -> JSON text.

    >>> flatten({"a": {"b": 1, "c": [1, 2]}, "d": None})
    {'a.b': 1, 'a.c': '[1, 2]', 'd': None}
    """
    flat: dict[str, Any] = {}
    for key, value in row.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, f"{name}."))
        elif isinstance(value, Mapping):
            flat[name] = None  # an empty dict has no columns to spread into
        elif isinstance(value, (list, tuple, set, frozenset)):
            flat[name] = json.dumps(_clean(value), default=str)
        else:
            flat[name] = value
    return flat


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""
    return str(value)


@contextlib.contextmanager
def _open(path_or_file: str | os.PathLike[str] | IO[str]) -> Iterator[IO[str]]:
    if hasattr(path_or_file, "write"):
        yield path_or_file  # type: ignore[misc]
    elif os.fspath(path_or_file) == "-":
        yield sys.stdout
    else:
        path = Path(os.fspath(path_or_file))
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="", encoding="utf-8") as fh:
            yield fh


def to_csv(rows: Iterable[Mapping[str, Any]], path_or_file: str | os.PathLike[str] | IO[str]) -> int:
    """Write rows as CSV (header = every column seen, in first-seen order); ``-`` is stdout. Returns the row count."""
    flat = [flatten(_clean(dict(r))) for r in rows]
    header: dict[str, None] = {}
    for row in flat:
        header.update(dict.fromkeys(row))
    with _open(path_or_file) as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(list(header))
        for row in flat:
            writer.writerow([_cell(row.get(col)) for col in header])
    return len(flat)


def to_json(rows: Iterable[Mapping[str, Any]], path_or_file: str | os.PathLike[str] | IO[str]) -> int:
    """Write rows as one JSON array (nesting kept, NaN/inf as null); ``-`` is stdout. Returns the row count."""
    data = [_clean(dict(r)) for r in rows]
    with _open(path_or_file) as fh:
        json.dump(data, fh, indent=2, allow_nan=False, default=str, ensure_ascii=False)
        fh.write("\n")
    return len(data)


def _format(path: str | os.PathLike[str] | IO[str], fmt: str | None) -> str:
    if fmt is None and not hasattr(path, "write"):
        fmt = Path(os.fspath(path)).suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        from wattlens.store import StoreError

        raise StoreError(f"export format {fmt!r}: allowed {', '.join(FORMATS)} (or a file ending .csv/.json)")
    return fmt


def export_measurements(
    store: Any, path: str | os.PathLike[str] | IO[str], fmt: str | None = None, limit: int | None = None
) -> int:
    """Write the store's measurements to ``path`` as CSV or JSON (from the suffix unless ``fmt``).

    CSV rows hold the columns (components as JSON text); JSON rows also carry the full ``record``.
    """
    fmt = _format(path, fmt)
    rows = store.measurements(limit)
    if fmt == "csv":
        return to_csv(({k: v for k, v in r.items() if k != "record"} for r in rows), path)
    return to_json(rows, path)


def export_cells(store: Any, run_id: str, path: str | os.PathLike[str] | IO[str], fmt: str | None = None) -> int:
    """Write one run's cells (result dict flattened for CSV) to ``path``."""
    fmt = _format(path, fmt)
    rows = store.cells(run_id)
    return to_csv(rows, path) if fmt == "csv" else to_json(rows, path)
