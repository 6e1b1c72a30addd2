"""Carbon intensity (countries, cloud regions), PUE and price -> :class:`Footprint`, every choice stated;
embodied carbon of hardware and water per kWh (:mod:`~wattlens.carbon.lifecycle`, :mod:`~wattlens.carbon.water`).

>>> from wattlens.carbon import resolve_location, footprint
>>> fp = footprint(3.6e6, location=resolve_location(country="FR", use_env=False), pue=1.2, use_env=False)
>>> round(fp.co2e_g, 3), fp.pue, fp.cost
(53.016, 1.2, None)

Only stdlib modules are imported here; the CSV tables are read on first use.
"""

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
from wattlens.carbon.hardware_footprints import HardwareFootprint, LifecycleError, find_hardware, match_gpu
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
from wattlens.carbon.lifecycle import (
    Amortisation,
    DeviceUse,
    EmbodiedFootprint,
    embodied_footprint,
    resolve_amortisation,
)
from wattlens.carbon.lifecycle_record import record_fields
from wattlens.carbon.water import WaterFootprint, resolve_wue, water_footprint
from wattlens.units import J_PER_KWH

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
