"""A stand-in command for tests of the CLI's central output options: logs at every level, reports its flags."""

from __future__ import annotations

import argparse
import logging
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("probe", help="test command")
    p.add_argument("--quiet", action="store_true", help="the command's own progress switch")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    log = logging.getLogger("wattlens.probe")
    for level in (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR):
        log.log(level, "wattlens-%s", logging.getLevelName(level).lower())
    logging.getLogger("thirdparty").warning("thirdparty-warning")
    print(f"quiet={args.quiet}")
    return 0
