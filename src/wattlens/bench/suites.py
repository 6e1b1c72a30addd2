"""Benchmark suites in TOML: load, validate (file, line, what is wrong, what is allowed), expand to cells.

A suite file::

    [suite]
    name = "quick"
    queries = 20            # inputs per repeat (each window covers all of them at least once)
    repeats = 5
    batch = [1]

    [[task]]
    name = "text-classification"
    models = ["distilbert-base-uncased"]   # omitted -> the workloads layer's default models for `size`
    batch = [1, 8]                         # any [suite] default can be overridden per task
    device = "auto"                        # cpu (default) | cuda | cuda:N | mps | auto, or a list of them

Every (task, model, batch, precision, threads, engine, device) combination is one *cell*, identified by a
stable ``cell_key`` so that ``--resume`` can skip what is already in the store (the device appears in the
key only when it is not ``cpu``, so keys of runs made before devices existed still match).

``device = "auto"`` means cuda when ``torch.cuda.is_available()`` on the machine that runs the cell, else
cpu; the device each cell actually ran on is recorded in its result ``config``. Here only the spelling is
checked (no torch); availability is checked when the bench starts and when the model is loaded.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from wattlens.errors import WattlensError

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

SUITES_DIR = Path(__file__).resolve().parent / "suites"
BUILTIN = ("quick", "php")

# Mirrors of wattlens.workloads (PRECISIONS, ENGINES) so that validation works without importing it;
# int8 and other transforms belong to `wattlens optimize`, not to a benchmark cell.
PRECISIONS = ("fp32", "bf16", "fp16")
ENGINES = ("pytorch", "onnxruntime", "callable")
SIZES = ("quick", "php")
ATTRIBUTIONS = ("machine", "process")
DEVICES = ("auto", "cpu", "cuda", "cuda:N", "mps")  # spelling checked by wattlens.workloads.device.parse_device


class SuiteError(WattlensError, ValueError):
    """A suite file or command line that cannot be run; the message names file, line and what is allowed."""

    def __init__(self, file: str, line: int | None, problem: str, allowed: str = "") -> None:
        self.file, self.line, self.problem, self.allowed = file, line, problem, allowed
        where = f"{file}:{line}" if line else file
        super().__init__(f"{where}: {problem}" + (f"; allowed: {allowed}" if allowed else ""))


# --- the schema ----------------------------------------------------------------------------------
# key -> (kind, allowed description). kinds: str, int>=0, int>=1, float>=0, float>0, bool, list[...].
_SHARED = {
    "queries": ("int>=1", "an integer >= 1 (inputs per repeat)"),
    "repeats": ("int>=1", "an integer >= 1 (the method asks for >= 5)"),
    "warmup": ("int>=0", "an integer >= 0 (warm-up batches, excluded from the windows)"),
    "min_window_s": ("float>=0", "a number of seconds >= 0"),
    "batch": ("list[int>=1]", "a list of integers >= 1, e.g. [1, 8]"),
    "precision": ("list[precision]", f"a list of {', '.join(PRECISIONS)}"),
    "threads": ("list[int>=0]", "a list of integers >= 0 (0 = the library default)"),
    "engine": ("list[engine]", f"a list of {', '.join(ENGINES)}"),
    "device": (
        "devices",
        "auto (cuda when available, else cpu), cpu, cuda, cuda:N, mps; a string or a list, "
        'e.g. "auto" or ["cpu", "cuda"]',
    ),
    "phases": ("bool", "true or false (measure prefill and decode windows for generation)"),
    "quality": ("bool", "true or false (compute the task metric where one exists)"),
    "size": ("size", f"one of {', '.join(SIZES)} (default models when `models` is omitted)"),
    "seed": ("int>=0", "an integer >= 0"),
}
SUITE_KEYS = {
    "name": ("str", "a string"),
    "description": ("str", "a string"),
    "idle_s": ("float>0", "a number of seconds > 0 (idle baseline before and after every cell)"),
    "attribution": ("attribution", f"one of {', '.join(ATTRIBUTIONS)}"),
    "max_power_w": ("float>0", "watts > 0: the boundary's maximum draw (e.g. the sum of TDPs) for the power check"),
    **_SHARED,
}
TASK_KEYS = {
    "name": ("str", "a task name, e.g. text-classification"),
    "models": ("list[str]", "a list of model ids, local paths, .onnx files or module:callable"),
    "options": ("table", "a table of load options for every model of the task, e.g. { steps = 10 }"),
    **_SHARED,
}
TOP_KEYS = ("suite", "task")

DEFAULTS: dict[str, object] = {
    "name": "suite",
    "description": "",
    "queries": 50,
    "repeats": 5,
    "warmup": 2,
    "min_window_s": 2.0,
    "idle_s": 2.0,
    "attribution": "machine",
    "batch": [1],
    "precision": ["fp32"],
    "threads": [0],
    "engine": ["pytorch"],
    "device": "cpu",
    "phases": True,
    "quality": True,
    "size": "quick",
    "seed": 0,
}


@dataclass(frozen=True)
class Cell:
    task: str
    model: str
    batch: int
    precision: str
    threads: int
    engine: str
    queries: int
    repeats: int
    warmup: int
    min_window_s: float
    phases: bool
    quality: bool
    seed: int
    options: tuple[tuple[str, Any], ...] = ()  # load_workload options (steps, new_tokens, ...), sorted
    device: str = "cpu"  # as requested (auto | cpu | cuda | cuda:N | mps); the result records the resolved one

    @property
    def key(self) -> str:
        key = f"{self.task}|{self.model}|batch={self.batch}|{self.precision}|threads={self.threads}|{self.engine}"
        if self.device != "cpu":  # cpu cells keep the keys they had before devices existed (resume)
            key += f"|device={self.device}"
        return key + "".join(f"|{k}={v}" for k, v in self.options)

    @property
    def config(self) -> dict[str, object]:
        cfg = {
            "batch": self.batch,
            "precision": self.precision,
            "threads": self.threads,
            "engine": self.engine,
            "device": self.device,
        }
        cfg.update(self.options)
        return cfg

    @property
    def options_dict(self) -> dict[str, object]:
        return dict(self.options)

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "options": dict(self.options), "key": self.key}

    @classmethod
    def from_dict(cls, d: Mapping[str, object]) -> Cell:
        """A cell as :meth:`to_dict` wrote it (the run's stored suite, read back to resume it)."""
        options = d.get("options")
        kw: dict[str, Any] = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        kw["options"] = tuple(sorted(options.items())) if isinstance(options, Mapping) else ()
        return cls(**kw)


@dataclass
class Suite:
    name: str
    description: str
    file: str
    settings: dict[str, object]
    cells: list[Cell] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "description": self.description,
            "file": self.file,
            "settings": dict(self.settings),
            "cells": [c.to_dict() for c in self.cells],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, object]) -> Suite:
        settings, cells = d.get("settings"), d.get("cells")
        return cls(
            str(d["name"]),
            str(d.get("description") or ""),
            str(d.get("file") or ""),
            dict(settings) if isinstance(settings, Mapping) else {},
            [Cell.from_dict(c) for c in cells if isinstance(c, Mapping)] if isinstance(cells, list) else [],
        )

    # the settings the runner reads, typed (validated by the schema when the suite was built)
    @property
    def attribution(self) -> str:
        return str(self.settings.get("attribution") or "machine")

    @property
    def idle_s(self) -> float:
        value = self.settings.get("idle_s")
        return float(value) if isinstance(value, (int, float)) else 2.0

    @property
    def max_power_w(self) -> float | None:
        value = self.settings.get("max_power_w")
        return float(value) if isinstance(value, (int, float)) else None


# --- locating lines in the text (tomllib gives values, not positions) -----------------------------


class _Lines:
    """Finds the line of a key inside the n-th ``[suite]`` / ``[[task]]`` table by scanning the text."""

    _header = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\"' -]+?)\s*\]\]?\s*(#.*)?$")

    def __init__(self, text: str) -> None:
        self.tables: list[tuple[str, int, int, int]] = []  # (name, occurrence, first line, last line)
        counts: dict[str, int] = {}
        current: tuple[str, int, int] | None = ("", 0, 1)
        lines = text.splitlines()
        self.lines = lines
        for i, line in enumerate(lines, start=1):
            m = self._header.match(line)
            if not m:
                continue
            if current is not None:
                self.tables.append((current[0], current[1], current[2], i - 1))
            name = m.group(2).strip().strip("\"'")
            occ = counts.get(name, 0)
            counts[name] = occ + 1
            current = (name, occ, i)
        if current is not None:
            self.tables.append((current[0], current[1], current[2], len(lines)))

    def table(self, name: str, occurrence: int = 0) -> int | None:
        for n, occ, first, _ in self.tables:
            if n == name and occ == occurrence:
                return first
        return None

    def key(self, table: str, occurrence: int, key: str) -> int | None:
        pat = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
        for n, occ, first, last in self.tables:
            if n == table and occ == occurrence:
                for i in range(first, last + 1):
                    if pat.match(self.lines[i - 1]):
                        return i
                return first
        return self.table(table, occurrence)


# --- validation ---------------------------------------------------------------------------------------


def _check_value(kind: str, value: Any) -> bool:
    if kind == "str":
        return isinstance(value, str) and value.strip() != ""
    if kind == "bool":
        return isinstance(value, bool)
    if kind.startswith("int"):
        lo = int(kind[-1])
        return isinstance(value, int) and not isinstance(value, bool) and value >= lo
    if kind == "float>=0":
        return isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0
    if kind == "float>0":
        return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
    if kind == "table":
        return isinstance(value, dict) and all(isinstance(v, (int, float, str, bool)) for v in value.values())
    if kind == "precision":
        return value in PRECISIONS
    if kind == "engine":
        return value in ENGINES
    if kind == "size":
        return value in SIZES
    if kind == "attribution":
        return value in ATTRIBUTIONS
    if kind == "device":
        return isinstance(value, str) and _device_ok(value)
    if kind == "devices":
        return _check_value("device", value) or _check_value("list[device]", value)
    if kind.startswith("list["):
        inner = kind[5:-1]
        return isinstance(value, list) and len(value) > 0 and all(_check_value(inner, v) for v in value)
    raise AssertionError(kind)


def _device_ok(value: str) -> bool:
    from wattlens.workloads.device import parse_device  # import-light: no torch
    from wattlens.workloads.errors import WorkloadError

    try:
        parse_device(value)
    except WorkloadError:
        return False
    return True


def _devices(value: Any) -> list[str]:
    """The suite's ``device`` value (a string or a list) as canonical spellings, duplicates dropped."""
    from wattlens.workloads.device import parse_device

    return list(dict.fromkeys(parse_device(v) for v in ([value] if isinstance(value, str) else value)))


def _validate_table(
    data: Mapping[str, object], schema: dict[str, tuple[str, str]], table: str, occ: int, lines: _Lines, file: str
) -> None:
    for key, value in data.items():
        if key not in schema:
            raise SuiteError(
                file, lines.key(table, occ, key), f"unknown key {key!r} in [{table}]", ", ".join(sorted(schema))
            )
        kind, allowed = schema[key]
        if not _check_value(kind, value):
            raise SuiteError(
                file, lines.key(table, occ, key), f"bad value for {key!r} in [{table}]: {value!r}", allowed
            )


def _known_tasks() -> tuple[str, ...] | None:
    """Task names from the workloads layer (None when it cannot be imported: then names are not checked)."""
    try:
        from wattlens.workloads import TASKS
    except Exception:  # validation of the rest still works
        return None
    return tuple(TASKS)


def _canonical_task(name: str) -> str | None:
    try:
        from wattlens.workloads import get_task
    except Exception:
        return name
    try:
        return get_task(name).name
    except Exception:  # unknown task
        return None


@lru_cache(maxsize=len(BUILTIN))
def _builtin_task_models(size: str) -> dict[str, tuple[tuple[str, tuple[tuple[str, Any], ...]], ...]]:
    """Task -> (model, load options) of a shipped suite file: the TOML suites are the only list of a suite's
    models (a [[task]] without ``models`` takes them from the suite named by ``size``)."""
    data = tomllib.loads(resolve_path(size).read_text(encoding="utf-8"))
    out: dict[str, tuple[tuple[str, tuple[tuple[str, Any], ...]], ...]] = {}
    for t in data.get("task", []):
        canon = _canonical_task(str(t["name"])) or str(t["name"])
        options = tuple(sorted((t.get("options") or {}).items()))
        out[canon] = tuple((str(m), options) for m in t.get("models", []))
    return out


def suite_models(task: str, size: str = "quick") -> list[str]:
    """The models the shipped suite ``size`` (``quick`` | ``php``) runs for ``task`` (any alias accepted)."""
    if size not in BUILTIN:
        raise SuiteError("<suite>", None, f"unknown suite size {size!r}", ", ".join(BUILTIN))
    return [m for m, _ in _builtin_task_models(size).get(_canonical_task(task) or task, ())]


def _default_models(task: str, size: str) -> list[tuple[str, dict[str, object]]]:
    """(model name, load options) of a [[task]] without ``models``: the shipped suite ``size``'s list."""
    return [(m, dict(opts)) for m, opts in _builtin_task_models(size).get(task, ())]


def validate(data: Mapping[str, Any], text: str = "", file: str = "<suite>") -> Suite:
    """Validate a parsed suite and expand it into cells; raises :class:`SuiteError`."""
    lines = _Lines(text)
    for key in data:
        if key not in TOP_KEYS:
            raise SuiteError(
                file, lines.key("", 0, key), f"unknown top-level key or table {key!r}", "[suite] and [[task]] tables"
            )
    suite_t = data.get("suite", {})
    if not isinstance(suite_t, dict):
        raise SuiteError(file, lines.key("", 0, "suite"), "`suite` must be a table", "[suite]")
    _validate_table(suite_t, SUITE_KEYS, "suite", 0, lines, file)
    tasks = data.get("task")
    if tasks is None or tasks == []:
        raise SuiteError(file, None, "no [[task]] table: a suite needs at least one task", "[[task]] tables")
    if not isinstance(tasks, list):
        raise SuiteError(file, lines.table("task"), "`task` must be an array of tables", "[[task]] (double brackets)")
    settings = {**DEFAULTS, **suite_t}
    known = _known_tasks()
    cells: list[Cell] = []
    seen: set[str] = set()
    for i, t in enumerate(tasks):
        _validate_table(t, TASK_KEYS, "task", i, lines, file)
        if "name" not in t:
            raise SuiteError(
                file,
                lines.table("task", i),
                f"[[task]] #{i + 1} has no `name`",
                ", ".join(known) if known else "a task name",
            )
        canon = _canonical_task(t["name"])
        if canon is None or (known is not None and canon not in known):
            raise SuiteError(
                file,
                lines.key("task", i, "name"),
                f"unknown task {t['name']!r}",
                ", ".join(known) if known else "a task name",
            )
        s = {**settings, **t}
        task_opts = dict(t.get("options") or {})
        models = [(m, {}) for m in t["models"]] if t.get("models") else _default_models(canon, s["size"])
        for (model, m_opts), b, p, th, e, dev in itertools.product(
            models, s["batch"], s["precision"], s["threads"], s["engine"], _devices(s["device"])
        ):
            opts = tuple(sorted({**m_opts, **task_opts}.items()))
            cell = Cell(
                canon,
                model,
                b,
                p,
                th,
                e,
                s["queries"],
                s["repeats"],
                s["warmup"],
                float(s["min_window_s"]),
                s["phases"],
                s["quality"],
                s["seed"],
                opts,
                dev,
            )
            if cell.key in seen:
                raise SuiteError(
                    file,
                    lines.key("task", i, "models"),
                    f"duplicate cell {cell.key}",
                    "each (task, model, batch, precision, threads, engine, device) once",
                )
            seen.add(cell.key)
            cells.append(cell)
    if not cells:  # e.g. every task with models = []: a run of nothing would look like a finished benchmark
        raise SuiteError(file, lines.table("task"), "the suite expands to no cells", "at least one model per task")
    return Suite(settings["name"], settings["description"], file, settings, cells)


def resolve_path(name_or_path: str) -> Path:
    """``quick``/``php`` -> the shipped file; anything else is a path."""
    if name_or_path in BUILTIN:
        return SUITES_DIR / f"{name_or_path}.toml"
    p = Path(name_or_path)
    if not p.exists():
        raise SuiteError(str(p), None, "no such suite file", f"{', '.join(BUILTIN)} or a path to a .toml file")
    return p


def load_suite(name_or_path: str) -> Suite:
    path = resolve_path(name_or_path)
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise SuiteError(
            str(path), int(m.group(1)) if m else None, f"not valid TOML: {exc}", "TOML 1.0 syntax (https://toml.io)"
        ) from None
    return validate(data, text, str(path))


def suite_from_args(task: str, models: list[str], *, file: str = "<command line>", **overrides: Any) -> Suite:
    """A one-task suite from ``wattlens bench --task T --model M ...`` (validated like a file)."""
    settings = {k: v for k, v in overrides.items() if v is not None and k in SUITE_KEYS}
    table: dict[str, object] = {"name": task}
    if models:
        table["models"] = list(models)
    return validate({"suite": {"name": f"{task} (command line)", **settings}, "task": [table]}, "", file)
