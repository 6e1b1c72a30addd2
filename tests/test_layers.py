"""The layers of DESIGN.md, enforced: a module may import only its own layer or layers below it.

Order, bottom up: meters < carbon < tracking < store < workloads < bench < analyze < optimize < report
< integrations < distributed < serving < web < cli / api, with the stdlib-only foundation modules (``errors``,
``_lazy``, ``_logging``, ``units``, ``stats``, ``pareto``, ``records``) below every layer. carbon imports no
other layer (it is data + lookup), so it sits below tracking, whose results carry a footprint. A static scan of
every ``import`` in src/wattlens — absolute and relative (``from ..store import x``) — so a violation fails even
when the offending import sits inside a function.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

# The outer rooms sit above report and below cli, in this order: integrations, distributed, serving, web
# (DESIGN.md); each is listed here once its folder exists.
LAYERS = [
    "meters",
    "carbon",
    "tracking",
    "store",
    "workloads",
    "bench",
    "analyze",
    "optimize",
    "report",
    "integrations",
    "distributed",
    "serving",
    "web",
    "cli",
]
RANK = {name: i for i, name in enumerate(LAYERS)}
RANK["api"] = RANK["cli"]  # the public facade sits at the top beside the CLI
RANK["__main__"] = RANK["cli"]
RANK["__init__"] = RANK["cli"]
# stdlib-only foundations below every layer: lazy exports, the root error, loggers, units (J/Wh/kWh),
# statistics, the Pareto front, the record base class of every result, password blanking
for _foundation in ("_lazy", "errors", "_logging", "units", "stats", "pareto", "records", "redact"):
    RANK[_foundation] = -1
SRC = Path(__file__).resolve().parents[1] / "src" / "wattlens"


def _layer_of_module(dotted: str) -> str | None:
    parts = dotted.split(".")
    if parts[0] != "wattlens" or len(parts) < 2:
        return None
    return parts[1]


def _package_of(path: Path) -> list[str]:
    """Dotted package of a source file: src/wattlens/bench/runner.py -> ["wattlens", "bench"]."""
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    return parts if path.name == "__init__.py" and parts.pop() else parts[:-1]


def _absolute(path: Path, node: ast.ImportFrom) -> list[str]:
    """The absolute module names a ``from ... import ...`` brings in, relative levels resolved."""
    if node.level == 0:
        return [node.module] if node.module else []
    package = _package_of(path)
    base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
    if node.module:
        return [".".join([*base, node.module])]
    # `from .. import store` imports the sub-module `store` of the base package
    return [".".join([*base, alias.name]) for alias in node.names]


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.extend((node.lineno, module) for module in _absolute(path, node))
    return found


def _layer_of_file(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def test_every_layer_folder_exists():
    for layer in LAYERS:
        assert (SRC / layer / "__init__.py").exists(), f"missing layer package wattlens.{layer}"


@pytest.mark.parametrize("path", sorted(SRC.rglob("*.py")), ids=lambda p: str(p.relative_to(SRC)))
def test_no_upward_imports(path: Path):
    own = _layer_of_file(path)
    own_rank = RANK.get(own)
    assert own_rank is not None, f"{path} is outside the known layers {LAYERS}"
    for lineno, module in _imports(path):
        target = _layer_of_module(module)
        if target is None or target not in RANK:
            continue
        assert RANK[target] <= own_rank, (
            f"{path.relative_to(SRC)}:{lineno} imports wattlens.{target} (layer '{target}' is above '{own}')"
        )


def test_relative_imports_are_resolved():
    """The scan sees ``from ..bench import x`` as an import of wattlens.bench, not as nothing."""
    path = SRC / "store" / "fake_module.py"
    tree = "from ..bench import runner\nfrom . import db\nfrom .. import optimize\n"
    nodes = [n for n in ast.walk(ast.parse(tree)) if isinstance(n, ast.ImportFrom)]
    resolved = [m for n in nodes for m in _absolute(path, n)]
    assert resolved == ["wattlens.bench", "wattlens.store.db", "wattlens.optimize"]
    assert [_layer_of_module(m) for m in resolved[:3]] == ["bench", "store", "optimize"]
    init = SRC / "store" / "__init__.py"
    node = ast.parse("from .db import Store").body[0]
    assert isinstance(node, ast.ImportFrom)
    assert _absolute(init, node) == ["wattlens.store.db"]
