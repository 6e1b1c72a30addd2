"""The ``wattlens`` console script and ``python -m wattlens``: Ctrl-C at any moment, even while the command's
modules are still importing, ends the program with exit code 130 and one line, never a traceback.

Nothing is imported at module level: the window in which a SIGINT could still surface as a traceback is the
interpreter's own start-up, before any wattlens code runs.
"""


def run() -> None:
    import atexit
    import sys

    # registered before any library's: runs after theirs, just before the interpreter tears down its signal
    # handlers (a SIGINT there would kill the finished process with status -2)
    atexit.register(_ignore_interrupts)
    try:
        from wattlens.cli.main import main

        code = main()
    except KeyboardInterrupt:
        print("wattlens: interrupted", file=sys.stderr)
        code = 130
    forget_caught_interrupt()
    exit_now_on_interrupt(code)
    sys.exit(code)


def exit_now_on_interrupt(code: int) -> None:
    """The command is over and its records are saved: a Ctrl-C that arrives while the exit callbacks run (library
    finalizers) ends the process at once with the command's own exit code, not a traceback from a finalizer; the
    last callback then ignores SIGINT for the interpreter's final teardown."""
    import os
    import signal
    import sys

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can reach it anyway
            pass

    def leave(_signum: int, _frame: object) -> None:
        os._exit(code)

    try:
        signal.signal(signal.SIGINT, leave)
    except (ValueError, OSError):  # not the main thread (an embedding host): leave its handlers alone
        pass


def forget_caught_interrupt() -> None:
    """CPython sets a flag when a KeyboardInterrupt leaves code run by ``exec(str)`` (dataclasses, SQLAlchemy and
    namedtuple build classes that way) and, at the exit of a program run as ``python -m`` (``python -m wattlens``),
    kills itself with SIGINT (status -2) whatever exit code was asked for — even when the interrupt was caught and
    handled (tests/cli/test_entry.py shows it). Running a string through ``exec`` resets that
    flag (``run_eval_code_obj`` clears it first), so a handled Ctrl-C exits with the code the command chose."""
    exec("None")


def _ignore_interrupts() -> None:
    import signal

    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except (ValueError, OSError):
        pass
