"""The JSON API's answers as documentation: the tables of docs/WEB.md, generated from the records like
docs/CONTRACTS.md (``python scripts/contracts.py`` rewrites both; a test fails when either is stale)."""

from __future__ import annotations

from pathlib import Path

from wattlens.records import Record
from wattlens.report import contracts
from wattlens.report.query import GenerationView, GenHiddenCosts, GenPoint
from wattlens.web import pages, views

WEB_SECTIONS: tuple[tuple[str, str, tuple[type[Record], ...]], ...] = (
    ("index", "`GET /api/`", (pages.ApiIndex, pages.Endpoint)),
    ("runs", "`GET /api/runs?kind=`", (views.RunsResponse, views.RunChoice)),
    (
        "leaderboard",
        "`GET /api/leaderboard?run=&task=&device=&precision=&batch=&engine=&status=&offset=&limit=`; rows are "
        "`BenchRow` (docs/CONTRACTS.md)",
        (views.LeaderboardResponse, views.TaskCount, views.FilterValues, views.EnergyPoints, views.StaleNote),
    ),
    (
        "run",
        "`GET /api/run?id=&status=&offset=&limit=`; rows are `BenchRow`, `entry` a `RunEntry` (docs/CONTRACTS.md), "
        "`stale` a `StaleNote`",
        (views.RunResponse, views.EnergyTotals),
    ),
    (
        "timeline",
        "`GET /api/timeline?run=&cell=`; windows are `WindowRow` (docs/CONTRACTS.md)",
        (views.TimelineResponse,),
    ),
    (
        "compare",
        "`GET /api/compare?a=&b=` (two bench runs) or `?machine_a=&machine_b=` (two machines), `&task=`; the "
        "comparison is a `Comparison` (docs/CONTRACTS.md), `stale` a `StaleNote`",
        (views.CompareResponse, views.MachineChoice, views.ComparePoints),
    ),
    (
        "optimize",
        "`GET /api/optimize?run=`; `result` is an `OptimizeResult`, a text-generation run's `generation` a "
        "`GenerationView` whose `result` is a `GenOptimizeResult` (docs/CONTRACTS.md)",
        (views.OptimizeResponse, GenerationView, GenPoint, GenHiddenCosts),
    ),
    (
        "analyze",
        "`GET /api/analyze?run=`; the analysis is an `AnalysisSummary` (docs/CONTRACTS.md)",
        (views.AnalyzeResponse,),
    ),
    ("history", "`GET /api/history?tag=&limit=`: a `History` (docs/CONTRACTS.md)", ()),
)
DOC = Path(__file__).resolve().parents[3] / "docs" / "WEB.md"


def is_current(path: Path = DOC) -> bool:
    return contracts.is_current(path, WEB_SECTIONS)


def write(path: Path = DOC) -> bool:
    return contracts.write(path, WEB_SECTIONS)
