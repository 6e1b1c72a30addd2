#!/usr/bin/env python3
"""Regenerate (or ``--check``) the result-record tables of docs/CONTRACTS.md from the record types, and the API
answers' tables of docs/WEB.md.

python scripts/contracts.py [--check] [PATH]      # default PATH: docs/CONTRACTS.md (docs/WEB.md always)
"""

from __future__ import annotations

import sys
from pathlib import Path

from wattlens.cli.contracts import ALL_SECTIONS
from wattlens.report.contracts import is_current, write
from wattlens.web import apidoc


def main(argv: list[str]) -> int:
    check = "--check" in argv
    paths = [a for a in argv if a != "--check"]
    path = Path(paths[0] if paths else Path(__file__).resolve().parents[1] / "docs" / "CONTRACTS.md")
    if check:
        stale = [
            p
            for p, current in ((path, is_current(path, ALL_SECTIONS)), (apidoc.DOC, apidoc.is_current()))
            if not current
        ]
        for p in stale:
            print(f"{p}: the generated contracts are out of date; run python scripts/contracts.py")
        return 1 if stale else 0
    print(f"{path}: {'rewritten' if write(path, ALL_SECTIONS) else 'already current'}")
    print(f"{apidoc.DOC}: {'rewritten' if apidoc.write() else 'already current'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
