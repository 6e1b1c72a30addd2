"""Fixtures of the distributed tests: a real local Ray cluster (head + one worker node) on 127.0.0.1, and the
loopback PostgreSQL server (``WATTLENS_TEST_PG_URL``; skipped locally without it, a failure on CI)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

PG_ENV = "WATTLENS_TEST_PG_URL"
# Ray turns 127.0.0.1 into the machine's outward address unless multi-node support is off for this platform
# (ray._private.services.get_node_ip_address); off, every Ray process of the test cluster binds and dials
# loopback only. ray.cluster_utils.Cluster then starts the head and the worker node as separate raylets.
RAY_LOOPBACK_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}


def pg_url() -> str:
    url = os.environ.get(PG_ENV)
    if not url:
        if os.environ.get("CI"):
            pytest.fail(f"{PG_ENV} is not set on CI: the Ray sweep test must run against PostgreSQL")
        pytest.skip(f"{PG_ENV} not set (scripts/pg.sh start)")
    return url


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[str]:
    """A two-node Ray cluster on this machine (1 CPU each); always shut down (its own processes, by handle)."""
    saved = {k: os.environ.get(k) for k in RAY_LOOPBACK_ENV}
    os.environ.update(RAY_LOOPBACK_ENV)  # before ray is imported: it reads them once, at import
    pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, connect=False, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes(timeout=90)
        assert cluster.address.startswith("127.0.0.1:"), cluster.address
        yield cluster.address
    finally:
        cluster.shutdown()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
