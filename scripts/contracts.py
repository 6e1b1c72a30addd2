#!/usr/bin/env python3
"""Regenerate (or ``--check``) the result-record tables of docs/CONTRACTS.md from the record types.

python scripts/contracts.py [--check] [PATH]      # default PATH: docs/CONTRACTS.md
"""

from __future__ import annotations

import sys
from pathlib import Path

from wattlens.report.contracts import is_current, write


def main(argv: list[str]) -> int:
    check = "--check" in argv
    paths = [a for a in argv if a != "--check"]
    path = Path(paths[0] if paths else Path(__file__).resolve().parents[1] / "docs" / "CONTRACTS.md")
    if check:
        if not is_current(path):
            print(f"{path}: the generated contracts are out of date; run python scripts/contracts.py")
            return 1
        return 0
    print(f"{path}: {'rewritten' if write(path) else 'already current'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
