"""Carbon intensity (countries, cloud regions), PUE and price -> :class:`Footprint`, every choice stated.

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
    J_PER_KWH,
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
    "CarbonError",
    "Footprint",
    "Location",
    "PriceSetting",
    "PueDefault",
    "PueSetting",
    "cloud_regions",
    "countries",
    "footprint",
    "project_yearly",
    "provider_pue",
    "pue_defaults",
    "resolve_location",
    "resolve_price",
    "resolve_pue",
    "validate_intensity",
    "validate_pue",
    "world_location",
]
