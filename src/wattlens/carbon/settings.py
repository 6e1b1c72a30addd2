"""Location, PUE and price resolved once, so that bad input fails before the user's code runs.

>>> from wattlens.carbon.settings import CarbonSettings
>>> c = CarbonSettings(country="FR", pue=1.2)
>>> fp = c.footprint_of(3.6e6, 3.0e6, 4.0e6)
>>> round(fp.co2e_g, 3), fp.pue
(53.016, 1.2)

Used by ``wattlens.measure``, the CLI and the integrations (callbacks, pytest plugin, IPython magic):
one place turns user arguments into the footprint settings of every figure they log.
"""

from __future__ import annotations

from typing import Any

from wattlens.carbon.footprint import Footprint, resolve_price, resolve_pue
from wattlens.carbon.intensity import resolve_location


class CarbonSettings:
    """Where the electricity comes from, the PUE and the price, checked at construction.

    Raises :class:`wattlens.carbon.CarbonError` (naming what is allowed) for an unknown country or
    region, a PUE outside [1.0, 3.0] or a negative price. Nothing given: the world average and PUE 1.0,
    both stated in every footprint.
    """

    def __init__(
        self,
        country: str | None = None,
        region: str | None = None,
        intensity_g_per_kwh: float | None = None,
        pue: float | str | None = None,
        price_per_kwh: float | None = None,
        currency: str | None = None,
    ) -> None:
        self.location = resolve_location(country=country, region=region, intensity_g_per_kwh=intensity_g_per_kwh)
        self.pue = resolve_pue(pue, self.location)
        resolve_price(price_per_kwh, currency)  # validate now; footprint() resolves it again (cheap)
        self.price_per_kwh = price_per_kwh
        self.currency = currency

    def footprint_of(self, energy_j: float | None, low_j: float | None, high_j: float | None) -> Footprint:
        """The footprint of a node-energy figure with its interval (may raise CarbonError on bad numbers)."""
        from wattlens.carbon import footprint  # looked up at call time: the package's name is the one seam

        return footprint(
            energy_j,
            low_j,
            high_j,
            location=self.location,
            pue=self.pue,
            price_per_kwh=self.price_per_kwh,
            currency=self.currency,
        )

    def footprint(self, m: Any) -> Footprint | None:
        """The footprint of a measurement (``energy_j``, ``low_j``, ``high_j``, ``notes``); ``None`` and a note
        on ``m`` if it cannot be computed — never an exception out of the user's code for a meter oddity."""
        try:
            return self.footprint_of(m.energy_j, m.low_j, m.high_j)
        except Exception as exc:  # a non-finite or inverted reading must not break the user's code
            m.notes.append(f"carbon footprint unavailable: {type(exc).__name__}: {exc}")
            return None


__all__ = ["CarbonSettings"]
