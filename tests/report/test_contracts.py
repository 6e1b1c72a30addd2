"""docs/CONTRACTS.md is generated from the record types and must agree with them; every record round-trips."""

from __future__ import annotations

import dataclasses
import inspect
import json
import types
import typing
from collections.abc import Mapping
from pathlib import Path

import pytest

from wattlens.analyze import records as analyze_records
from wattlens.analyze import sweep as analyze_sweep
from wattlens.analyze import training as analyze_training
from wattlens.bench import breakeven as bench_breakeven
from wattlens.bench import records as bench_records
from wattlens.cli.contracts import ALL_SECTIONS
from wattlens.distributed import jobs as distributed_jobs
from wattlens.distributed import ray_sweep as distributed_ray
from wattlens.distributed import records as distributed_records
from wattlens.distributed import topology as distributed_topology
from wattlens.optimize import results as optimize_results
from wattlens.records import Record
from wattlens.report import compare as report_compare
from wattlens.report import contracts as C
from wattlens.report import history as report_history
from wattlens.report import query as report_query
from wattlens.serving import loadtest as serving_loadtest

DOC = Path(__file__).resolve().parents[2] / "docs" / "CONTRACTS.md"
MODULES = (
    bench_records,
    bench_breakeven,
    optimize_results,
    analyze_records,
    analyze_sweep,
    analyze_training,
    report_query,
    report_compare,
    report_history,
    serving_loadtest,
    distributed_records,
    distributed_jobs,
    distributed_ray,
    distributed_topology,
)


def _records() -> list[type[Record]]:
    found = []
    for mod in MODULES:
        for _, obj in inspect.getmembers(mod, inspect.isclass):
            if issubclass(obj, Record) and obj.__module__ == mod.__name__ and dataclasses.is_dataclass(obj):
                found.append(obj)
    return found


def test_the_document_is_generated_from_the_types() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert C.BEGIN in text and C.END in text
    assert C.render_into(text, ALL_SECTIONS) == text, "docs/CONTRACTS.md is stale: python scripts/contracts.py"


def test_every_result_record_is_documented() -> None:
    documented = {cls for _, _, records in ALL_SECTIONS for cls in records}
    missing = sorted(cls.__name__ for cls in _records() if cls not in documented)
    assert not missing, f"record types without a contract table: {missing}"


def test_a_stale_document_is_detected(tmp_path: Path) -> None:
    stale = tmp_path / "CONTRACTS.md"
    stale.write_text(DOC.read_text(encoding="utf-8").replace("`j_per_query_low`", "`j_low_per_query`", 1))
    assert not C.is_current(stale, ALL_SECTIONS)
    assert C.write(stale, ALL_SECTIONS) and C.is_current(stale, ALL_SECTIONS) and not C.write(stale, ALL_SECTIONS)


def test_every_key_of_a_table_is_a_key_to_dict_writes() -> None:
    row = bench_records.BenchRow(task="t", model="m", status="ok", j_per_query=0.36)
    written = set(row.to_dict())
    for f in dataclasses.fields(bench_records.BenchRow):
        if (bench_records.BenchRow, f.name) in C.FLATTENED:
            assert f.name not in written  # written flat, as the table says
        elif not f.metadata.get("omit_if_none"):
            assert f.name in written, f.name
    assert f"`{'j_per_query'}`" in C.record_markdown(bench_records.BenchRow)


def _sample(tp: object) -> object:
    """A value of annotation ``tp`` (records filled field by field, every optional field set too)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return _sample(next(a for a in typing.get_args(tp) if a is not type(None)))
    if origin in (tuple, list):
        args = [a for a in typing.get_args(tp) if a is not Ellipsis]
        return (_sample(args[0]),) if origin is tuple else [_sample(args[0])]
    if origin in (dict, Mapping, typing.Mapping):
        return {"k": _sample(typing.get_args(tp)[1])}
    if isinstance(tp, type) and issubclass(tp, Record):
        hints = typing.get_type_hints(tp)
        fields = [f for f in dataclasses.fields(tp) if f.init and not f.metadata.get("internal")]
        return tp(**{f.name: _sample(hints[f.name]) for f in fields})
    return {str: "x", int: 2, float: 1.5, bool: True}.get(tp, "any")  # type: ignore[call-overload]


@pytest.mark.parametrize("cls", _records(), ids=lambda c: c.__name__)
def test_every_record_round_trips_through_json(cls: type[Record]) -> None:
    full = _sample(cls)
    assert isinstance(full, cls)
    assert cls.from_dict(json.loads(json.dumps(full.to_dict()))) == full
