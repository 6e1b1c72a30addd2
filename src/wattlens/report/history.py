"""Everything measured over time: ``wattlens measure`` records by tag, and the other runs the store keeps.

Part of the results-query layer (:mod:`wattlens.report.query`): it reads any store and returns records.
Measurements keep their own provenance (source, interval, carbon with its location); runs of kinds that have no
page of their own (load tests, training runs, ...) are summarised from their cells: energy with its interval and
source where the cells carry one, ``None`` (never 0) where they do not.

>>> from wattlens.store import open_store
>>> store = open_store(":memory:")
>>> _ = store.save_measurement({"name": "job", "energy_j": 12.0, "low_j": 9.0, "high_j": 15.0, "tags": ["nightly"]})
>>> h = history(store)
>>> [(m.name, m.tags, m.energy_j) for m in h.measurements]
[('job', ('nightly',), 12.0)]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from wattlens.records import Record

UNTAGGED = "(untagged)"
# Kinds shown elsewhere (their own pages); every other kind of run is summarised in the history.
KINDS_WITH_PAGES = frozenset({"bench", "optimize", "analyze"})


@dataclass(frozen=True)
class MeasurementEntry(Record):
    """One stored ``wattlens measure`` record: when, what, how much (with its interval and source), and its carbon."""

    id: int
    created_unix_s: float
    start_unix_s: float | None = None
    name: str = ""
    tags: tuple[str, ...] = ()
    duration_s: float | None = None
    energy_j: float | None = None
    low_j: float | None = None
    high_j: float | None = None
    source: str | None = None
    methods: tuple[str, ...] = ()
    attribution: str | None = None
    co2e_g: float | None = None
    co2e_low_g: float | None = None
    co2e_high_g: float | None = None
    carbon_intensity_g_per_kwh: float | None = None
    location: str | None = None  # the grid's name and year as the record states it (a stated default says so)
    pue: float | None = None
    co2e_embodied_g: float | None = None
    water_l: float | None = None
    exit_code: int | None = None

    @property
    def series(self) -> tuple[str, ...]:
        """The History page's series this record belongs to: each of its tags, or ``(untagged)``."""
        return self.tags or (UNTAGGED,)


@dataclass(frozen=True)
class RunEntry(Record):
    """A run of another kind (``loadtest``, ``training``, ...) summarised from its cells."""

    run_id: str
    kind: str
    status: str = ""
    created_unix_s: float | None = None
    name: str = ""
    cells: int = 0
    duration_s: float | None = None
    energy_j: float | None = None  # summed over the cells that carry an energy figure; None when none does
    low_j: float | None = None
    high_j: float | None = None
    co2e_g: float | None = None
    source: str | None = None
    note: str = ""


@dataclass(frozen=True)
class History(Record):
    """The store's measurements (oldest first, optionally of one tag) and its other runs (newest first)."""

    measurements: tuple[MeasurementEntry, ...] = ()
    runs: tuple[RunEntry, ...] = ()
    tags: tuple[str, ...] = ()  # every tag of the store (the tag filter's choices)
    tag: str | None = None  # the filter applied, if any
    total_energy_j: float | None = None
    total_co2e_g: float | None = None


def _num(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _texts(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,) if value else ()
    if isinstance(value, (list, tuple)):
        return tuple(str(v) for v in value if v not in (None, ""))
    return ()


def _location(value: object) -> str | None:
    if isinstance(value, Mapping):
        name = value.get("name") or value.get("key")
        year = value.get("year")
        text = f"{name} ({year})" if name and year else str(name or "")
        return text + (" - stated default" if value.get("stated_default") else "") if text else None
    return str(value) if value else None


def measurement_entry(row: Mapping[str, Any]) -> MeasurementEntry:
    """A stored measurement row (``store.measurements()``) as a record; the JSON ``record`` fills what the columns
    do not have."""
    rec = row.get("record") if isinstance(row.get("record"), Mapping) else {}
    assert isinstance(rec, Mapping)

    def pick(key: str) -> object:
        value = row.get(key)
        return rec.get(key) if value is None else value

    exit_code = rec.get("exit_code")
    return MeasurementEntry(
        id=int(row.get("id") or 0),
        created_unix_s=_num(row.get("created_unix_s")) or 0.0,
        start_unix_s=_num(rec.get("start_unix_s")),
        name=str(pick("name") or ""),
        tags=_texts(rec.get("tags")),
        duration_s=_num(pick("duration_s")),
        energy_j=_num(pick("energy_j")),
        low_j=_num(pick("low_j")),
        high_j=_num(pick("high_j")),
        source=str(pick("source")) if pick("source") else None,
        methods=_texts(rec.get("methods")),
        attribution=str(pick("attribution")) if pick("attribution") else None,
        co2e_g=_num(pick("co2e_g")),
        co2e_low_g=_num(rec.get("co2e_low_g")),
        co2e_high_g=_num(rec.get("co2e_high_g")),
        carbon_intensity_g_per_kwh=_num(rec.get("carbon_intensity_g_per_kwh")),
        location=_location(rec.get("location")) or (str(row["location_key"]) if row.get("location_key") else None),
        pue=_num(pick("pue")),
        co2e_embodied_g=_num(pick("co2e_embodied_g")),
        water_l=_num(pick("water_l")),
        exit_code=exit_code if isinstance(exit_code, int) and not isinstance(exit_code, bool) else None,
    )


def _first(result: Mapping[str, object], *keys: str) -> float | None:
    return next((n for k in keys if (n := _num(result.get(k))) is not None), None)


def _sum(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def run_entry(run: Mapping[str, Any], cells: Sequence[Mapping[str, Any]]) -> RunEntry:
    """A run of another kind summarised from its cells' results: energy (``energy_j`` or a load test's
    ``gross_j``) with its interval, CO2e, duration, and the meter's source."""
    results = [c["result"] for c in cells if isinstance(c.get("result"), Mapping)]
    energy = [_first(r, "energy_j", "gross_j") for r in results]
    sources = sorted({str(r["source"]) for r in results if r.get("source")})
    config = run.get("config") if isinstance(run.get("config"), Mapping) else {}
    assert isinstance(config, Mapping)
    name = str(config.get("model") or config.get("name") or config.get("url") or "")
    with_energy = sum(e is not None for e in energy)
    note = (
        "" if with_energy == len(results) else f"{len(results) - with_energy} of {len(results)} cells carry no energy"
    )
    return RunEntry(
        run_id=str(run.get("run_id") or ""),
        kind=str(run.get("kind") or ""),
        status=str(run.get("status") or ""),
        created_unix_s=_num(run.get("created_unix_s")),
        name=name,
        cells=len(cells),
        duration_s=_sum([_first(r, "duration_s", "window_s") for r in results]),
        energy_j=_sum(energy),
        low_j=_sum([_first(r, "low_j", "gross_low_j") for r in results]) if with_energy else None,
        high_j=_sum([_first(r, "high_j", "gross_high_j") for r in results]) if with_energy else None,
        co2e_g=_sum([_num(r.get("co2e_g")) for r in results]),
        source=", ".join(sources) or None,
        note=note,
    )


def history(store: Any, tag: str | None = None, *, limit: int | None = None) -> History:
    """Every measurement (the newest ``limit`` when given; only those of ``tag`` when given), oldest first, and
    every run of a kind without its own page, newest first."""
    entries = [measurement_entry(r) for r in store.measurements(limit)]
    tags = tuple(sorted({t for e in entries for t in e.series}))
    if tag:
        entries = [e for e in entries if tag in e.series]
    runs = [run_entry(r, store.cells(r["run_id"])) for r in store.list_runs() if r.get("kind") not in KINDS_WITH_PAGES]
    return History(
        measurements=tuple(entries),
        runs=tuple(runs),
        tags=tags,
        tag=tag or None,
        total_energy_j=_sum([e.energy_j for e in entries]),
        total_co2e_g=_sum([e.co2e_g for e in entries]),
    )
