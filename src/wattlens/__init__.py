"""wattlens: see where the watts of AI go, and cut them.

>>> import wattlens
>>> with wattlens.measure("demo") as m:
...     _ = sum(range(10_000))
>>> m.result.measurement.source in ("measured", "integrated", "estimated")
True

Everything is exported lazily (module ``__getattr__``): ``import wattlens`` loads no torch, numpy,
pandas or SQLAlchemy, and none of the meter code until a name is first used.
"""

from __future__ import annotations

from wattlens._lazy import lazy_getattr

TYPE_CHECKING = False  # not `from typing import ...`: typing costs 2-5 ms and `import wattlens` stays minimal

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "measure": "wattlens.api",
    "measured": "wattlens.api",
    "MeasuredFootprint": "wattlens.api",
    "MeasuredFunction": "wattlens.api",
    "Monitor": "wattlens.tracking.monitor",
    "Measurement": "wattlens.tracking.result",
    "IdleBaseline": "wattlens.tracking.result",
    "MeterError": "wattlens.meters.base",
    "ComponentEnergy": "wattlens.meters.base",
    "footprint": "wattlens.carbon",
    "resolve_location": "wattlens.carbon",
    "CarbonError": "wattlens.carbon",
    "WattlensError": "wattlens.errors",
}

__all__ = [*_EXPORTS, "__version__"]

if TYPE_CHECKING:  # for type checkers and IDEs only
    from wattlens.api import MeasuredFootprint, MeasuredFunction, measure, measured  # noqa: F401
    from wattlens.carbon import CarbonError, footprint, resolve_location  # noqa: F401
    from wattlens.errors import WattlensError  # noqa: F401
    from wattlens.meters.base import ComponentEnergy, MeterError  # noqa: F401
    from wattlens.tracking.monitor import Monitor  # noqa: F401
    from wattlens.tracking.result import IdleBaseline, Measurement  # noqa: F401


__getattr__ = lazy_getattr(__name__, _EXPORTS, globals())


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def load_ipython_extension(ipython: object) -> None:
    """``%load_ext wattlens``: registers the ``%%wattlens`` cell magic (IPython imported only now)."""
    from wattlens.integrations.ipython import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: object) -> None:
    from wattlens.integrations.ipython import unload_ipython_extension as unload

    unload(ipython)
