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


def caused_by_interrupt(exc: BaseException) -> bool:
    """Whether ``exc`` was raised because of a KeyboardInterrupt (its cause or the exception being handled).

    A Ctrl-C inside a C extension's import or callback can come back as another error (onnxruntime raises
    ``ImportError: initialization failed`` from it): code that turns errors into results (a failed cell) must
    still treat it as the Ctrl-C it is.

    >>> try:
    ...     try:
    ...         raise KeyboardInterrupt
    ...     except KeyboardInterrupt as ki:
    ...         raise ImportError("initialization failed") from ki
    ... except ImportError as e:
    ...     caused_by_interrupt(e), caused_by_interrupt(ValueError())
    (True, False)
    """
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, KeyboardInterrupt):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False
