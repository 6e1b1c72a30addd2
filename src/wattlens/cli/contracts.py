"""The result records of every layer, for docs/CONTRACTS.md: report's own sections (bench, carbon, optimize,
analyze, results queries) plus those of the layers above report — serving, distributed and web's exports — which
report may not import. The web API's answers have their own document, docs/WEB.md (``wattlens.web.apidoc``).
``scripts/contracts.py`` writes and checks both; ``tests/report/test_contracts.py`` fails when a record of the
package is in neither."""

from __future__ import annotations

from wattlens.distributed import jobs as J
from wattlens.distributed import ray_sweep as RS
from wattlens.distributed import records as D
from wattlens.distributed import topology as T
from wattlens.report.contracts import SECTIONS, Sections
from wattlens.serving import loadtest as L
from wattlens.web.aiesc import ExportResult

UPPER_SECTIONS: Sections = (
    (
        "serving: load tests",
        "`wattlens loadtest URL --json` (the steady-state window's figures, J per request with its basis and "
        "interval; every request's timing in `requests` with `--requests`)",
        (L.LoadTestResult, L.LoadTestConfig, L.RequestRecord),
    ),
    (
        "distributed: one job measured across ranks and nodes",
        "`wattlens.distributed.measure(...)` in every rank of a torchrun / Slurm / MPI job (`.result`), reduced over "
        "the process group; `wattlens measure` under a launcher adds `distributed.plan` (MeterPlan) and "
        "`distributed.rank_share` (RankShare) to its record",
        (D.DistributedResult, D.NodeShare, D.RankShare, D.DomainEnergy, T.MeterPlan, T.Peer, T.AllocationShare),
    ),
    (
        "distributed: a job's parts in the store",
        "`wattlens results --job JOB_ID --json` (each node's or rank's part under one job id, summed; a node that "
        "did not report is missing, never 0)",
        (J.JobView, J.JobNode, J.JobPart),
    ),
    (
        "distributed: Ray sweeps",
        "`wattlens bench --ray ADDRESS`: where each cell ran (`info.executor` of the cell's result), the cluster, "
        "and what a cell task returns to the driver",
        (RS.CellAttempt, RS.ClusterInfo, RS.CellReport),
    ),
    (
        "web: exports",
        "`wattlens export --aiesc|--mlenergy RUN_ID DIR` (`wattlens.web.aiesc.export_aiesc`, "
        "`wattlens.web.mlenergy.export_mlenergy`): what an export wrote",
        (ExportResult,),
    ),
)

ALL_SECTIONS: Sections = (*SECTIONS, *UPPER_SECTIONS)
