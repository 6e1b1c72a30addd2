"""The one ``wattlens`` command: a thin argparse front over the Python API.

Each sub-command lives in its own module under ``wattlens.cli`` and exposes
``register(subparsers) -> None``; the parser it adds sets ``func`` (called with the parsed
namespace, returning the process exit code). Modules are imported only when needed so that
``wattlens measure`` never pays for torch.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# sub-command name -> module that registers it (several names may share one module)
COMMANDS: dict[str, str] = {
    "measure": "wattlens.cli.measure",
    "sources": "wattlens.cli.measure",
    "project": "wattlens.cli.measure",
    "bench": "wattlens.cli.bench",
    "results": "wattlens.cli.bench",
    "breakeven": "wattlens.cli.bench",
    "report": "wattlens.cli.report",
    "analyze": "wattlens.cli.analyze",
    "hardware": "wattlens.cli.analyze",
    "optimize": "wattlens.cli.optimize",
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wattlens",
        description="Measure, benchmark, explain and cut the energy, carbon and cost of AI workloads.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = [COMMANDS[only]] if only in COMMANDS else list(dict.fromkeys(COMMANDS.values()))
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ImportError as exc:  # a missing optional extra must not break the other commands
            if only is not None:
                raise SystemExit(f"wattlens: this command needs an optional dependency: {exc}") from exc
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Import only the module of the command asked for: keeps `wattlens measure` light.
    first = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(first if first in COMMANDS else None)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
