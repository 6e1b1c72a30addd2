"""Report layer: terminal leaderboards, matplotlib figures and self-contained HTML reports.

Importing this package is cheap: rich and matplotlib are imported only inside the functions that
draw (``wattlens.report.figures`` uses the Agg backend and never opens a window).

>>> from wattlens.report import leaderboard_table
>>> print(leaderboard_table([{"task": "t", "model": "m", "status": "ok", "j_per_query": 1.0}], width=120))
... # doctest: +SKIP
"""

from __future__ import annotations

from wattlens.report.htmlreport import write_bench_html, write_generation_html, write_optimize_html
from wattlens.report.tables import generation_summary, leaderboard_table, optimize_table

__all__ = [
    "generation_summary",
    "leaderboard_table",
    "optimize_table",
    "write_bench_html",
    "write_generation_html",
    "write_optimize_html",
]
