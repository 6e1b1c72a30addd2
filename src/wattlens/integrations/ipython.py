"""``%%wattlens``: measure a Jupyter/IPython cell and print its labelled energy, carbon and interval.

::

    %load_ext wattlens

    %%wattlens --country FR
    model.fit(x, y)

prints the cell's energy per component with source (measured / integrated / estimated), method and
[low, high], the node and facility figures, gCO2e with the intensity and PUE used — and keeps the result in the
variable ``_wattlens`` (``--var NAME`` to choose). Options: ``--name``, ``--country``, ``--region``,
``--intensity``, ``--pue``, ``--price-per-kwh``, ``--currency``, ``--attribution machine|process``,
``--json`` (the record as JSON), ``--var``. An unknown option or a bad value is an error naming what is
allowed; the cell then does not run. An exception in the cell is shown as usual, and the measurement still
printed (noted as raised).
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from wattlens.integrations.errors import missing_extra

try:
    from IPython.core.error import UsageError
    from IPython.core.magic import Magics, cell_magic, magics_class
    from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
    from IPython.display import Pretty, display
except ImportError as _exc:  # pragma: no cover - depends on the environment
    raise missing_extra("IPython", "dev", _exc) from _exc

ATTRIBUTIONS = ("machine", "process")
OPTIONS = (
    "--name NAME, --country CODE, --region PROVIDER:REGION, --intensity G_PER_KWH, --pue PUE, "
    "--price-per-kwh PRICE, --currency CUR, --attribution machine|process, --json, --var NAME"
)


@magics_class
class WattlensMagics(Magics):  # type: ignore[misc]
    """The ``%%wattlens`` cell magic; one Monitor per attribution, kept for the session (no thread between cells)."""

    def __init__(self, shell: Any) -> None:
        super().__init__(shell)
        self._monitors: dict[str, Any] = {}
        self._cells = 0

    @magic_arguments()
    @argument("--name", default=None, help="name of the measurement (default: cell N)")
    @argument("--country", default=None, help="ISO code or name of the grid (FR, FRA, France)")
    @argument("--region", default=None, help="cloud region as provider:region, e.g. aws:us-east-1")
    @argument("--intensity", type=float, default=None, help="your own carbon intensity, gCO2e/kWh")
    @argument("--pue", default=None, help="1.0-3.0, or 'provider' with --region (default 1.0, stated)")
    @argument("--price-per-kwh", type=float, default=None, help="electricity price per kWh")
    @argument("--currency", default=None, help="currency of the price, e.g. EUR")
    @argument("--attribution", default="machine", help="machine (default) or process")
    @argument("--json", action="store_true", help="print the record as JSON")
    @argument("--var", default="_wattlens", help="variable that receives the result (default _wattlens)")
    @cell_magic
    def wattlens(self, line: str, cell: str) -> None:
        """Measure this cell: energy per component with source and interval, carbon, cost."""
        try:
            args = parse_argstring(self.wattlens, line)
        except UsageError as exc:
            raise UsageError(f"%%wattlens: {exc}; allowed options: {OPTIONS}") from None
        carbon = _carbon(args)
        if args.attribution not in ATTRIBUTIONS:
            raise UsageError(f"--attribution {args.attribution!r}: allowed are {', '.join(ATTRIBUTIONS)}")
        if not args.var.isidentifier():
            raise UsageError(f"--var {args.var!r}: a Python variable name")
        shell: Any = self.shell
        self._cells += 1
        name = args.name or f"cell {self._cells}"
        mon = self._monitor(args.attribution)
        window = f"{name}#{self._cells}"
        mon.begin(window)
        try:
            outcome = shell.run_cell(cell, store_history=False)
        finally:
            m = mon.end(window)
        m.name = name
        if not getattr(outcome, "success", True):
            m.notes.append("the cell raised an exception")
        from wattlens.tracking.summary import MeasuredFootprint

        result = MeasuredFootprint(m, carbon.footprint(m))
        shell.user_ns[args.var] = result
        display(Pretty(json.dumps(result.to_dict(), default=str) if args.json else str(result)))

    def _monitor(self, attribution: str) -> Any:
        mon = self._monitors.get(attribution)
        if mon is None:
            from wattlens.tracking.monitor import Monitor

            mon = self._monitors[attribution] = Monitor(attribution=attribution)
        return mon

    def close(self) -> None:
        for mon in self._monitors.values():
            mon.close()
        self._monitors.clear()


def _carbon(args: Any) -> Any:
    from wattlens.carbon import CarbonError
    from wattlens.carbon.settings import CarbonSettings

    raw: str | None = args.pue
    pue: float | str | None = raw
    if raw is not None and raw.strip().casefold() != "provider":
        try:
            pue = float(raw)
        except ValueError:
            raise UsageError(
                f"--pue {shlex.quote(args.pue)}: allowed is a number in [1.0, 3.0] or 'provider'"
            ) from None
    try:
        return CarbonSettings(args.country, args.region, args.intensity, pue, args.price_per_kwh, args.currency)
    except CarbonError as exc:
        raise UsageError(str(exc)) from None


_LOADED: dict[int, WattlensMagics] = {}


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext wattlens`` (via ``wattlens.load_ipython_extension``)."""
    magics = WattlensMagics(ipython)
    _LOADED[id(ipython)] = magics
    ipython.register_magics(magics)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext wattlens``: close the monitors (nothing keeps running)."""
    magics = _LOADED.pop(id(ipython), None)
    if magics is not None:
        magics.close()


__all__ = ["WattlensMagics", "load_ipython_extension", "unload_ipython_extension"]
