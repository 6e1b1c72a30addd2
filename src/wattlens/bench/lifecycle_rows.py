"""Lifecycle figures of a bench row, per 1,000 queries: amortised embodied CO2e of the device and water.

One function, :func:`lifecycle_per_1000`, adds to a leaderboard row (built by :mod:`wattlens.bench.results`)
the keys ``co2e_embodied_g_per_1000`` (+ ``_low``/``_high``), ``co2e_total_g_per_1000`` (+ ``_low``/``_high``),
``water_l_per_1000`` (+ ``_low``/``_high``), ``embodied_basis``, ``water_basis`` and the details ``embodied``
and ``water`` — when the run (or ``wattlens results``) asked for them. The operational ``co2e_g_per_1000``
is not touched. Device time per 1,000 queries = 1,000 / throughput (the cell held its device while serving);
the device is the cell's (``cpu`` -> the CPU threads used and the memory; ``cuda:N`` -> that GPU, named by
the driver when the run recorded it). Method: docs/LIFECYCLE.md.
"""

from __future__ import annotations

from typing import Any

from wattlens.carbon.lifecycle import DeviceUse, embodied_footprint, resolve_amortisation
from wattlens.carbon.lifecycle_record import record_fields
from wattlens.carbon.water import resolve_wue, water_footprint
from wattlens.meters.cpu import normalise_model_name

PER = 1000.0
_SCALED = (
    "co2e_embodied_g",
    "co2e_embodied_low_g",
    "co2e_embodied_high_g",
    "co2e_total_g",
    "co2e_total_low_g",
    "co2e_total_high_g",
    "water_l",
    "water_low_l",
    "water_high_l",
)


def _row_key(key: str) -> str:
    """co2e_embodied_low_g -> co2e_embodied_g_per_1000_low (the leaderboard's naming, as co2e_g_per_1000_low)."""
    for bound in ("_low", "_high"):
        if bound in key:
            return key.replace(bound, "") + "_per_1000" + bound
    return key + "_per_1000"


def _devices(row: dict[str, Any], env: dict[str, Any], busy_s: float) -> list[DeviceUse]:
    device = str((row.get("config") or {}).get("device") or "cpu")
    if device.startswith("cuda"):
        gpus = env.get("gpus") or {}
        index = device.partition(":")[2] or "0"
        names = sorted(set(gpus.values()))
        name = gpus.get(index) or (names[0] if len(names) == 1 else None)  # one GPU model: no ambiguity
        return [DeviceUse("gpu", busy_s, name=name, device=index)]
    if device == "mps":
        return [DeviceUse("soc", busy_s, name=normalise_model_name(env.get("cpu") or ""))]
    threads = row.get("threads_used") or (row.get("config") or {}).get("threads") or env.get("logical_cpus")
    cpu = DeviceUse("cpu", busy_s, name=normalise_model_name(env.get("cpu") or "") or None, logical_cpus=threads)
    return [cpu, DeviceUse("memory", busy_s, memory_gb=env.get("memory_gb"))]


def lifecycle_per_1000(
    row: dict[str, Any], settings: dict[str, Any] | None, carbon: dict[str, Any], loc: Any, env: dict[str, Any]
) -> dict[str, Any]:
    """The lifecycle keys of one row (empty when neither embodied nor water was asked for).

    ``settings``: ``{"embodied": bool, "water": bool, "lifetime_years", "utilisation", "wue", "host",
    "host_share"}`` as stored with the run. Never raises for a row: a problem becomes ``lifecycle_note``.
    """
    s = settings or {}
    if not (s.get("embodied") or s.get("water")):
        return {}
    try:
        embodied = water = None
        qps, jpq = row.get("throughput_qps"), row.get("j_per_query")
        if s.get("embodied") and qps:
            life = resolve_amortisation(s.get("lifetime_years"), s.get("utilisation"), use_env=False)
            busy = PER / float(qps)
            embodied = embodied_footprint(
                _devices(row, env, busy), life, host=s.get("host"), host_share=s.get("host_share") or 1.0, use_env=False
            )
        if s.get("water") and jpq is not None:
            lo, hi = row.get("j_per_query_low"), row.get("j_per_query_high")
            water = water_footprint(
                jpq * PER,
                None if lo is None else max(min(lo, jpq), 0.0) * PER,  # a net interval may dip below 0
                None if hi is None else max(hi, jpq) * PER,
                pue=row.get("pue") or 1.0,
                location=loc,
                wue=resolve_wue(s.get("wue"), loc, use_env=False),
            )
        fields = record_fields(
            embodied,
            water,
            row.get("co2e_g_per_1000"),
            row.get("co2e_g_per_1000_low"),
            row.get("co2e_g_per_1000_high"),
        )
    except Exception as exc:  # one row's lifecycle problem must not hide the leaderboard
        return {"lifecycle_note": f"lifecycle figures unavailable: {type(exc).__name__}: {exc}"}
    out = {(_row_key(k) if k in _SCALED else k): v for k, v in fields.items()}
    if s.get("embodied") and embodied is None:
        out["embodied_basis"] = "unavailable: no throughput measured for this cell (device time unknown)"
    return out
