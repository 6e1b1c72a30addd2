"""Fault injection (issue 18): SIGKILL and SIGINT at seeded random points of ``bench``, ``optimize`` and
``measure`` (the CLI a user types, in a subprocess), a disk that fills, a store locked by another writer and a
PostgreSQL server that disappears mid-run. After each fault the store is checked; then the run is resumed until it
completes, and every cell is there exactly once, none measured twice, no record lost.

What "nothing lost" means per command:

* ``bench`` / ``optimize``: every cell committed before a fault is still there afterwards, unchanged (same result,
  same commit time: resume never measures it again); a cell and its timeline are committed together; SIGINT exits
  130 and marks the run ``interrupted``; resume completes the run with every cell of the suite exactly once.
* ``measure``: once the measured command has started, a SIGINT always leaves exactly one record (exit code 130
  or, when the command had already ended, its own); before it started, none. A SIGKILL of the wrapper cannot be
  caught by anyone: that one invocation's record cannot exist, every earlier record is intact and the store opens.

The seed and the number of points per command come from ``WATTLENS_FAULT_SEED`` / ``WATTLENS_FAULT_POINTS``
(defaults 20261205 and 20); a failure prints the seed and the point so that it can be replayed.
"""

from __future__ import annotations

import json
import os
import random
import resource
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SEED = int(os.environ.get("WATTLENS_FAULT_SEED", "20261205"))
POINTS = int(os.environ.get("WATTLENS_FAULT_POINTS", "20"))
PG_ENV = "WATTLENS_TEST_PG_URL"

CELLS_PY = """\
import time


def classify(batch):
    end = time.perf_counter() + 0.01 * len(batch)  # a CPU-bound query of 10 ms per input
    while time.perf_counter() < end:
        pass
    return ["POSITIVE" for _ in batch]
"""

SUITE = """\
[suite]
name = "fault-injection"
queries = 2
repeats = 3
warmup = 1
min_window_s = 0.2
idle_s = 0.1
phases = false
quality = false

[[task]]
name = "text-classification"
models = ["cells.py:classify"]
engine = ["callable"]
batch = [1, 2, 3, 4]
"""
SUITE_CELLS = 4
MEASURED = {"ok", "contended", "invalid"}  # a cell measured (contended: the 2 shared cores were busy)


# -- the fault plan ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Fault:
    index: int
    delay_s: float
    signal: signal.Signals

    def __str__(self) -> str:
        return f"point {self.index} (seed {SEED}): {self.signal.name} after {self.delay_s:.2f} s"


def fault_plan(salt: str, full_run_s: float, n: int = POINTS) -> list[Fault]:
    """``n`` seeded points between 0.25 s and 90 % of an uninterrupted run's duration (so that every point lands
    inside a fresh run, from start-up to the last cell), half SIGKILL and half SIGINT in a shuffled order."""
    rng = random.Random(f"{SEED}:{salt}")
    signals = [signal.SIGKILL, signal.SIGINT] * (n // 2) + [signal.SIGKILL] * (n % 2)
    rng.shuffle(signals)
    horizon_s = max(0.3, 0.9 * full_run_s)
    return [Fault(i, round(rng.uniform(0.25, horizon_s), 3), sig) for i, sig in enumerate(signals)]


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    """Seconds an uninterrupted run of ``argv`` takes here (it must succeed): the scale of the fault plan."""
    t0 = time.monotonic()
    out = run_with_fault(argv, None, cwd, env)
    assert out.returncode == 0, out.stderr[-3000:]
    return time.monotonic() - t0


def _env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "WATTLENS_COUNTRY": "FR",
        "WATTLENS_RETRY_FILE": str(tmp_path / "retry.jsonl"),
    }


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "wattlens", *args]


@dataclass
class Outcome:
    returncode: int
    stderr: str
    signalled: bool  # the fault reached a live process (False: it had already ended)


def run_with_fault(
    argv: list[str], fault: Fault | None, cwd: Path, env: dict[str, str], timeout_s: float = 300.0, **popen: object
) -> Outcome:
    """Run ``argv``; deliver ``fault`` to it (the process alone, as ``kill`` does) after its delay."""
    err_path = cwd / f"stderr-{uuid.uuid4().hex[:6]}.txt"
    with open(err_path, "w+", encoding="utf-8") as err:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=err, **popen)  # type: ignore[call-overload]
        signalled = False
        try:
            if fault is not None:
                try:
                    proc.wait(timeout=fault.delay_s)
                except subprocess.TimeoutExpired:
                    proc.send_signal(fault.signal)
                    signalled = True
            proc.wait(timeout=timeout_s)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
        err.seek(0)
        text = err.read()
    err_path.unlink()
    return Outcome(proc.returncode, text, signalled)


def check_exit(out: Outcome, fault: Fault | None, ok_codes: tuple[int, ...] = (0,)) -> None:
    """A SIGKILL is -9; a SIGINT is 130 with one line and no traceback; a finished process its own code."""
    where = str(fault) if fault else "no fault"
    if out.signalled and fault is not None and fault.signal == signal.SIGKILL:
        assert out.returncode in (-signal.SIGKILL, *ok_codes), (where, out.returncode, out.stderr[-2000:])
        return
    assert "Traceback" not in out.stderr, (where, out.stderr[-3000:])
    if out.signalled:
        assert out.returncode in (130, *ok_codes), (where, out.returncode, out.stderr[-2000:])
    else:
        assert out.returncode in ok_codes, (where, out.returncode, out.stderr[-2000:])


# -- reading a SQLite store behind the CLI's back (read-only: never creates or locks anything) ------------
@dataclass
class Snapshot:
    run_status: str | None
    cells: dict[str, tuple[str, float, str]] = field(default_factory=dict)  # key -> (status, updated, result)
    timelines: dict[str, int] = field(default_factory=dict)  # key -> timeline rows


def snapshot(db: Path, run_id: str) -> Snapshot:
    if not db.exists():
        return Snapshot(None)
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10.0)
    try:
        run = con.execute("SELECT status FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        cells = con.execute("SELECT cell_key, status, updated_unix_s, result FROM cells WHERE run_id = ?", (run_id,))
        by_key = {k: (s, u, r or "") for k, s, u, r in cells}
        rows = con.execute("SELECT cell_key, COUNT(*) FROM timeline WHERE run_id = ? GROUP BY cell_key", (run_id,))
        return Snapshot(run[0] if run else None, by_key, dict(rows))
    except sqlite3.OperationalError as exc:  # the schema is not there yet: nothing was committed
        assert "no such table" in str(exc), exc
        return Snapshot(None)
    finally:
        con.close()


def check_nothing_lost(before: Snapshot, after: Snapshot, where: str) -> None:
    """Every cell committed before is still there, byte for byte and with its commit time (not re-measured)."""
    for key, committed in before.cells.items():
        assert after.cells.get(key) == committed, f"{where}: cell {key} lost or measured again"


# -- bench --------------------------------------------------------------------------------------------------
def _bench_args(db: str, run_id: str, exists: bool) -> list[str]:
    if exists:
        return _cli("bench", "--resume", run_id, "--db", db, "--quiet", "--trust-callables")
    return _cli("bench", "--suite", "suite.toml", "--db", db, "--run-id", run_id, "--quiet")


def _bench_dir(tmp_path: Path) -> Path:
    (tmp_path / "cells.py").write_text(CELLS_PY, encoding="utf-8")
    (tmp_path / "suite.toml").write_text(SUITE, encoding="utf-8")
    return tmp_path


def check_bench_complete(snap: Snapshot, where: str, timelines: bool = True) -> None:
    assert snap.run_status == "done", (where, snap.run_status)
    assert len(snap.cells) == SUITE_CELLS, (where, sorted(snap.cells))
    assert {k.split("|")[2] for k in snap.cells} == {f"batch={b}" for b in range(1, SUITE_CELLS + 1)}
    assert all(status in MEASURED for status, _, _ in snap.cells.values()), (where, snap.cells)
    if timelines:  # a cell and its timeline are one commit
        assert all(snap.timelines.get(k, 0) > 0 for k in snap.cells), (where, snap.timelines)


def test_bench_killed_and_interrupted_at_random_points_resumes_every_cell_exactly_once(tmp_path: Path) -> None:
    cwd, env = _bench_dir(tmp_path), _env(tmp_path)
    db = tmp_path / "bench.sqlite"
    full_s = timed(_bench_args(str(tmp_path / "calibration.sqlite"), "calibration", False), cwd, env)
    plan = iter(fault_plan("bench", full_s))
    fault = next(plan, None)
    hit, runs, deadline = 0, 0, time.monotonic() + 600
    while fault is not None:  # a fresh run each time the previous one completed, until every point has hit
        assert time.monotonic() < deadline, f"bench fault injection took too long ({hit} points hit)"
        run_id, runs = f"fault-bench-{runs}", runs + 1
        for _attempt in range(40):  # bounded: each attempt either completes the run or takes one fault
            before = snapshot(db, run_id)
            out = run_with_fault(_bench_args(str(db), run_id, before.run_status is not None), fault, cwd, env)
            where = str(fault) if fault else f"run {run_id} completing"
            check_exit(out, fault)
            after = snapshot(db, run_id)
            check_nothing_lost(before, after, where)
            assert all(after.timelines.get(k, 0) > 0 for k in after.cells), f"{where}: a cell without its timeline"
            if out.signalled:
                hit += 1
                if fault is not None and fault.signal == signal.SIGINT:  # marked, unless it had not been touched
                    assert after.run_status in ("interrupted", "done", before.run_status), (where, after.run_status)
                fault = next(plan, None)
                continue
            check_bench_complete(after, where)
            break
        else:
            raise AssertionError(f"run {run_id} never completed")
    assert hit == POINTS and runs >= 2
    assert not (tmp_path / "retry.jsonl").exists() or not (tmp_path / "retry.jsonl").read_text().strip()


# -- a disk that fills; a store locked past the retries -----------------------------------------------------
def _file_size_limit(limit_bytes: int) -> Callable[[], None]:
    def preexec() -> None:  # in the child: writes past the limit fail with EFBIG instead of killing it
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, resource.RLIM_INFINITY))

    return preexec


def _kept_cells(tmp_path: Path) -> list[str]:
    path = tmp_path / "retry.jsonl"
    if not path.exists():
        return []
    return [json.loads(line)["record"]["cell_key"] for line in path.read_text().splitlines() if line.strip()]


def _resume_to_completion(db: Path, run_id: str, cwd: Path, env: dict[str, str], where: str) -> Snapshot:
    before = snapshot(db, run_id)
    out = run_with_fault(_bench_args(str(db), run_id, True), None, cwd, env)
    check_exit(out, None)
    after = snapshot(db, run_id)
    check_nothing_lost(before, after, where)
    check_bench_complete(after, where)
    return after


def test_a_disk_that_fills_mid_run_stops_with_one_line_and_resume_loses_nothing(tmp_path: Path) -> None:
    cwd, env = _bench_dir(tmp_path), _env(tmp_path)
    db = tmp_path / "full.sqlite"
    run_id = "fault-disk"
    # the store's files may grow to 160 KiB: the schema and the first cells fit, a later commit does not
    out = run_with_fault(_bench_args(str(db), run_id, False), None, cwd, env, preexec_fn=_file_size_limit(160 * 1024))
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr[-3000:]
    message = out.stderr.strip().splitlines()[-1]
    assert "full" in message.lower() and "--resume" in message, message
    before = snapshot(db, run_id)
    assert 1 <= len(before.cells) < SUITE_CELLS, sorted(before.cells)  # the disk filled mid-run
    kept = _kept_cells(tmp_path)
    assert len(kept) == 1 and kept[0] not in before.cells  # the finished cell the disk refused, kept
    after = _resume_to_completion(db, run_id, cwd, env, "after the disk filled")
    assert kept[0] in after.cells and not _kept_cells(tmp_path)


HOLDER = """
import sqlite3, sys, time
con = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
con.execute("BEGIN IMMEDIATE")  # the write lock, held
open(sys.argv[2], "w").close()
time.sleep(float(sys.argv[3]))
con.execute("COMMIT")
"""


def test_a_store_locked_mid_run_by_another_writer_then_resumed_loses_nothing(tmp_path: Path) -> None:
    cwd, env = _bench_dir(tmp_path), {**_env(tmp_path), "WATTLENS_DB_BUSY_TIMEOUT_S": "0.1"}
    db = tmp_path / "locked.sqlite"
    run_id = "fault-lock"
    ready = tmp_path / "ready"
    proc = subprocess.Popen(
        _bench_args(str(db), run_id, False), cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    holder = None
    try:
        deadline = time.monotonic() + 120
        while not snapshot(db, run_id).cells:  # bounded: the first cell is committed, then the lock is taken
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(db), str(ready), "60"])
        while not ready.exists():
            assert time.monotonic() < deadline and holder.poll() is None
            time.sleep(0.02)
        _, err = proc.communicate(timeout=120)
    finally:
        for p in (proc, holder):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait(timeout=30)
    text = err.decode()
    assert proc.returncode == 2 and "Traceback" not in text, text[-3000:]
    assert "held by another writer" in text and "--resume" in text, text[-1000:]
    before = snapshot(db, run_id)
    kept = _kept_cells(tmp_path)
    assert len(kept) == 1 and kept[0] not in before.cells
    after = _resume_to_completion(db, run_id, cwd, env, "after the lock")
    assert kept[0] in after.cells and not _kept_cells(tmp_path)


# -- a PostgreSQL server that disappears mid-run (a loopback proxy in front of the real server is cut) ------
class CuttableProxy:
    """127.0.0.1 TCP proxy to the test PostgreSQL; ``cut()`` drops every connection and refuses new ones (what a
    client sees when its server goes away), ``restore()`` serves again."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.open = True
        self.closing = False
        self.pairs: list[tuple[socket.socket, socket.socket]] = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.closing:
            try:
                client, _ = self.listener.accept()
            except (TimeoutError, OSError):
                continue
            if not self.open:
                client.close()  # refused: the server is gone
                continue
            upstream = socket.create_connection(self.target, timeout=5)
            with self.lock:
                self.pairs.append((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        self.open = False
        with self.lock:
            for a, b in self.pairs:
                for s in (a, b):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                        s.close()
                    except OSError:
                        pass
            self.pairs.clear()

    def restore(self) -> None:
        self.open = True

    def close(self) -> None:
        self.closing = True
        self.cut()
        self.thread.join(timeout=5)
        self.listener.close()


@pytest.fixture
def pg_proxy() -> Iterator[tuple[CuttableProxy, str, str]]:
    from sqlalchemy.engine import make_url

    url = os.environ.get(PG_ENV)
    if not url:
        if os.environ.get("CI"):
            pytest.fail(f"{PG_ENV} is not set on CI: the server-disappears test must run against PostgreSQL")
        pytest.skip(f"{PG_ENV} not set (scripts/pg.sh start)")
    parsed = make_url(url)
    proxy = CuttableProxy((parsed.host or "127.0.0.1", parsed.port or 5432))
    try:
        yield proxy, url, parsed.set(port=proxy.port).render_as_string(hide_password=False)
    finally:
        proxy.close()


def _pg_cells(url: str, run_id: str) -> tuple[str | None, dict[str, tuple[str, float]], dict[str, int]]:
    import sqlalchemy as sa

    from wattlens.store.db import normalise_url

    engine = sa.create_engine(normalise_url(url))
    try:
        with engine.connect() as conn:
            run = conn.execute(sa.text("SELECT status FROM runs WHERE run_id = :r"), {"r": run_id}).first()
            rows = conn.execute(
                sa.text("SELECT cell_key, status, updated_unix_s FROM cells WHERE run_id = :r"), {"r": run_id}
            )
            cells = {k: (s, u) for k, s, u in rows}
            tl = conn.execute(
                sa.text("SELECT cell_key, COUNT(*) FROM timeline WHERE run_id = :r GROUP BY cell_key"), {"r": run_id}
            )
            return (run[0] if run else None), cells, {k: n for k, n in tl}
    finally:
        engine.dispose()


def _pg_cleanup(url: str, run_id: str) -> None:
    import sqlalchemy as sa

    from wattlens.store.db import normalise_url

    engine = sa.create_engine(normalise_url(url))
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM runs WHERE run_id = :r"), {"r": run_id})
    engine.dispose()


@pytest.mark.postgres
def test_a_postgresql_server_that_disappears_mid_run_then_returns_loses_nothing(
    tmp_path: Path, pg_proxy: tuple[CuttableProxy, str, str]
) -> None:
    proxy, direct, via_proxy = pg_proxy
    cwd, env = _bench_dir(tmp_path), _env(tmp_path)
    run_id = f"fault-pg-{uuid.uuid4().hex[:8]}"
    proc = subprocess.Popen(
        _bench_args(via_proxy, run_id, False), cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 120
        while not _pg_cells(direct, run_id)[1]:  # bounded: the first cell is committed, then the server goes
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        proxy.cut()
        _, err = proc.communicate(timeout=180)
        text = err.decode()
        assert proc.returncode == 2 and "Traceback" not in text, text[-3000:]
        assert "--resume" in text and text.strip().count("\n") <= 2, text[-2000:]
        _, before, _ = _pg_cells(direct, run_id)
        kept = _kept_cells(tmp_path)
        assert len(kept) == 1 and kept[0] not in before  # the finished cell the server never got, kept
        proxy.restore()
        out = run_with_fault(_bench_args(via_proxy, run_id, True), None, cwd, env)
        check_exit(out, None)
        status, after, timelines = _pg_cells(direct, run_id)
        assert status == "done" and len(after) == SUITE_CELLS and kept[0] in after
        assert all(after[k] == v for k, v in before.items())  # committed before the cut: not measured again
        assert all(timelines.get(k, 0) > 0 for k in after) and not _kept_cells(tmp_path)
    finally:
        if proc.poll() is None:
            proc.kill()
        proxy.restore()
        _pg_cleanup(direct, run_id)


# -- optimize -------------------------------------------------------------------------------------------------
OPTIMIZE_ARGS = (
    "--queries", "4", "--repeats", "2", "--quality-inputs", "4", "--batches", "1", "--threads", "1",
    "--transforms", "threads", "--no-deploy-check", "--quiet",
)  # fmt: skip


def _optimize_run_id(db: Path) -> str | None:
    if not db.exists():
        return None
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10.0)
    try:
        row = con.execute("SELECT run_id FROM runs WHERE kind = 'optimize' ORDER BY created_unix_s DESC").fetchone()
        return row[0] if row else None
    except sqlite3.OperationalError:
        return None
    finally:
        con.close()


def test_optimize_killed_and_interrupted_at_random_points_resumes_every_trial_exactly_once(tmp_path: Path) -> None:
    from tests.optimize.tiny import save_tiny_bert

    model = save_tiny_bert(tmp_path / "tiny")
    env = {**_env(tmp_path), "OMP_NUM_THREADS": "1"}
    full_s = timed(_cli("optimize", model, *OPTIMIZE_ARGS, "--db", str(tmp_path / "calibration.sqlite")), tmp_path, env)
    plan = iter(fault_plan("optimize", full_s))
    fault = next(plan, None)
    hit, runs, deadline = 0, 0, time.monotonic() + 900
    while fault is not None:
        assert time.monotonic() < deadline, f"optimize fault injection took too long ({hit} points hit)"
        db, runs = tmp_path / f"opt-{runs}.sqlite", runs + 1
        for _attempt in range(40):  # bounded: each attempt completes the run or takes one fault
            run_id = _optimize_run_id(db)
            resume = ("--resume", run_id) if run_id else ()
            before = snapshot(db, run_id) if run_id else Snapshot(None)
            args = _cli("optimize", model, *OPTIMIZE_ARGS, "--db", str(db), *resume)
            out = run_with_fault(args, fault, tmp_path, env)
            where = str(fault) if fault else f"optimize {db.name} completing"
            check_exit(out, fault)
            run_id = _optimize_run_id(db)
            after = snapshot(db, run_id) if run_id else Snapshot(None)
            check_nothing_lost(before, after, where)
            if out.signalled:
                hit += 1
                if fault is not None and fault.signal == signal.SIGINT:  # marked, unless it had not been touched
                    assert after.run_status in ("interrupted", "done", before.run_status), (where, after.run_status)
                fault = next(plan, None)
                continue
            assert after.run_status == "done" and "result" in after.cells, (where, after.run_status)
            result = json.loads(after.cells["result"][2])
            assert result["recommended"] and result["baseline"], where
            break
        else:
            raise AssertionError(f"optimize {db.name} never completed")
    assert hit == POINTS


# -- measure --------------------------------------------------------------------------------------------------
def _measure_records(db: Path) -> list[tuple[int, str, int | None]]:
    if not db.exists():
        return []
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10.0)
    try:
        rows = con.execute("SELECT id, name, record FROM measurements ORDER BY id")
        return [(i, name, json.loads(rec).get("exit_code")) for i, name, rec in rows]
    except sqlite3.OperationalError:
        return []
    finally:
        con.close()


def test_measure_killed_and_interrupted_at_random_points_never_loses_a_started_commands_record(
    tmp_path: Path,
) -> None:
    env = _env(tmp_path)
    db = tmp_path / "measure.sqlite"
    started = tmp_path / "started.txt"
    expected: dict[str, int | None] = {}  # tag -> the exit code its record must show
    plan = fault_plan("measure", full_run_s=1.8)  # `sleep 1` inside the wrapper: points before, during, after it
    for fault in plan:
        tag = f"point-{fault.index}"
        before = _measure_records(db)
        cmd = f"echo {tag} >> {started}; sleep 1"
        out = run_with_fault(_cli("measure", "--db", str(db), "--quiet", "--", "sh", "-c", cmd), fault, tmp_path, env)
        check_exit(out, fault)
        after = _measure_records(db)
        assert after[: len(before)] == before, f"{fault}: an earlier record was lost or changed"
        ran = tag in started.read_text().split() if started.exists() else False
        mine = [r for r in after[len(before) :] if tag in r[1]]
        assert len(after) - len(before) == len(mine) <= 1, f"{fault}: {after[len(before) :]}"
        if fault.signal == signal.SIGINT and ran:  # the command started: its record exists, whatever happened
            assert len(mine) == 1, f"{fault}: the command ran but no record was saved ({out.stderr[-500:]})"
            assert mine[0][2] in (0, 130), (str(fault), mine[0])
            expected[tag] = mine[0][2]
        elif not ran:
            assert not mine, f"{fault}: a record for a command that never started"
    assert len(expected) >= 5  # the plan reached the measured command often enough to mean something
