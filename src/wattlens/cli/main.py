"""The one ``wattlens`` command: a thin argparse front over the Python API.

Each sub-command lives in its own module under ``wattlens.cli`` and exposes
``register(subparsers) -> None``; the parser it adds sets ``func`` (called with the parsed
namespace, returning the process exit code). Modules are imported only when needed so that
``wattlens measure`` never pays for torch.

Output is configured here, once, for every command (the library itself never prints and changes no
process-wide state): ``-q/--quiet`` (errors only, no progress) and ``-v/--verbose`` (``-v`` wattlens'
info messages, ``-vv`` debug and third-party warnings), accepted before or after the command name.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from wattlens.cli.options import EXIT_USAGE, Parser, UsageError, check_namespace, one_line
from wattlens.errors import WattlensError, caused_by_interrupt
from wattlens.redact import RedactingStream, passwords_in

EXIT_INTERRUPTED = 130  # what shells report after Ctrl-C

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
    "serve": "wattlens.cli.web",
    "export": "wattlens.cli.web",
    "exporter": "wattlens.cli.serving",
    "loadtest": "wattlens.cli.serving",
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    from wattlens import __version__

    parser = Parser(
        prog="wattlens",
        description="Measure, benchmark, explain and cut the energy, carbon and cost of AI workloads.",
    )
    parser.add_argument("--version", action="version", version=f"wattlens {__version__}")
    _add_output_options(parser, top=True)
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
    for command_parser in dict.fromkeys(sub.choices.values()):
        _add_output_options(command_parser, top=False)
    return parser


# --------------------------------------------------------------------------------------------------
# output: -q / -v, where log records go, how chatty the libraries underneath are


def _add_output_options(p: argparse.ArgumentParser, *, top: bool) -> None:
    """``-q``/``-v`` on the top parser and on each command's parser (where the command did not take them).

    Separate destinations for the two levels: argparse copies a command parser's defaults over the top
    parser's values, so ``wattlens -q bench`` would otherwise lose its ``-q``.
    """
    suffix = "" if top else "_cmd"
    verbose = {"dest": "verbosity" + suffix, "action": "count", "default": 0}
    quiet = {"dest": "quiet_all" if top else "quiet", "action": "store_true"}
    for flags, kwargs, text in (
        (("-v", "--verbose"), verbose, "more output: -v info messages, -vv debug and third-party warnings"),
        (("-q", "--quiet"), quiet, "errors only: no progress lines, no warnings"),
    ):
        free = [f for f in flags if f not in p._option_string_actions]  # a command's own --quiet stays its own
        if free:
            p.add_argument(*free, help=text, **kwargs)  # type: ignore[arg-type]


def verbosity_of(args: argparse.Namespace) -> int:
    """-1 quiet, 0 default, 1 verbose, 2+ debug, from the options given before and after the command."""
    if getattr(args, "quiet_all", False) or getattr(args, "quiet", False):
        return -1
    return int(getattr(args, "verbosity", 0)) + int(getattr(args, "verbosity_cmd", 0))


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at emit time (tests and pipes may swap it)."""

    @property  # type: ignore[override]
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        pass


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        where = record.name if record.levelno < logging.INFO or not record.name.startswith("wattlens") else "wattlens"
        return f"{where}: {record.levelname.lower()}: {record.getMessage()}"


# The CLI owns its process: the hub is never reached, and the libraries underneath stay quiet unless -vv.
_OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}
_QUIET_LIBRARIES_ENV = {
    "TRANSFORMERS_VERBOSITY": "error",
    "DIFFUSERS_VERBOSITY": "error",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",  # transformers' weight-loading bar would interleave with progress lines
}
# -q: no progress bar from any library either (tqdm honours TQDM_DISABLE)
_SILENT_ENV = {"TQDM_DISABLE": "1"}
# Commands that run the user's own program: it inherits the user's environment untouched.
_RUNS_USER_PROGRAM = frozenset({"measure"})
_WATTLENS_LEVEL = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}
_ROOT_LEVEL = {-1: logging.ERROR, 0: logging.ERROR, 1: logging.ERROR, 2: logging.WARNING}


@contextmanager
def configured_output(verbosity: int, command: str | None = None) -> Iterator[None]:
    """Log records to stderr at the asked verbosity for one command, then put logging and env back.

    Putting things back matters when ``main()`` is called in-process (tests, notebooks): the caller's
    logging and environment are theirs. A user's own environment variables always win (``setdefault``);
    a command that runs the user's program (``measure``) sets none, so that program runs as it would alone.
    """
    env = {**_OFFLINE_ENV, **(_QUIET_LIBRARIES_ENV if verbosity < 2 else {}), **(_SILENT_ENV if verbosity < 0 else {})}
    if command in _RUNS_USER_PROGRAM:
        env = {}
    added_env = [k for k in env if k not in os.environ]
    os.environ.update({k: env[k] for k in added_env})
    package, root = logging.getLogger("wattlens"), logging.getLogger()
    saved = (package.level, package.propagate, root.level)
    handler = _StderrHandler()
    handler.setFormatter(_Formatter())
    package.setLevel(_WATTLENS_LEVEL.get(verbosity, logging.DEBUG))
    package.propagate = False  # wattlens records go to our handler once, not again through the root's
    package.addHandler(handler)
    root.setLevel(_ROOT_LEVEL.get(verbosity, logging.INFO))
    root.addHandler(handler)
    try:
        with warnings.catch_warnings():
            if verbosity < 0:  # -q: errors only, so Python warnings from the libraries underneath are not shown
                warnings.simplefilter("ignore")
            yield
    finally:
        package.removeHandler(handler)
        root.removeHandler(handler)
        package.level, package.propagate, root.level = saved
        for k in added_env:
            os.environ.pop(k, None)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Import only the module of the command asked for: keeps `wattlens measure` light.
    first = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(first if first in COMMANDS else None)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # a usage error (one line already printed), --help or --version: the exit code
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    verbosity = verbosity_of(args)
    if verbosity < 0:
        args.quiet = True  # the commands' own progress switch
    with configured_output(verbosity, args.command), redacted_output(argv):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    """The command's function, after the checks across options; a wattlens error is one line and exit 2 (bad
    input, a store that cannot be used), Ctrl-C is exit 130, never a traceback for either."""
    try:
        check_namespace(args)
        return int(args.func(args) or 0)
    except (UsageError, WattlensError) as exc:
        print(f"wattlens {args.command}: error: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"wattlens {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        if not caused_by_interrupt(exc):
            raise
        # a Ctrl-C inside a C extension's import or callback comes back as another error (onnxruntime:
        # "ImportError: initialization failed" from the KeyboardInterrupt): it is still a Ctrl-C
        print(f"wattlens {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


@contextmanager
def redacted_output(argv: list[str]) -> Iterator[None]:
    """While a command runs, a database password given on its command line or in the environment is printed as
    ``***`` wherever it would appear: errors, resume hints, log records, tables (the measured program's own output
    goes straight to the terminal and is untouched)."""
    passwords = passwords_in(argv, environ=True)
    if not passwords:
        yield
        return
    saved = sys.stdout, sys.stderr
    sys.stdout = RedactingStream(saved[0], passwords)  # type: ignore[assignment]
    sys.stderr = RedactingStream(saved[1], passwords)  # type: ignore[assignment]
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


if __name__ == "__main__":
    sys.exit(main())
