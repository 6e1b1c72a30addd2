"""Ray sweep: per-cell dispatch overhead and the speed-up from 1 to 2 Ray worker nodes (issue 11).

    WATTLENS_TEST_PG_URL=$(scripts/pg.sh url) .venv/bin/python benchmarks/ray_sweep.py [--cells 8] [--spin-s 0.05]

What it does, on this machine: starts a real Ray cluster on 127.0.0.1 (``ray.cluster_utils.Cluster``: a head
node of 1 CPU), runs a suite of CPU-bound callable cells with ``wattlens.distributed.ray_sweep.execute_on_ray``
(the code path of ``wattlens bench --ray``: a placement group of one bundle per node, one Ray task per cell, the
worker measuring the cell and writing it to PostgreSQL), adds a second worker node, and runs the same suite again
as a new run. The same suite also runs in-process without Ray (``bench.execute.execute``) as the anchor.

Figures:
* dispatch overhead per cell = (sweep wall time on 1 node - sum of the cells' own time) / cells — everything Ray
  and the store add around a cell (scheduling, worker start-up on first use, the "running" marker, the writes).
  Target <= 1 s.
* speed-up = wall time on 1 node / wall time on 2 nodes (ideal 2; on this 2-core VM the two nodes share the
  cores with everything else running).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.update({"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"})  # loopback only


def _suite(cells: int, tmp: Path) -> object:
    from wattlens.bench.suites import load_suite

    text = f"""
[suite]
name = "ray-sweep-bench"
queries = 4
repeats = 3
warmup = 1
min_window_s = 0.3
idle_s = 0.1
phases = false
quality = false

[[task]]
name = "text-classification"
models = ["{ROOT / "tests" / "distributed" / "ray_cells.py"}:classify"]
engine = ["callable"]
batch = [{", ".join(str(b) for b in range(1, cells + 1))}]
"""
    path = tmp / "suite.toml"
    path.write_text(text, encoding="utf-8")
    return load_suite(str(path))


def _cell_seconds(store: object, run_id: str) -> float:
    return sum(float((c.get("result") or {}).get("cell_s") or 0.0) for c in store.cells(run_id))  # type: ignore[attr-defined]


def _sweep(store: object, url: str, suite: object, address: str) -> tuple[float, float]:
    from wattlens.bench.execute import start_run
    from wattlens.distributed.ray_sweep import execute_on_ray

    run_id = start_run(store, suite, run_id=f"ray-bench-{uuid.uuid4().hex[:8]}")
    t0 = time.perf_counter()
    summary = execute_on_ray(store, url, run_id, suite, address=address)
    wall = time.perf_counter() - t0
    assert summary.counts.get("ok") == len(suite.cells), summary.counts  # type: ignore[attr-defined]
    return wall, _cell_seconds(store, run_id)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cells", type=int, default=8)
    ap.add_argument("--spin-s", type=float, default=0.05, help="CPU seconds per query of each cell")
    ap.add_argument("--db", default=os.environ.get("WATTLENS_TEST_PG_URL"), help="PostgreSQL URL (shared store)")
    args = ap.parse_args()
    if not args.db:
        print("give --db postgresql://... or set WATTLENS_TEST_PG_URL (scripts/pg.sh url)", file=sys.stderr)
        return 2
    os.environ["WATTLENS_TEST_SPIN_S"] = str(args.spin_s)
    import ray
    from ray.cluster_utils import Cluster

    from wattlens.bench.execute import execute, start_run
    from wattlens.store import open_store
    from wattlens.store.db import normalise_url

    url = normalise_url(args.db)
    store = open_store(url)
    tmp = Path(tempfile.mkdtemp(prefix="ray-bench-"))
    suite = _suite(args.cells, tmp)
    load0 = os.getloadavg()[0]

    run_id = start_run(store, suite, run_id=f"local-bench-{uuid.uuid4().hex[:8]}")
    t0 = time.perf_counter()
    execute(store, run_id, suite)
    local_wall = time.perf_counter() - t0
    local_cells = _cell_seconds(store, run_id)

    cluster = Cluster(initialize_head=True, connect=False, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        cluster.wait_for_nodes(timeout=90)
        wall1, cells1 = _sweep(store, url, suite, cluster.address)
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes(timeout=90)
        ray.shutdown()  # the next sweep joins again and sees both nodes
        wall2, cells2 = _sweep(store, url, suite, cluster.address)
    finally:
        ray.shutdown()
        cluster.shutdown()
        store.close()
    n = args.cells
    overhead = (wall1 - cells1) / n
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; load {load0:.2f} -> "
        f"{os.getloadavg()[0]:.2f} (1-min average); Python {platform.python_version()}; ray {ray.__version__}"
    )
    print(f"suite: {n} cells, {args.spin_s:g} CPU s per query, cells' own time {cells1 / n:.2f} s each (1 node)")
    print(
        f"in-process (no Ray):        {local_wall:6.2f} s  "
        f"({(local_wall - local_cells) / n:.3f} s per cell outside cells)"
    )
    print(f"Ray, 1 worker node:         {wall1:6.2f} s  dispatch overhead {overhead:.3f} s per cell (target <= 1 s)")
    print(f"Ray, 2 worker nodes:        {wall2:6.2f} s  ({cells2 / n:.2f} s per cell inside: the nodes share 2 cores)")
    print(f"speed-up 1 -> 2 nodes:      {wall1 / wall2:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
