"""One helper for the packages' lazy exports (PEP 562), so ``import wattlens.x`` stays import-light.

A foundation utility below every layer (stdlib only): each package maps a public name to the module
that defines it, and the module is imported on first use, then cached in the package's globals.

>>> import types
>>> pkg = types.ModuleType("demo")
>>> pkg.__getattr__ = lazy_getattr("demo", {"sqrt": "math"}, vars(pkg))
>>> pkg.__getattr__("sqrt")(9.0)
3.0
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # not `import typing`: it costs milliseconds and `import wattlens` stays minimal
if TYPE_CHECKING:
    from collections.abc import Callable, MutableMapping
    from typing import Any


def lazy_getattr(package: str, exports: dict[str, str], namespace: MutableMapping[str, Any]) -> Callable[[str], Any]:
    """Build a module ``__getattr__`` resolving ``exports[name]`` (a module path) on first access."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value  # cache: later lookups are plain module attributes
        return value

    return __getattr__
