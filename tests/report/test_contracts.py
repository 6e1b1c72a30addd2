"""docs/CONTRACTS.md is generated from the record types and must agree with them; every record of the package is
documented (there, or among the web API's answers in docs/WEB.md); every record round-trips."""

from __future__ import annotations

import ast
import dataclasses
import json
import types
import typing
from collections.abc import Mapping
from pathlib import Path

import pytest

from wattlens.bench import records as bench_records
from wattlens.cli.contracts import ALL_SECTIONS
from wattlens.records import Record
from wattlens.report import contracts as C
from wattlens.web.apidoc import WEB_SECTIONS

DOC = Path(__file__).resolve().parents[2] / "docs" / "CONTRACTS.md"
SRC = Path(__file__).resolve().parents[2] / "src" / "wattlens"
BASE = "wattlens.records.Record"
DOCUMENTED: tuple[type[Record], ...] = tuple(
    dict.fromkeys(cls for _, _, records in (*ALL_SECTIONS, *WEB_SECTIONS) for cls in records)
)


def _module_of(path: Path) -> tuple[str, str]:
    """(dotted module of a source file, the package its relative imports start from)."""
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
        return ".".join(parts), ".".join(parts)
    return ".".join(parts), ".".join(parts[:-1])


def _names(tree: ast.Module, package: str) -> dict[str, str]:
    """Local name -> the dotted name it stands for, from the module's imports (relative ones resolved)."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")
            base = base[: len(base) - node.level + 1] if node.level else []
            module = ".".join([*base, node.module] if node.module else base)
            for alias in node.names:
                names[alias.asname or alias.name] = f"{module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:  # `import a.b` binds `a`; `import a.b as x` binds `x` to a.b
                top = alias.name.split(".")[0]
                names[alias.asname or top] = alias.name if alias.asname else top
    return names


def _package_records() -> set[str]:
    """Every class of src/wattlens that derives from wattlens.records.Record, directly or through another record
    class, by a static scan of the sources: no module is imported, so optional extras need not be installed."""
    classes: dict[str, list[str]] = {}  # dotted class -> its bases, dotted
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        module, package = _module_of(path)
        names = _names(tree, package)
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                bases = []
                for b in node.bases:
                    text = ast.unparse(b)
                    head, _, rest = text.partition(".")
                    if head in names and rest:  # `R.Record` with `from wattlens import records as R`
                        bases.append(f"{names[head]}.{rest}")
                    else:
                        bases.append(names.get(text, f"{module}.{text}"))
                classes[f"{module}.{node.name}"] = bases
    records = {BASE}
    grew = True
    while grew:
        new = {c for c, bases in classes.items() if c not in records and records.intersection(bases)}
        records |= new
        grew = bool(new)
    return records - {BASE}


def test_every_record_of_the_package_is_documented() -> None:
    """A record added anywhere in the package (bench, optimize, web, ...) fails here until it has a contract table:
    in ``wattlens.cli.contracts.ALL_SECTIONS`` (docs/CONTRACTS.md) or ``wattlens.web.apidoc`` (docs/WEB.md)."""
    found = _package_records()
    documented = {f"{cls.__module__}.{cls.__qualname__}" for cls in DOCUMENTED}
    assert documented <= found, f"the scan missed documented records: {sorted(documented - found)}"
    missing = sorted(found - documented)
    assert not missing, (
        "record types without a contract table (a section of wattlens.report.contracts, wattlens.cli.contracts or "
        f"wattlens.web.apidoc): {missing}"
    )


def test_the_document_is_generated_from_the_types() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert C.BEGIN in text and C.END in text
    assert C.render_into(text, ALL_SECTIONS) == text, "docs/CONTRACTS.md is stale: python scripts/contracts.py"


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


@pytest.mark.parametrize("cls", DOCUMENTED, ids=lambda c: c.__name__)
def test_every_record_round_trips_through_json(cls: type[Record]) -> None:
    full = _sample(cls)
    assert isinstance(full, cls)
    assert cls.from_dict(json.loads(json.dumps(full.to_dict()))) == full
