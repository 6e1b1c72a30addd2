"""`wattlens measure` under real signals: a real terminal Ctrl-C (a pseudo-terminal's line discipline), signals
sent to the wrapper alone, and the record that must be written whatever happens (issue 18, finding 2).

Each test runs the console entry point as a real process around a small Python command that logs every
signal it receives to a file, so that "forwarded exactly once" and "never orphaned" are observed, not assumed.
Every wait is bounded.
"""

from __future__ import annotations

import json
import os
import pty
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

PY = sys.executable
pytestmark = pytest.mark.skipif(not hasattr(signal, "sigtimedwait"), reason="the shell-like path needs sigtimedwait")

# The measured command: writes its pid; with "handle" it logs SIGINT/SIGTERM and exits 0, else every signal
# keeps its default action (the command dies of it).
CHILD = """
import os, signal, sys, time
log, ready, handle = sys.argv[1], sys.argv[2], sys.argv[3] == "handle"
def on(signum, frame):
    with open(log, "a") as f:
        f.write(signal.Signals(signum).name + "\\n")
    if handle and signum in (signal.SIGINT, signal.SIGTERM):
        sys.exit(0)
if handle:
    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, on)
else:  # default actions (a Python command would otherwise turn SIGINT into KeyboardInterrupt)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
with open(ready, "w") as f:
    f.write(str(os.getpid()))
time.sleep(60)
"""


def _wrapper_cmd(tmp: Path, handle: bool) -> list[str]:
    return [
        PY,
        "-m",
        "wattlens",
        "measure",
        "--json-file",
        str(tmp / "rec.json"),
        "--",
        PY,
        "-c",
        CHILD,
        str(tmp / "signals.log"),
        str(tmp / "ready"),
        "handle" if handle else "default",
    ]


def _wait_ready(tmp: Path, timeout_s: float = 30.0) -> int:
    deadline = time.monotonic() + timeout_s
    ready = tmp / "ready"
    while time.monotonic() < deadline:
        if ready.exists() and ready.read_text():
            return int(ready.read_text())
        time.sleep(0.02)
    raise AssertionError("the measured command never started")


def _received(tmp: Path) -> list[str]:
    log = tmp / "signals.log"
    return log.read_text().split() if log.exists() else []


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie not yet reaped by init is not running
        return f.read().rsplit(")", 1)[1].split()[0] != "Z"


def _run_with_signal(tmp: Path, sig: int, handle: bool) -> tuple[int, str, int]:
    wrapper = subprocess.Popen(_wrapper_cmd(tmp, handle), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        child_pid = _wait_ready(tmp)
        wrapper.send_signal(sig)  # to the wrapper alone: the command is not in this kill
        _, err = wrapper.communicate(timeout=30)
    finally:
        if wrapper.poll() is None:
            wrapper.kill()
            wrapper.wait(timeout=10)
    return wrapper.returncode, err, child_pid


def _record(tmp: Path) -> dict:
    return json.loads((tmp / "rec.json").read_text())


def _ctrl_c_in_a_terminal(tmp: Path, delay_s: float) -> tuple[int, dict, list[str]]:
    """Run the wrapper on a pseudo-terminal and type Ctrl-C after ``delay_s``: the kernel's line discipline
    sends SIGINT to the foreground process group (wrapper and command), exactly as a real terminal does."""
    pid, master = pty.fork()
    if pid == 0:  # the child: a session leader with the pty as its controlling terminal
        try:
            os.execv(PY, _wrapper_cmd(tmp, handle=True))
        finally:
            os._exit(127)
    try:
        _wait_ready(tmp)
        time.sleep(delay_s)
        os.write(master, b"\x03")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done == pid:
                break
            try:  # drain the terminal so that the wrapper never blocks writing to it
                os.read(master, 65536)
            except OSError:
                time.sleep(0.02)
        else:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise AssertionError("the wrapper did not end after Ctrl-C")
    finally:
        os.close(master)
    return os.waitstatus_to_exitcode(status), _record(tmp), _received(tmp)


def test_ctrl_c_in_a_terminal_exits_130_stores_130_and_the_command_gets_one_sigint(tmp_path: Path) -> None:
    code, rec, received = _ctrl_c_in_a_terminal(tmp_path, 0.0)
    assert code == 130
    assert rec["exit_code"] == 130 and rec["command_exit_code"] == 0  # the command handled it and exited 0
    assert received == ["SIGINT"]  # from the terminal only: the wrapper did not send a second one
    assert rec["signals"] == [{"signal": "SIGINT", "from": "terminal", "forwarded": False}]
    assert any("interrupted by SIGINT" in n for n in rec["notes"])


def test_ctrl_c_at_random_moments_never_records_success(tmp_path: Path) -> None:
    """The race of Popen.wait() (KeyboardInterrupt between waitpid and storing the status -> exit 0) is gone."""
    rng = random.Random(18)
    for i in range(6):  # bounded: ~6 x 0.3 s
        run = tmp_path / f"run{i}"
        run.mkdir()
        code, rec, received = _ctrl_c_in_a_terminal(run, rng.uniform(0.0, 0.05))
        assert (code, rec["exit_code"]) == (130, 130), (i, code, rec)
        assert received == ["SIGINT"]


def test_sigint_to_the_wrapper_alone_is_forwarded_once(tmp_path: Path) -> None:
    code, err, child = _run_with_signal(tmp_path, signal.SIGINT, handle=True)
    assert code == 130 and "command exit code 130" in err
    assert _received(tmp_path) == ["SIGINT"]
    rec = _record(tmp_path)
    assert rec["exit_code"] == 130 and rec["signals"] == [{"signal": "SIGINT", "from": "process", "forwarded": True}]
    assert not _alive(child)


@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1"])
def test_signals_to_the_wrapper_are_forwarded_the_record_written_the_command_not_orphaned(
    tmp_path: Path, name: str
) -> None:
    sig = getattr(signal, name)
    code, err, child = _run_with_signal(tmp_path, sig, handle=False)
    rec = _record(tmp_path)
    assert code == 128 + sig and rec["exit_code"] == 128 + sig  # the command died of it, as a shell reports
    assert rec["signals"] == [{"signal": name, "from": "process", "forwarded": True}]
    assert f"command exit code {128 + sig}" in err
    assert not _alive(child)


def test_a_command_that_handles_sigterm_decides_the_exit_code(tmp_path: Path) -> None:
    code, _, child = _run_with_signal(tmp_path, signal.SIGTERM, handle=True)
    assert code == 0 and _record(tmp_path)["exit_code"] == 0 and _received(tmp_path) == ["SIGTERM"]
    assert not _alive(child)
