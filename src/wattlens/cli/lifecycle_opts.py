"""The lifecycle options shared by ``measure``, ``project`` (and ``bench``): embodied carbon and water.

Off by default: the operational ``co2e_g`` users compare is never changed. ``--embodied`` / ``--water``
(or ``WATTLENS_EMBODIED=1`` / ``WATTLENS_WATER=1``) add ``co2e_embodied_g``, ``water_l`` (each with low/high
and basis) and ``co2e_total_g``. Giving a service life, utilisation or host switches embodied on; giving a
WUE switches water on. The method and every default: docs/LIFECYCLE.md.
"""

from __future__ import annotations

import argparse
from typing import Any

from wattlens.cli import options as opt
from wattlens.tracking.lifecycle_fields import (  # noqa: F401 - re-exported for the commands
    ENV_EMBODIED,
    ENV_WATER,
    LifecycleOptions,
    lifecycle_options,
    measurement_fields,
)


def add_lifecycle_args(p: argparse.ArgumentParser, *, hardware: bool = False) -> None:
    """``--embodied --water --lifetime-years --utilisation --wue --host --host-share`` (and, for ``project``,
    ``--hardware --device-seconds-per-query``)."""
    g = p.add_argument_group("lifecycle: embodied carbon and water (off by default; see docs/LIFECYCLE.md)")
    g.add_argument("--embodied", action="store_true", help="add the amortised embodied CO2e of the hardware used")
    g.add_argument("--water", action="store_true", help="add the water consumed on site (cooling) and off site (power)")
    g.add_argument(
        "--lifetime-years",
        type=opt.Float(0, 50, lo_open=True),
        metavar="Y",
        help="service life of the hardware (default 5, range 4-6, sourced)",
    )
    g.add_argument(
        "--utilisation",
        "--utilization",
        type=opt.Float(0, 1, lo_open=True),
        metavar="U",
        help="fraction of the service life spent on work, (0, 1] (default 1: idle time not charged)",
    )
    g.add_argument(
        "--wue", metavar="L_PER_KWH|PROVIDER", help="on-site water usage effectiveness, or aws/gcp/azure/..."
    )
    g.add_argument("--host", metavar="KEY", help="the machine: a server/laptop key or generic-rack-server-platform")
    g.add_argument(
        "--host-share",
        type=opt.Float(0, 1, lo_open=True),
        metavar="F",
        help="our share of the host, (0, 1] (e.g. a VM's part)",
    )
    if hardware:
        g.add_argument("--hardware", metavar="KEY", help="the device serving the queries (h100, b200, l4, ...)")
        g.add_argument(
            "--device-seconds-per-query",
            type=opt.Float(0, lo_open=True),
            metavar="S",
            help="device time per query (1/throughput from wattlens bench); default: J/query / the device's TDP",
        )


def resolve_lifecycle(args: argparse.Namespace, location: Any) -> LifecycleOptions:
    """Validate the lifecycle flags now (a bad value fails before the command runs); raises CarbonError."""
    return lifecycle_options(
        embodied=bool(getattr(args, "embodied", False)),
        water=bool(getattr(args, "water", False)),
        lifetime_years=getattr(args, "lifetime_years", None),
        utilisation=getattr(args, "utilisation", None),
        wue=getattr(args, "wue", None),
        host=getattr(args, "host", None),
        host_share=getattr(args, "host_share", None),
        hardware=getattr(args, "hardware", None),
        location=location,
    )


def fmt_grams(v: float | None) -> str:
    """g / kg / t with 4 significant digits; n/a for unknown."""
    if v is None:
        return "n/a"
    return f"{v / 1e6:.4g} t" if abs(v) >= 1e6 else (f"{v / 1e3:.4g} kg" if abs(v) >= 1e3 else f"{v:.4g} g")


def _l(v: float | None) -> str:
    if v is None:
        return "n/a"
    return f"{v / 1e3:.4g} m³" if abs(v) >= 1e3 else (f"{v:.4g} L" if abs(v) >= 0.1 else f"{v * 1e3:.4g} mL")


def human_lines(rec: dict[str, Any], unit: str = "") -> list[str]:
    """Table lines for the lifecycle fields of a record (embodied per device, total, water)."""
    rows: list[str] = []
    g = fmt_grams
    emb = rec.get("embodied")
    if emb is not None:
        life = emb["amortisation"]["text"]
        partial = "" if emb["complete"] else " (partial: see unavailable below)"
        if rec.get("co2e_embodied_g") is None:
            rows.append(f"  embodied    unavailable{unit} — {life}")
        else:
            rows.append(
                f"  embodied    {g(rec['co2e_embodied_g'])} CO2e{unit} [{g(rec['co2e_embodied_low_g'])}, "
                f"{g(rec['co2e_embodied_high_g'])}]{partial} — {life}"
            )
        for d in emb["devices"]:
            if d["status"] == "counted":
                rows.append(
                    f"    {d['label']:<10}{g(d['co2e_g']):>12}  {d['hardware']} ({d['basis']}, {d['boundary']}; "
                    f"{d['embodied_kg']:.4g} kg [{d['embodied_low_kg']:.4g}, {d['embodied_high_kg']:.4g}])"
                )
            else:
                rows.append(f"    {d['label']:<10}{d['status']:>12}  {d['reason']}")
        if rec.get("co2e_total_g") is not None:
            rows.append(
                f"  total CO2e  {g(rec['co2e_total_g'])}{unit} [{g(rec['co2e_total_low_g'])}, "
                f"{g(rec['co2e_total_high_g'])}] = operational + embodied"
            )
    water = rec.get("water")
    if water is not None:
        if rec.get("water_l") is None:
            rows.append(f"  water       unavailable{unit} (energy unknown)")
        else:
            rows.append(
                f"  water       {_l(rec['water_l'])}{unit} [{_l(rec['water_low_l'])}, {_l(rec['water_high_l'])}]: "
                f"on-site {_l(water['onsite_l'])} + off-site {_l(water['offsite_l'])} — {rec['water_basis']}"
            )
        for note in (water["wue"]["note"], water["offsite"]["note"]):
            rows.append(f"    {note}")
    return rows


# --- project --------------------------------------------------------------------------------------------


def _tdp_w(hardware: str) -> tuple[float, str] | None:
    """The TDP of the analyze hardware profile with this name (sourced in hardware_profiles.csv), if any."""
    from wattlens.analyze import profiles

    try:
        prof = profiles.get_profile(hardware)
    except KeyError:
        return None
    if not prof.tdp_w:
        return None
    return float(prof.tdp_w), f"TDP {prof.tdp_w:g} W of hardware profile {prof.name} (docs/HARDWARE.md)"


def device_seconds_per_query(args: argparse.Namespace, j_per_query: float) -> tuple[float, str]:
    """Device time per query: given, or J/query / TDP (a lower bound: a device drawing less takes longer)."""
    from wattlens.carbon.hardware_footprints import LifecycleError

    given = getattr(args, "device_seconds_per_query", None)
    if given is not None:
        if not (given > 0 and given == given and given != float("inf")):
            raise LifecycleError(f"--device-seconds-per-query must be a finite number > 0, got {given!r}")
        return float(given), f"{given:g} s of device time per query (given by the user)"
    tdp = _tdp_w(args.hardware)
    if tdp is None:
        raise LifecycleError(
            f"no TDP known for --hardware {args.hardware!r} to turn J/query into device time: pass "
            "--device-seconds-per-query (1 / throughput per device, e.g. from wattlens bench)"
        )
    return j_per_query / tdp[0], (
        f"{j_per_query:g} J/query / {tdp[1]}: a lower bound on device time (the device is assumed at full power "
        "while serving); pass --device-seconds-per-query for a measured figure"
    )


def project_fields(opts: LifecycleOptions, args: argparse.Namespace, yearly: dict[str, Any], location: Any) -> dict:
    """Lifecycle fields of a yearly projection: embodied CO2e and water per year and per query."""
    if not opts.enabled:
        return {}
    from wattlens.carbon.hardware_footprints import HOST_KINDS, LifecycleError, find_hardware
    from wattlens.carbon.lifecycle import DeviceUse, embodied_footprint
    from wattlens.carbon.lifecycle_record import record_fields
    from wattlens.carbon.water import water_footprint

    queries = yearly["queries_per_year"]
    out: dict[str, Any] = {}
    embodied = water = None
    if opts.embodied:
        if not getattr(args, "hardware", None):
            raise LifecycleError("embodied carbon of a projection needs --hardware (the device serving the queries)")
        row = find_hardware(args.hardware)
        s_per_q, s_basis = device_seconds_per_query(args, yearly["j_per_query"])
        busy = queries * s_per_q
        if row.kind in HOST_KINDS:
            embodied = embodied_footprint(
                [], opts.amortisation, host=row.key, host_share=opts.host_share, host_busy_s=busy
            )
        else:
            uses = [DeviceUse("hardware", busy, name=row.key)]
            embodied = embodied_footprint(uses, opts.amortisation, host=opts.host, host_share=opts.host_share)
        out.update({"hardware": row.key, "device_seconds_per_query": s_per_q, "device_seconds_basis": s_basis})
    if opts.water:
        fp = yearly["footprint"]
        water = water_footprint(
            fp["energy_j"], fp["low_j"], fp["high_j"], pue=fp["pue"], location=location, wue=opts.wue
        )
    g = [
        None if yearly.get(k) is None else yearly[k] * 1e6
        for k in ("tco2e_per_year", "tco2e_per_year_low", "tco2e_per_year_high")
    ]
    fields = record_fields(embodied, water, *g)
    out.update(fields)
    out["lifecycle_period"] = "year"  # co2e_embodied_g, water_l, co2e_total_g above are totals for a year
    per_query = {k: fields.get(k) for k in ("co2e_embodied_g", "water_l", "co2e_total_g")}
    for key, value in per_query.items():
        if key in fields:
            out[f"{key}_per_query"] = None if value is None or not queries else value / queries
    return out


# --- wattlens hardware --lifecycle ------------------------------------------------------------------------


class _NoFigure(Exception):
    """A known hardware profile with no embodied figure: shown as unavailable, with the reason."""


def _lifecycle_row(name: str) -> Any:
    """A lifecycle row by its own key/alias, else through the analyze profile's canonical name (a100 -> ...)."""
    from wattlens.analyze import profiles
    from wattlens.carbon.hardware_footprints import LifecycleError, find_hardware

    try:
        return find_hardware(name)
    except LifecycleError as unknown:
        try:
            canonical = profiles.resolve_name(name)
        except KeyError:
            raise unknown from None
        try:
            return find_hardware(canonical)
        except LifecycleError:
            raise _NoFigure(
                f"{canonical}: embodied carbon unavailable — no manufacturer PCF, published LCA or sourced die-area "
                "estimate for it in embodied_hardware.csv (docs/LIFECYCLE.md says how to add one)"
            ) from None


def run_hardware_lifecycle(args: argparse.Namespace) -> int:
    """``wattlens hardware [NAME] --lifecycle``: the embodied figures, their boundaries and sources."""
    import json
    import sys

    from wattlens.carbon.hardware_footprints import hardware_table
    from wattlens.carbon.intensity import CarbonError
    from wattlens.carbon.lifecycle import hardware_lifecycle, resolve_amortisation

    try:
        life = resolve_amortisation(args.lifetime_years, args.utilisation)
        if not args.name:
            rows = [r.to_dict() for r in hardware_table()]
            if args.json:
                print(json.dumps({"hardware": rows, "amortisation": life.to_dict()}, indent=1))
                return 0
            print(f"{'key':<46}{'kind':<22}{'kg CO2e':>10}  {'[low, high]':<22}{'boundary':<16}basis")
            for r in hardware_table():
                iv = f"[{r.low_kg:.4g}, {r.high_kg:.4g}]"
                print(f"{r.key:<46}{r.kind:<22}{r.embodied_kg:>10.4g}  {iv:<22}{r.boundary:<16}{r.basis}")
            print(
                f"\n{len(rows)} rows; one in full with its source: wattlens hardware KEY --lifecycle; "
                "method: docs/LIFECYCLE.md"
            )
            return 0
        d = hardware_lifecycle(_lifecycle_row(args.name).key, life)
    except _NoFigure as exc:
        print(json.dumps({"hardware": args.name, "status": "unavailable", "reason": str(exc)}) if args.json else exc)
        return 0
    except CarbonError as exc:
        print(f"wattlens hardware: error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(d, indent=1))
        return 0
    print(_lifecycle_text(d))
    return 0


def _lifecycle_text(d: dict[str, Any]) -> str:
    h = d["hardware"]
    lines = [
        f"{h['name']} ({h['key']}, {h['kind']})",
        f"  embodied     {h['embodied_kg']:.4g} kg CO2e [{h['low_kg']:.4g}, {h['high_kg']:.4g}]",
        f"  boundary     {h['boundary']}; scope: {h['scope']}",
        f"  basis        {h['basis']}" + (f" ({h['year']})" if h.get("year") else ""),
        f"  range        {h['range_basis']}",
    ]
    if h.get("lifecycle_total_kg") is not None:
        lines.append(
            f"  lifecycle    {h['lifecycle_total_kg']:.4g} kg CO2e in the PCF; "
            f"manufacturing share {h['manufacturing_share']:g}"
        )
    lines += [f"  source       {h['source']}", f"  url          {h['url']}", f"  via          {h['via']}"]
    if h.get("notes"):
        lines.append(f"  notes        {h['notes']}")
    lines.append(
        f"  amortised    {d['per_device_hour_g']:.4g} g CO2e per device-hour [{d['per_device_hour_low_g']:.4g}, "
        f"{d['per_device_hour_high_g']:.4g}] — {d['amortisation']['text']}"
    )
    for r in d["related"]:
        lines.append(f"  derived from {r['name']}: {r['embodied_kg']:.4g} kg CO2e for {r['units']} GPUs ({r['key']})")
    lines.append("  not counted: end of life, networking, cooling plant, the data-centre building (docs/LIFECYCLE.md)")
    return "\n".join(lines)
