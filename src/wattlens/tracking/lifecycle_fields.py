"""Embodied carbon and water of one measured window, for every entry point (``wattlens.measure``,
``@wattlens.measured``, ``wattlens measure``, ``bench``): the switches resolved and checked once, before the work
runs, and the record fields computed from the window's measurement afterwards.

Off by default: the operational ``co2e_g`` users compare is never changed. Switched on, a record gains
``co2e_embodied_g``, ``water_l`` (each with low/high and basis) and ``co2e_total_g``. Giving a service life,
utilisation, host or hardware switches embodied on; giving a WUE switches water on. The method and every default:
docs/LIFECYCLE.md.

>>> from wattlens.carbon import resolve_location
>>> opts = lifecycle_options(embodied=True, lifetime_years=4, location=resolve_location(country="FR"))
>>> opts.embodied, opts.water, opts.amortisation.lifetime_years
(True, False, 4.0)
>>> lifecycle_options(host_share=2.0)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
wattlens.carbon.hardware_footprints.LifecycleError: host share (--host-share) must be in (0, 1] ...
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ENV_EMBODIED = "WATTLENS_EMBODIED"
ENV_WATER = "WATTLENS_WATER"


@dataclass(frozen=True)
class LifecycleOptions:
    """What the user switched on, resolved and validated before anything runs."""

    embodied: bool
    water: bool
    amortisation: Any  # wattlens.carbon.lifecycle.Amortisation | None
    wue: Any  # wattlens.carbon.water.WueSetting | None
    host: str | None
    host_share: float

    @property
    def enabled(self) -> bool:
        return self.embodied or self.water


OFF = LifecycleOptions(False, False, None, None, None, 1.0)


def lifecycle_options(
    *,
    embodied: bool = False,
    water: bool = False,
    lifetime_years: float | None = None,
    utilisation: float | None = None,
    wue: str | float | None = None,
    host: str | None = None,
    host_share: float | None = None,
    hardware: str | None = None,
    location: Any = None,
) -> LifecycleOptions:
    """Validate the lifecycle switches now (a bad value fails before the work runs); raises ``LifecycleError``
    (a ``CarbonError``) naming the bad value. ``WATTLENS_EMBODIED`` / ``WATTLENS_WATER`` switch them on too."""
    from wattlens.carbon.hardware_footprints import LifecycleError, find_hardware
    from wattlens.carbon.lifecycle import env_flag, resolve_amortisation
    from wattlens.carbon.water import resolve_wue

    implies_embodied = any(v is not None for v in (lifetime_years, utilisation, host, host_share, hardware))
    embodied = bool(embodied or implies_embodied or env_flag(ENV_EMBODIED))
    water = bool(water or wue is not None or env_flag(ENV_WATER))
    if not (embodied or water):
        return OFF
    life = resolve_amortisation(lifetime_years, utilisation) if embodied else None
    share = 1.0 if host_share is None else float(host_share)
    if not 0.0 < share <= 1.0:
        raise LifecycleError(
            f"host share (--host-share) must be in (0, 1] (our fraction of the host machine), got {share!r}"
        )
    if host is not None:
        find_hardware(host)  # unknown keys fail now, with suggestions
    wue_setting = resolve_wue(wue, location) if water else None
    return LifecycleOptions(embodied, water, life, wue_setting, host, share)


def measurement_fields(
    opts: LifecycleOptions, measurement: Any, sources: Any, footprint: Any, location: Any
) -> dict[str, Any]:
    """The lifecycle fields of one measured window (empty when nothing is switched on)."""
    if not opts.enabled:
        return {}
    from wattlens.carbon.lifecycle import DeviceUse, embodied_footprint
    from wattlens.carbon.lifecycle_record import record_fields
    from wattlens.carbon.water import water_footprint
    from wattlens.tracking.hardware import used_devices

    embodied = water = None
    if opts.embodied:
        uses = [
            DeviceUse(d.domain, measurement.duration_s, d.name, d.device, d.logical_cpus, d.memory_gb)
            for d in used_devices(measurement, sources)
        ]
        embodied = embodied_footprint(uses, opts.amortisation, host=opts.host, host_share=opts.host_share)
    if opts.water:
        pue = footprint.pue if footprint is not None else 1.0
        water = water_footprint(
            measurement.energy_j, measurement.low_j, measurement.high_j, pue=pue, location=location, wue=opts.wue
        )
    co2e = [getattr(footprint, k, None) for k in ("co2e_g", "co2e_low_g", "co2e_high_g")]
    return dict(record_fields(embodied, water, *co2e))
