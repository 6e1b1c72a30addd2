"""The package logger, quiet unless the application configures logging (the library never prints).

A foundation module below every layer (stdlib only). Every module that logs takes its logger from
:func:`get_logger` — a plain ``logging.getLogger(__name__)``, under ``wattlens`` — and importing this
module puts a ``NullHandler`` on the ``wattlens`` logger, so a library user who configured nothing sees
nothing (Python's "last resort" stderr handler is bypassed) and one who did gets the records as usual.
The ``wattlens`` CLI attaches its own stderr handler (``wattlens.cli.main.configure_output``).
``import wattlens`` does not import this module: the ``logging`` package costs ~10 ms of import time.

>>> import logging
>>> log = get_logger("wattlens.demo")
>>> log.name, any(isinstance(h, logging.NullHandler) for h in logging.getLogger("wattlens").handlers)
('wattlens.demo', True)
"""

from __future__ import annotations

import logging

PACKAGE = "wattlens"

logging.getLogger(PACKAGE).addHandler(logging.NullHandler())


def get_logger(name: str) -> logging.Logger:
    """``logging.getLogger(name)`` for a wattlens module (pass ``__name__``), below the quiet package logger."""
    if name != PACKAGE and not name.startswith(PACKAGE + "."):
        raise ValueError(f"get_logger is for wattlens modules; got {name!r} (pass __name__)")
    return logging.getLogger(name)
