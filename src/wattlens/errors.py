"""The one root of every error wattlens raises on purpose, so a caller can catch one thing.

A foundation module below every layer (stdlib only, no imports): each layer's error base derives from
:class:`WattlensError` and keeps the built-in base it had (``ValueError``, ``RuntimeError``), so code
that caught those still works.

>>> import wattlens
>>> from wattlens.carbon import CarbonError
>>> issubclass(CarbonError, wattlens.WattlensError) and issubclass(CarbonError, ValueError)
True
>>> try:
...     wattlens.resolve_location(country="Atlantis")
... except wattlens.WattlensError as e:
...     print(type(e).__name__)
CarbonError
"""

from __future__ import annotations


class WattlensError(Exception):
    """Base of every error wattlens raises deliberately; the message says what is wrong and what is allowed."""
