"""Measurement windows: ``Monitor`` (named, nested, overlapping), ``Measurement``, ``IdleBaseline``.

>>> from wattlens.tracking import Monitor
>>> mon = Monitor(sources=["estimator"])
>>> with mon.window("demo") as w:
...     pass
>>> w.result.source
'estimated'
>>> mon.close()
"""

from wattlens.tracking.monitor import Monitor, Window, baseline_from
from wattlens.tracking.result import ATTRIBUTION_MACHINE, ATTRIBUTION_PROCESS, IdleBaseline, Measurement

__all__ = [
    "ATTRIBUTION_MACHINE",
    "ATTRIBUTION_PROCESS",
    "IdleBaseline",
    "Measurement",
    "Monitor",
    "Window",
    "baseline_from",
]
