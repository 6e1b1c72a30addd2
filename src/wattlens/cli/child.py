"""Run one command the way a shell runs a foreground job, for ``wattlens measure``.

What a user of ``time``, ``timeout`` or a shell expects, and what this guarantees:

* **Ctrl-C** (SIGINT from the terminal reaches the whole foreground process group, the command included):
  the command gets it once, from the terminal; the wrapper waits for it to end and exits **130**, and the
  record says so (``exit_code`` 130, the command's own status in ``command_exit_code``) — never 0.
* **A signal sent to the wrapper alone** (``kill -INT/-TERM/-HUP/-QUIT/-USR1/-USR2/-ALRM/-WINCH <pid>``,
  a scheduler, ``timeout``) is forwarded to the command, once. The wrapper stays alive until the command
  has ended, so the command is never orphaned and the record is always written; it then exits like a
  shell would (the command's status, 128+N when it died of signal N; 130 after any SIGINT).
* Signals from the terminal (``si_code`` SI_KERNEL: Ctrl-C, Ctrl-\\, hang-up, resize) are *not* forwarded:
  the kernel already delivered them to the command's process group; a second copy would, for example,
  abort a command that is cleaning up after its first Ctrl-C.

How (Linux and other systems with ``sigtimedwait`` and ``posix_spawn``): the forwarded signals and SIGCHLD
are blocked in the wrapper from just before the command starts until its record is written, and taken with
``sigtimedwait``, which tells who sent each one. No Python handler runs, so no ``KeyboardInterrupt`` can
land inside ``waitpid`` — the race by which ``subprocess.Popen.wait`` loses a child's status and reports 0.
The command starts with the wrapper's original signal mask and default SIGPIPE/SIGXFSZ (as
``subprocess`` does). Elsewhere (macOS lacks ``sigtimedwait``; Windows) a portable fallback forwards
SIGTERM/SIGHUP/SIGQUIT/SIGUSR1/SIGUSR2 with handlers, and a SIGINT is recorded (exit 130) but not forwarded.
A SIGKILL cannot be caught by anyone: the command then outlives the wrapper.
"""

from __future__ import annotations

import os
import signal
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import FrameType, TracebackType
    from typing import Any

EXIT_INTERRUPTED = 128 + signal.SIGINT  # 130, what shells report after Ctrl-C
EXIT_NOT_FOUND = 127
EXIT_NOT_EXECUTABLE = 126
FORWARDED = ("SIGHUP", "SIGINT", "SIGQUIT", "SIGTERM", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGWINCH")


class ReceivedSignal:
    """One signal the wrapper received while the command ran."""

    __slots__ = ("forwarded", "from_terminal", "name")

    def __init__(self, name: str, from_terminal: bool, forwarded: bool) -> None:
        self.name = name
        self.from_terminal = from_terminal
        self.forwarded = forwarded

    def to_dict(self) -> dict[str, Any]:
        return {
            "signal": self.name,
            "from": "terminal" if self.from_terminal else "process",
            "forwarded": self.forwarded,
        }


class ChildOutcome:
    """How the command ended: the wrapper's exit code, the command's own, the signals received, or why it
    could not start (``launch_error``; then ``started`` is False)."""

    __slots__ = ("command_exit_code", "exit_code", "launch_error", "signals")

    def __init__(
        self,
        exit_code: int,
        command_exit_code: int | None,
        signals: list[ReceivedSignal],
        launch_error: str | None = None,
    ) -> None:
        self.exit_code = exit_code
        self.command_exit_code = command_exit_code
        self.signals = signals
        self.launch_error = launch_error

    @property
    def started(self) -> bool:
        return self.launch_error is None

    @property
    def interrupted(self) -> bool:
        return any(s.name == "SIGINT" for s in self.signals)

    def record_fields(self) -> dict[str, Any]:
        """What the measurement record adds about the command's end."""
        fields: dict[str, Any] = {"exit_code": self.exit_code, "command_exit_code": self.command_exit_code}
        if self.signals:
            fields["signals"] = [s.to_dict() for s in self.signals]
        return fields


def exit_code_of(status_code: int) -> int:
    """A ``returncode``/``waitstatus_to_exitcode`` value as a shell reports it (killed by N -> 128+N)."""
    return 128 - status_code if status_code < 0 else status_code


def _signal_numbers() -> dict[int, str]:
    return {int(getattr(signal, n)): n for n in FORWARDED if hasattr(signal, n)}


def posix_available() -> bool:
    return hasattr(signal, "sigtimedwait") and hasattr(os, "posix_spawnp") and hasattr(signal, "pthread_sigmask")


class ChildRunner:
    """Blocks the forwarded signals from ``__enter__`` to ``__exit__`` and runs the command in between.

    >>> with ChildRunner() as runner:                                  # doctest: +SKIP
    ...     outcome = runner.run(["sleep", "1"], before_start=lambda: None)
    """

    def __init__(self) -> None:
        self._numbers = _signal_numbers()
        self._posix = posix_available()
        self._wait_set: set[int] = set(self._numbers) | {int(getattr(signal, "SIGCHLD", 0))} - {0}
        self._old_mask: set[int | signal.Signals] | None = None

    # -- the guard --------------------------------------------------------------------------------
    def __enter__(self) -> ChildRunner:
        if self._posix:
            # A SIGCHLD ignored by whoever started us would make the kernel reap the command itself:
            # its exit status would be lost (Popen then reports 0). Take the default back.
            if signal.getsignal(signal.SIGCHLD) == signal.SIG_IGN:
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            self._old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, self._wait_set)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._posix and self._old_mask is not None:
            # Signals that came after the command ended (its record is written by now) are taken here and
            # dropped: released, they would end the wrapper with a traceback after its work is done.
            while signal.sigtimedwait(self._wait_set, 0) is not None:
                pass
            signal.pthread_sigmask(signal.SIG_SETMASK, self._old_mask)
            self._old_mask = None

    # -- running ----------------------------------------------------------------------------------
    def run(self, cmd: list[str], before_start: Callable[[], None], stdout_to_stderr: bool = False) -> ChildOutcome:
        """Start ``cmd`` (``before_start()`` just before), wait for it, forward signals; never raises for the
        command's sake (a command that cannot start is an outcome with ``launch_error``)."""
        if self._posix:
            return self._run_posix(cmd, before_start, stdout_to_stderr)
        return self._run_portable(cmd, before_start, stdout_to_stderr)

    def _run_posix(self, cmd: list[str], before_start: Callable[[], None], stdout_to_stderr: bool) -> ChildOutcome:
        actions = [(os.POSIX_SPAWN_DUP2, 2, 1)] if stdout_to_stderr else []
        defaults = [getattr(signal, n) for n in ("SIGPIPE", "SIGXFSZ") if hasattr(signal, n)]
        before_start()
        try:
            pid = os.posix_spawnp(
                cmd[0], cmd, os.environ, file_actions=actions, setsigmask=self._old_mask or (), setsigdef=defaults
            )
        except OSError as exc:
            return _launch_failure(cmd, exc)
        received: list[ReceivedSignal] = []
        while True:
            info = signal.sigtimedwait(self._wait_set, 1.0)  # the timeout only guards against a lost SIGCHLD
            if info is not None and info.si_signo in self._numbers:
                received.append(self._forward(pid, info))
                continue
            done, status = os.waitpid(pid, os.WNOHANG)
            if done == pid:
                return _outcome(exit_code_of(os.waitstatus_to_exitcode(status)), received)

    def _forward(self, pid: int, info: Any) -> ReceivedSignal:
        name = self._numbers[info.si_signo]
        from_terminal = info.si_code > 0  # SI_KERNEL (0x80): the terminal's line discipline; kill() gives <= 0
        from_child = info.si_pid == pid
        forward = not from_terminal and not from_child
        if forward:
            try:
                os.kill(pid, info.si_signo)
            except ProcessLookupError:  # it has just ended: nothing to pass on
                forward = False
        return ReceivedSignal(name, from_terminal, forward)

    def _run_portable(self, cmd: list[str], before_start: Callable[[], None], stdout_to_stderr: bool) -> ChildOutcome:
        import subprocess

        received: list[ReceivedSignal] = []
        before_start()
        try:
            proc = subprocess.Popen(cmd, stdout=sys.stderr if stdout_to_stderr else None)
        except OSError as exc:
            return _launch_failure(cmd, exc)

        def relay(signum: int, _frame: FrameType | None) -> None:
            name = self._numbers.get(signum, str(signum))
            forward = name != "SIGINT"  # without siginfo, a SIGINT is assumed to come from the terminal
            if forward:
                try:
                    proc.send_signal(signum)
                except OSError:
                    forward = False
            received.append(ReceivedSignal(name, not forward, forward))

        previous: dict[int, Any] = {}
        for number in self._numbers:
            try:
                previous[number] = signal.signal(number, relay)
            except (OSError, ValueError):  # not the main thread, or not settable here
                pass
        try:
            returncode = proc.wait()  # a handler that does not raise: waitpid is simply retried
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)
        return _outcome(exit_code_of(returncode), received)


def _outcome(command_exit_code: int, received: list[ReceivedSignal]) -> ChildOutcome:
    interrupted = any(s.name == "SIGINT" for s in received)
    return ChildOutcome(EXIT_INTERRUPTED if interrupted else command_exit_code, command_exit_code, received)


def _launch_failure(cmd: list[str], exc: OSError) -> ChildOutcome:
    if isinstance(exc, FileNotFoundError):
        return ChildOutcome(EXIT_NOT_FOUND, None, [], f"command not found: {cmd[0]!r}")
    if isinstance(exc, PermissionError):
        return ChildOutcome(EXIT_NOT_EXECUTABLE, None, [], f"command not executable: {cmd[0]!r}")
    return ChildOutcome(EXIT_NOT_EXECUTABLE, None, [], f"cannot run {cmd[0]!r}: {exc.strerror or exc}")
