"""Energy units, one home: joules <-> watt-hours <-> kilowatt-hours (<-> megawatt-hours).

Stdlib only and below every layer (``tests/test_layers.py``), so meters, carbon, bench, optimize and report
all convert with the same constants instead of re-declaring ``3600`` or ``3.6e6``.

>>> j_to_wh(7200.0)
2.0
>>> wh_per_1000(0.36)  # 0.36 J per query -> Wh per 1,000 queries
0.1
>>> kwh_to_j(1.0)
3600000.0
>>> kwh_to_wh(0.25)
250.0
"""

from __future__ import annotations

J_PER_WH = 3600.0
WH_PER_KWH = 1000.0
J_PER_KWH = J_PER_WH * WH_PER_KWH  # 3.6e6
KWH_PER_MWH = 1000.0
J_PER_MWH = J_PER_KWH * KWH_PER_MWH  # 3.6e9
QUERIES_PER_THOUSAND = 1000.0  # "per 1,000 queries", the unit of AI Energy Score and PHP leaderboards


def j_to_wh(joules: float) -> float:
    return joules / J_PER_WH


def j_to_kwh(joules: float) -> float:
    return joules / J_PER_KWH


def wh_to_j(wh: float) -> float:
    return wh * J_PER_WH


def kwh_to_wh(kwh: float) -> float:
    return kwh * WH_PER_KWH


def kwh_to_j(kwh: float) -> float:
    return kwh * J_PER_KWH


def wh_per_1000(j_per_query: float) -> float:
    """Wh per 1,000 queries from J per query."""
    return j_per_query * QUERIES_PER_THOUSAND / J_PER_WH


def kwh_per_1000(j_per_query: float) -> float:
    """kWh per 1,000 queries from J per query."""
    return j_per_query * QUERIES_PER_THOUSAND / J_PER_KWH


def wh_per_1000_or_none(j_per_query: float | None) -> float | None:
    """:func:`wh_per_1000`, passing an unknown (None) through as unknown."""
    return None if j_per_query is None else wh_per_1000(j_per_query)


def format_j(joules: float | None) -> str:
    """An energy for people: J below 1 Wh, then Wh, then kWh (4 significant digits); ``n/a`` for unknown.

    >>> format_j(12.5), format_j(7200.0), format_j(None)
    ('12.5 J', '2 Wh', 'n/a')
    """
    if joules is None:
        return "n/a"
    for unit, scale in (("kWh", J_PER_KWH), ("Wh", J_PER_WH)):
        if abs(joules) >= scale:
            return f"{joules / scale:.4g} {unit}"
    return f"{joules:.4g} J"
