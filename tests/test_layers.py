"""The layers of DESIGN.md, enforced: a module may import only its own layer or layers below it.

Order, bottom up: meters < tracking < carbon < store < workloads < bench < analyze < optimize < report
< cli / api. A static scan of every ``import`` in src/wattlens, so a violation fails even when the
offending import sits inside a function.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

LAYERS = ["meters", "tracking", "carbon", "store", "workloads", "bench", "analyze", "optimize", "report", "cli"]
RANK = {name: i for i, name in enumerate(LAYERS)}
RANK["api"] = RANK["cli"]  # the public facade sits at the top beside the CLI
RANK["__main__"] = RANK["cli"]
RANK["__init__"] = RANK["cli"]
RANK["_lazy"] = -1  # a stdlib-only foundation helper below every layer
SRC = Path(__file__).resolve().parents[1] / "src" / "wattlens"


def _layer_of_module(dotted: str) -> str | None:
    parts = dotted.split(".")
    if parts[0] != "wattlens" or len(parts) < 2:
        return None
    return parts[1]


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
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
