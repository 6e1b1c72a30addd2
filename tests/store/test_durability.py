"""A cell saved just before the process is SIGKILLed must still be there (SQLite WAL commit)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from wattlens.store import open_store

CHILD = textwrap.dedent(
    """
    import sys, time
    from wattlens.store import open_store
    st = open_store(sys.argv[1])
    rid = st.create_run("bench", {"suite": "quick"}, run_id="killed-run")
    st.save_cell(rid, "cell-1", "ok", {"j_per_query": 1.0})
    st.save_timeline(rid, "cell-1", [{"t_s": 0.0}, {"t_s": 0.1}])
    st.save_cell(rid, "cell-2", "failed", None, error="boom")
    print("saved", flush=True)
    time.sleep(60)  # never reached in the test: the parent kills us here, connections still open
    """
)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_cells_survive_kill_9(tmp_path):
    path = str(tmp_path / "durable.sqlite")
    child = subprocess.Popen([sys.executable, "-c", CHILD, path], stdout=subprocess.PIPE, text=True)
    try:
        line = child.stdout.readline()
        assert line.strip() == "saved", line
        os.kill(child.pid, signal.SIGKILL)  # no atexit, no close(), no checkpoint
        assert child.wait(timeout=10) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
        child.stdout.close()
    with open_store(path) as st:
        assert st.done_keys("killed-run") == {"cell-1", "cell-2"}
        assert st.timeline("killed-run", "cell-1") == [{"t_s": 0.0}, {"t_s": 0.1}]
        assert st.get_run("killed-run")["config"] == {"suite": "quick"}


WRITER = textwrap.dedent(
    """
    import sys
    from wattlens.store import open_store
    st = open_store(sys.argv[1])
    for i in range(25):
        st.save_cell("shared-run", f"{sys.argv[2]}-{i}", "ok", {"i": i})
    st.close()
    """
)


def test_two_processes_write_one_sqlite_file(tmp_path):
    path = str(tmp_path / "shared.sqlite")
    with open_store(path) as st:
        st.create_run("bench", {}, run_id="shared-run")
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, path, tag]) for tag in ("a", "b")]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]  # busy_timeout: writers wait, none fails
    with open_store(path) as st:
        assert len(st.done_keys("shared-run")) == 50
