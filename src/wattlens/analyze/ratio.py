"""Ratios of two analyses with a correlated interval: what model A costs relative to model B.

The naive interval of a ratio, ``A.low / B.high .. A.high / B.low``, treats every constant of the two
analyses as independent. But the constants of a profile (peak rates and achieved fractions, energy per FLOP and
per byte, static power, host time per op, the framework's work per query, the node's power figures) are the
*same* numbers in both analyses when both run on the same hardware and host: if the true static power is at the
high end of its range, it is so for A and for B, and the ratio barely moves.

:func:`ratio_interval` therefore moves each group of constants to the low and to the high end of its range,
one group at a time, the rest at their middle, and records how far ``ln(A)`` and ``ln(B)`` move:

* a group **shared** by the two analyses (the same figures in both) moves both to the same end: its effect on
  ``ln(A / B)`` is ``dA(end) - dB(end)``;
* a group **not shared** (different figures, e.g. two hardware profiles) and the **model-specific** groups move
  independently: ``dA(end_a) - dB(end_b)`` over the four combinations. Model-specific are the DRAM byte bounds
  (how much of each model's traffic a runtime fuses) and the host time per op at a given host speed, whose range
  was measured across the configurations and passes of a model family (``PER_MODEL``). The host-speed band
  (``--host``: how the host CPU compares with this machine) is one group of its own, shared.

The interval of ``ln(A / B)`` is ``ln(A_mid / B_mid)`` plus the sum over groups of each group's most negative
and most positive effect (a worst case over the groups, first order in each), widened to include the ratios of
the analyses' own consistent corners (``A.low / B.low``, ``A.high / B.high``) and clipped to the naive interval,
which is never exceeded. When the two analyses share no group, the result *is* the naive interval.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wattlens._logging import get_logger
from wattlens.analyze.records import Range

if TYPE_CHECKING:
    from wattlens.analyze.analysis import Analysis
    from wattlens.analyze.boundary import NodeProfile
    from wattlens.analyze.host import HostModel
    from wattlens.analyze.profiles import Figure, Profile

log = get_logger(__name__)

QUANTITIES = ("energy", "net", "time")
ENDS = ("low", "high")


@dataclass(frozen=True)
class Setting:
    """The constants one evaluation uses: a profile, a host model, a node (node boundary) and the byte backend."""

    profile: Profile
    host: HostModel | None
    node: NodeProfile | None
    backend: str


@dataclass(frozen=True)
class GroupEffect:
    """How far one group of constants moves ``ln(A / B)`` (negative, positive), and whether A and B share it."""

    group: str
    shared: bool
    down: float
    up: float


@dataclass(frozen=True)
class RatioInterval:
    """``A / B`` as [low, mid, high] (correlated), the naive quotient beside it, and each group's effect."""

    quantity: str
    ratio: Range
    naive: Range
    groups: tuple[GroupEffect, ...]

    @property
    def width(self) -> float:
        """high / low: the interval's width as a factor."""
        return self.ratio.high / self.ratio.low if self.ratio.low > 0 else math.inf

    def to_dict(self) -> dict[str, object]:
        return {
            "quantity": self.quantity,
            "ratio": self.ratio.to_dict(),
            "naive": self.naive.to_dict(),
            "width": self.width,
            "groups": [dataclasses.asdict(g) for g in self.groups],
        }


# ------------------------------------------------------------------------------------------ groups of constants
def _pin(fig: Figure | None, end: str) -> Figure | None:
    """A figure held at one end of its range (low == high), so every corner of the model reads that value."""
    if fig is None:
        return None
    v = fig.at(end)
    return dataclasses.replace(fig, low=v, high=v)


def _pin_dict(figs: dict[str, Figure], end: str) -> dict[str, Figure]:
    return {k: f for k, f in ((k, _pin(f, end)) for k, f in figs.items()) if f is not None}


def _profile(s: Setting, **figs: Any) -> Setting:
    return dataclasses.replace(s, profile=dataclasses.replace(s.profile, **figs))


def _host(s: Setting, names: tuple[str, ...], end: str) -> Setting:
    if s.host is None:
        return s
    pinned: dict[str, Any] = {n: _pin(getattr(s.host, n), end) for n in names}
    return dataclasses.replace(s, host=dataclasses.replace(s.host, **pinned))


def _node(s: Setting, end: str) -> Setting:
    if s.node is None:
        return s
    names = ("cpu_idle_w", "cpu_busy_thread_w", "dram_w", "other_w")
    pinned: dict[str, Any] = {n: _pin(getattr(s.node, n), end) for n in names}
    return dataclasses.replace(s, node=dataclasses.replace(s.node, **pinned))


_HOST_OP = ("op_us", "eager_op_us", "kernel_floor_us", "pass_us")
_FRAMEWORK = ("call_us", "call_ops", "item_us", "step_ops")
_HOST_WORK = ("op_us", "eager_op_us", "call_us", "item_us")  # host work: scales with the host CPU's speed


def _speed(s: Setting) -> Figure | None:
    """The host-speed band of the analysis (host_overheads.csv ``host_speed.*``), if any."""
    from wattlens.analyze.host import figure

    if s.host is None:
        return None
    try:
        return figure(f"host_speed.{s.host.host}")
    except (KeyError, ValueError):
        return None


def _scale_host(s: Setting, names: tuple[str, ...], k: Callable[[Figure], float]) -> Setting:
    if s.host is None:
        return s
    new: dict[str, Any] = {}
    for n in names:
        f: Figure = getattr(s.host, n)
        v = f.mid * k(f)
        new[n] = dataclasses.replace(f, low=v, high=v)
    return dataclasses.replace(s, host=dataclasses.replace(s.host, **new))


def _host_speed_end(s: Setting, end: str) -> Setting:
    """Every host-work figure at its middle x the host-speed band's end / middle (the CPU both models run on)."""
    sp = _speed(s)
    if sp is None or sp.mid <= 0:
        return s
    return _scale_host(s, _HOST_WORK, lambda f: sp.at(end) / sp.mid)


def _host_op_end(s: Setting, end: str) -> Setting:
    """The per-op host time at one end of its family's measured spread, the host speed at its middle (the launch
    path, where added, is scaled with it: errs wide)."""
    sp = _speed(s)
    ratio = (sp.at(end) / sp.mid) if (sp is not None and sp.mid > 0) else 1.0
    moved = _scale_host(s, ("op_us", "eager_op_us"), lambda f: f.at(end) / f.mid / ratio if f.mid > 0 else 1.0)
    moved = _host(moved, ("kernel_floor_us", "pass_us"), end)
    return _profile(moved, launch_us=_pin(s.profile.launch_us, end))


# name -> (setting at one end, the figures that decide whether two analyses share the group)
GROUPS: dict[str, tuple[Callable[[Setting, str], Setting], Callable[[Setting], tuple[object, ...]]]] = {
    "device rates": (
        lambda s, e: _profile(s, gemm_frac=_pin(s.profile.gemm_frac, e), bw_frac=_pin(s.profile.bw_frac, e)),
        lambda s: (s.profile.name, s.profile.gemm_frac, s.profile.bw_frac, s.profile.mem_bw_gbs),
    ),
    "energy per FLOP": (
        lambda s, e: _profile(s, pj_per_flop=_pin_dict(s.profile.pj_per_flop, e)),
        lambda s: (s.profile.name, tuple(sorted(s.profile.pj_per_flop.items()))),
    ),
    "energy per byte": (
        lambda s, e: _profile(s, pj_per_byte=_pin_dict(s.profile.pj_per_byte, e)),
        lambda s: (s.profile.name, tuple(sorted(s.profile.pj_per_byte.items()))),
    ),
    "static power": (
        lambda s, e: _profile(s, static_w=_pin(s.profile.static_w, e)),
        lambda s: (s.profile.name, s.profile.static_w),
    ),
    "interconnect": (
        lambda s, e: _profile(
            s, link_eff=_pin(s.profile.link_eff, e), pj_per_link_byte=_pin(s.profile.pj_per_link_byte, e)
        ),
        lambda s: (s.profile.name, s.profile.link_eff, s.profile.pj_per_link_byte),
    ),
    "host speed": (_host_speed_end, lambda s: (_speed(s),)),
    "host time per op": (_host_op_end, lambda s: (s.profile.launch_us, *(getattr(s.host, n, None) for n in _HOST_OP))),
    "framework per query": (
        lambda s, e: _host(s, _FRAMEWORK, e),
        lambda s: tuple(getattr(s.host, n, None) for n in _FRAMEWORK),
    ),
    "node power": (_node, lambda s: (s.node,)),
}
BYTES = "DRAM bytes (per model)"
# groups whose range is (also) a spread *across models*: where one model sits in it is its own. The host time
# per op of a family was measured over its configurations and passes (host_overheads.csv: a 12-layer decode
# step .. a 4-layer prefill), so two models of one family need not sit at the same end of it.
PER_MODEL = frozenset({"host time per op"})


# ------------------------------------------------------------------------------------------ evaluation
def setting_of(a: Analysis) -> Setting:
    from wattlens.analyze import boundary as B

    node = B.get_node(a.boundary.node) if (a.boundary is not None and a.boundary.node) else None
    return Setting(a.profile, a.estimate.options.host, node, a.estimate.options.backend)


def _corner_value(a: Analysis, quantity: str) -> Range:
    """The analysis' own [low, mid, high] of ``quantity``."""
    if quantity == "time":
        return a.time_range()
    if a.boundary is None:
        if quantity == "net":
            raise ValueError("a net-energy ratio needs a node boundary (analyze(..., boundary='node'))")
        return a.energy_range()
    if quantity == "net":
        if a.boundary.net_energy_j is None:
            raise ValueError("this boundary has no net energy")
        return a.boundary.net_energy_j
    return a.boundary.energy_j


def evaluate(a: Analysis, s: Setting, quantity: str) -> float:
    """``quantity`` of analysis ``a`` (its traced records) at the middle of setting ``s``."""
    from wattlens.analyze import boundary as B
    from wattlens.analyze.host import input_kind
    from wattlens.analyze.model import estimate_totals

    opt = dataclasses.replace(a.estimate.options, host=s.host, backend=s.backend)
    tot = estimate_totals(a.records, s.profile, opt)
    if quantity == "time":
        return tot.time_s["mid"]
    if s.node is None:
        return tot.energy_j["mid"]
    nb = B.node_energy(
        Range.of(tot.energy_j),
        Range.of(tot.static_j),
        Range.of(tot.time_s),
        opt.devices,
        s.node,
        s.profile,
        input_kind(a.model.kind),
    )
    pue = a.boundary.pue.mid if (a.boundary is not None and a.boundary.pue is not None) else 1.0
    r = nb.net_energy_j if (quantity == "net" and nb.net_energy_j is not None) else nb.energy_j
    return r.mid * (1.0 if quantity == "net" else pue)


def _log_moves(a: Analysis, base: Setting, quantity: str, move: Callable[[Setting, str], Setting]) -> dict[str, float]:
    mid = evaluate(a, base, quantity)
    return {e: math.log(max(evaluate(a, move(base, e), quantity), 1e-300) / max(mid, 1e-300)) for e in ENDS}


def _effect(group: str, shared: bool, da: dict[str, float], db: dict[str, float]) -> GroupEffect:
    if shared:
        moves = [da[e] - db[e] for e in ENDS]
    else:
        moves = [da[ea] - db[eb] for ea in ENDS for eb in ENDS]
    return GroupEffect(group, shared, min(0.0, *moves), max(0.0, *moves))


def _with_backend(s: Setting, end: str) -> Setting:
    return dataclasses.replace(s, backend={"low": "fused", "high": "eager"}[end])


def naive_ratio(ra: Range, rb: Range) -> Range:
    """The quotient of two independent intervals."""
    return Range(ra.low / rb.high, ra.mid / rb.mid, ra.high / rb.low)


def ratio_interval(a: Analysis, b: Analysis, quantity: str = "energy") -> RatioInterval:
    """``quantity`` of ``a`` over that of ``b`` (``energy``: at the analyses' boundary; ``net``: above the node's
    idle draw; ``time``: wall time), with the correlated interval of the module docstring."""
    if quantity not in QUANTITIES:
        raise ValueError(f"unknown quantity {quantity!r}; allowed: {', '.join(QUANTITIES)}")
    ra, rb = _corner_value(a, quantity), _corner_value(b, quantity)
    naive = naive_ratio(ra, rb)
    sa, sb = setting_of(a), setting_of(b)
    effects = []
    for name, (move, key) in GROUPS.items():
        ka = key(sa)
        # nothing to share: no node, no host; a per-model group is never shared
        shared = name not in PER_MODEL and ka == key(sb) and any(x is not None for x in ka)
        effects.append(_effect(name, shared, _log_moves(a, sa, quantity, move), _log_moves(b, sb, quantity, move)))
    effects.append(
        _effect(BYTES, False, _log_moves(a, sa, quantity, _with_backend), _log_moves(b, sb, quantity, _with_backend))
    )
    if not any(e.shared for e in effects):
        return RatioInterval(quantity, naive, naive, tuple(effects))
    mid = ra.mid / rb.mid
    lo = mid * math.exp(math.fsum(e.down for e in effects))
    hi = mid * math.exp(math.fsum(e.up for e in effects))
    corners = (ra.low / rb.low, ra.high / rb.high)
    lo, hi = max(min(lo, *corners), naive.low), min(max(hi, *corners), naive.high)
    log.debug("ratio %s: %.4g [%.4g, %.4g] (naive [%.4g, %.4g])", quantity, mid, lo, hi, naive.low, naive.high)
    return RatioInterval(quantity, Range(lo, mid, hi), naive, tuple(effects))


__all__ = ["GROUPS", "QUANTITIES", "GroupEffect", "RatioInterval", "Setting", "naive_ratio", "ratio_interval"]
