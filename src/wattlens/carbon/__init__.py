"""Carbon intensity (countries, cloud regions), PUE and price -> :class:`Footprint`, every choice stated;
embodied carbon of hardware and water per kWh (:mod:`~wattlens.carbon.lifecycle`, :mod:`~wattlens.carbon.water`).

>>> from wattlens.carbon import resolve_location, footprint
>>> fp = footprint(3.6e6, location=resolve_location(country="FR", use_env=False), pue=1.2, use_env=False)
>>> round(fp.co2e_g, 3), fp.pue, fp.cost
(53.016, 1.2, None)

Only stdlib modules are imported here; the CSV tables are read on first use.
"""

from wattlens._lazy import lazy_getattr
from wattlens.carbon.footprint import (
    COST_NOT_SET,
    ENV_CURRENCY,
    ENV_PRICE,
    ENV_PUE,
    Footprint,
    PriceSetting,
    PueSetting,
    footprint,
    project_yearly,
    resolve_price,
    resolve_pue,
)
from wattlens.carbon.intensity import (
    DEFAULT_PUE,
    ENV_COUNTRY,
    ENV_REGION,
    PROVIDERS,
    PUE_MAX,
    PUE_MIN,
    CarbonError,
    Location,
    PueDefault,
    cloud_regions,
    countries,
    provider_pue,
    pue_defaults,
    resolve_location,
    validate_intensity,
    validate_pue,
    world_location,
)
from wattlens.units import J_PER_KWH

# The lifecycle modules (embodied carbon, water) are loaded on first use of one of their names: importing them
# costs ~15 ms (statistics, their tables' classes), which every `wattlens measure` would otherwise pay for
# figures that are off by default (benchmarks/measure_overhead.py: the wrapper's added wall time).
_LAZY = {
    **{n: "wattlens.carbon.hardware_footprints" for n in ("HardwareFootprint", "LifecycleError", "find_hardware")},
    "match_gpu": "wattlens.carbon.hardware_footprints",
    **{
        n: "wattlens.carbon.lifecycle"
        for n in ("Amortisation", "DeviceUse", "EmbodiedFootprint", "embodied_footprint", "resolve_amortisation")
    },
    "record_fields": "wattlens.carbon.lifecycle_record",
    **{n: "wattlens.carbon.water" for n in ("WaterFootprint", "resolve_wue", "water_footprint")},
}
__getattr__ = lazy_getattr(__name__, _LAZY, globals())

TYPE_CHECKING = False
if TYPE_CHECKING:  # for type checkers and IDEs: the lazily exported names
    from wattlens.carbon.hardware_footprints import (
        HardwareFootprint,
        LifecycleError,
        find_hardware,
        match_gpu,
    )
    from wattlens.carbon.lifecycle import (
        Amortisation,
        DeviceUse,
        EmbodiedFootprint,
        embodied_footprint,
        resolve_amortisation,
    )
    from wattlens.carbon.lifecycle_record import record_fields
    from wattlens.carbon.water import WaterFootprint, resolve_wue, water_footprint

__all__ = [
    "COST_NOT_SET",
    "DEFAULT_PUE",
    "ENV_COUNTRY",
    "ENV_CURRENCY",
    "ENV_PRICE",
    "ENV_PUE",
    "ENV_REGION",
    "J_PER_KWH",
    "PROVIDERS",
    "PUE_MAX",
    "PUE_MIN",
    "Amortisation",
    "CarbonError",
    "DeviceUse",
    "EmbodiedFootprint",
    "Footprint",
    "HardwareFootprint",
    "LifecycleError",
    "Location",
    "PriceSetting",
    "PueDefault",
    "PueSetting",
    "WaterFootprint",
    "cloud_regions",
    "countries",
    "embodied_footprint",
    "find_hardware",
    "footprint",
    "match_gpu",
    "project_yearly",
    "provider_pue",
    "pue_defaults",
    "record_fields",
    "resolve_amortisation",
    "resolve_location",
    "resolve_price",
    "resolve_pue",
    "resolve_wue",
    "validate_intensity",
    "validate_pue",
    "water_footprint",
    "world_location",
]
