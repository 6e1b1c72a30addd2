"""Which cells of a stored suite would run code from a file, and whether that file may be trusted.

``--model path/to/file.py:fn`` (and ``module:fn``) imports the file and calls the function: that is the
point of the callable engine, and it is the user's own code when the user typed it. A run read back from a
shared store with ``--resume`` is different: anyone who can write to that store chose the path. Resuming
refuses a ``.py`` path outside the current directory tree (and any ``module:fn`` that is not importable from
it) unless the user says ``--trust-callables``.

>>> from wattlens.bench.suites import suite_from_args
>>> suite = suite_from_args("text-classification", ["/tmp/evil.py:run", "./mine.py:run", "distilbert-sst2"])
>>> untrusted_callables(suite.cells, root=Path("/home/me/project"))
['/tmp/evil.py:run']
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from wattlens.bench.suites import Cell
from wattlens.workloads.registry import callable_module


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def untrusted_callables(cells: Iterable[Cell], *, root: Path) -> list[str]:
    """The callable specs among ``cells`` whose code is not a ``.py`` file inside ``root`` (sorted, each once).

    A ``module:function`` spec counts as untrusted: ``sys.path`` decides where it comes from, not ``root``.
    """
    found: set[str] = set()
    for cell in cells:
        module = callable_module(cell.model)
        if module is None:
            continue
        if not module.endswith(".py") or not _inside(root / Path(module).expanduser(), root):
            found.add(cell.model)
    return sorted(found)
