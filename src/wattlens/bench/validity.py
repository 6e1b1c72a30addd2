"""Validity checks of a benchmark cell. Failures are shown, never hidden: status ``invalid`` with reasons.

The checks are the ones no anchor benchmark applies together (benchmark-anchors.md §8, §11.4):

* energy known (no silent 0 for "unavailable");
* no negative phase energy, gross or net (AIES averaged a decode of -0.08 kWh into its mean, §2.5);
* window power between the idle baseline and the boundary's maximum (ML.ENERGY validates power
  between 100 W and TDP, §3.1);
* every query completed, and every repeat covered every input;
* token counts recorded for generation (mlcommons/mlperf_client#19: "uncaptured token counts");
* window at least the stated minimum.

Warnings (shown, status stays ``ok``): fewer than 5 repeats, CV above 10 %, idle drift between the
baselines before and after the cell, net energy indistinguishable from idle, harness overhead > 1 %.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from wattlens.bench.method import MIN_REPEATS

if TYPE_CHECKING:
    from wattlens.bench.runner import CellStats

STATUS_OK = "ok"
STATUS_INVALID = "invalid"
STATUS_FAILED = "failed"
# measured while other processes held the CPUs the cell needed: shown, kept out of ratings and comparisons
STATUS_CONTENDED = "contended"
CONTENTION_SLACK_CPUS = 0.25  # background noise of an idle machine (daemons, the shell) stays below this
# ... and a burst of a daemon during a 50 ms cell is not contention: the excess must add up to this much CPU time
CONTENTION_MIN_EXCESS_CPU_S = 0.1

MAX_CV = 0.10  # PHP's worst cell was 17 %, its p90 3 % (anchors §1.2): 10 % is loose yet catches noise
MAX_IDLE_DRIFT = 0.20  # relative change of idle power between the baselines before and after a cell
POWER_TOLERANCE = 0.05  # meters and baselines are never exact: 5 % slack on the idle/max power bounds
MAX_HARNESS_OVERHEAD = 0.01  # the harness must cost <= 1 % of the measured time


@dataclass
class Validity:
    status: str = STATUS_OK
    reasons: list[str] = field(default_factory=list)  # why it is invalid
    warnings: list[str] = field(default_factory=list)

    def fail(self, reason: str) -> None:
        self.status = STATUS_INVALID
        self.reasons.append(reason)

    def warn(self, text: str) -> None:
        self.warnings.append(text)

    def merge(self, other: Validity, prefix: str = "") -> None:
        for r in other.reasons:
            self.fail(prefix + r)
        self.warnings.extend(prefix + w for w in other.warnings)

    def to_dict(self) -> dict[str, object]:
        return {"status": self.status, "reasons": list(self.reasons), "warnings": list(self.warnings)}


def check_windows(stats: CellStats, *, max_power_w: float | None = None) -> Validity:
    """Checks on one phase's :class:`~wattlens.bench.runner.CellStats` (query, prefill or decode)."""
    v = Validity()
    name = stats.phase
    if stats.j_per_query is None:
        v.fail(f"{name}: energy unavailable (source {stats.source}); no figure is better than a wrong one")
        return v
    _check_negative(v, stats)
    _check_power(v, stats, max_power_w)
    if stats.completed_queries < stats.expected_queries:
        v.fail(
            f"{name}: {stats.expected_queries - stats.completed_queries} of {stats.expected_queries} "
            "queries returned no output"
        )
    short = [q for q in stats.queries_per_repeat if q < stats.inputs_per_repeat]
    if short:
        v.fail(f"{name}: {len(short)} repeat(s) did not cover all {stats.inputs_per_repeat} inputs")
    too_short = [
        w
        for w in stats.windows
        if w.sub == 0 and stats.phase != "decode" and w.duration_s < stats.min_window_s * (1 - 1e-9)
    ]
    if too_short:
        v.fail(f"{name}: {len(too_short)} window(s) shorter than the minimum {stats.min_window_s} s")
    _check_spread(v, stats)
    return v


def _check_negative(v: Validity, stats: CellStats) -> None:
    name = stats.phase
    neg_gross = [w.energy_j for w in stats.windows if w.energy_j is not None and w.energy_j < 0]
    if neg_gross:
        lowest = min(neg_gross)
        v.fail(f"{name}: negative gross energy in {len(neg_gross)} window(s) (min {lowest:.4g} J)")
    neg_net = [j for j in stats.per_repeat_j_per_query if j < 0]
    if neg_net:
        v.fail(
            f"{name}: negative {stats.basis} energy per query in {len(neg_net)} of {stats.repeats} repeat(s) "
            f"(min {min(neg_net):.4g} J): the idle baseline exceeds the measured energy"
        )
    elif stats.basis == "net" and stats.j_per_query_low is not None and stats.j_per_query_low <= 0:
        v.warn(
            f"{name}: net energy per query is within the meter's uncertainty of zero "
            f"(interval {stats.j_per_query_low:.4g} .. {stats.j_per_query_high:.4g} J)"
        )


def _check_power(v: Validity, stats: CellStats, max_power_w: float | None) -> None:
    name = stats.phase
    idle = stats.idle
    for w in stats.windows:
        if w.energy_j is None or w.duration_s <= 0:
            continue
        p = w.energy_j / w.duration_s
        if idle is not None and p < idle.low_w * (1 - POWER_TOLERANCE):
            v.fail(f"{name}: window {w.name} drew {p:.3g} W, below the idle baseline {idle.power_w:.3g} W")
            return
        if max_power_w is not None and p > max_power_w * (1 + POWER_TOLERANCE):
            v.fail(f"{name}: window {w.name} drew {p:.3g} W, above the boundary's maximum {max_power_w:.3g} W")
            return


def _check_spread(v: Validity, stats: CellStats) -> None:
    name = stats.phase
    if stats.repeats < MIN_REPEATS:
        v.warn(f"{name}: {stats.repeats} repeats < {MIN_REPEATS} (method minimum); CI is wide")
    if stats.cv is not None and stats.cv > MAX_CV:
        v.warn(f"{name}: CV {stats.cv:.1%} across repeats > {MAX_CV:.0%} (machine busy or windows too short)")
    ovh = stats.harness_overhead_frac
    if ovh is not None and ovh > MAX_HARNESS_OVERHEAD:
        v.warn(f"{name}: harness overhead {ovh:.2%} of window time > {MAX_HARNESS_OVERHEAD:.0%}")


def check_idle_drift(before_w: float | None, after_w: float | None) -> Validity:
    v = Validity()
    if before_w is None or after_w is None:
        v.warn("idle baseline measured only on one side of the cell")
        return v
    ref = max(abs(before_w), abs(after_w), 1e-12)
    drift = abs(after_w - before_w) / ref
    if drift > MAX_IDLE_DRIFT:
        v.warn(
            f"idle power drifted {drift:.0%} across the cell ({before_w:.3g} W -> {after_w:.3g} W): "
            "something else ran on the machine"
        )
    return v


def check_tokens(
    generative: bool, input_tokens: int | None, output_tokens: int | None, text_input: bool = True
) -> Validity:
    """Generation must record its token counts (input tokens only where the input is text, not an image)."""
    v = Validity()
    if not generative:
        return v
    if text_input and (not input_tokens or input_tokens <= 0):
        v.fail("token counts missing: input tokens not recorded")
    if not output_tokens or output_tokens <= 0:
        v.fail("token counts missing: output tokens not recorded")
    return v


def check_cell(
    phases: Mapping[str, CellStats],
    *,
    generative: bool = False,
    input_tokens: int | None = None,
    output_tokens: int | None = None,
    idle_before_w: float | None = None,
    idle_after_w: float | None = None,
    max_power_w: float | None = None,
    text_input: bool = True,
) -> Validity:
    """All checks of a cell: every measured phase, tokens, idle drift."""
    v = Validity()
    for stats in phases.values():
        v.merge(check_windows(stats, max_power_w=max_power_w))
    if generative and "decode" not in phases:
        v.warn("generation measured end to end only (no prefill/decode windows)")
    v.merge(check_tokens(generative, input_tokens, output_tokens, text_input))
    if idle_before_w is not None or idle_after_w is not None:
        v.merge(check_idle_drift(idle_before_w, idle_after_w))
    return v


def is_contended(others_cpus: float, machine_cpus: int, cell_cpus: int, duration_s: float) -> bool:
    """Other processes held more CPUs than the cell left free (+ slack), for long enough to matter."""
    excess = others_cpus - (machine_cpus - cell_cpus + CONTENTION_SLACK_CPUS)
    return excess > 0 and excess * duration_s >= CONTENTION_MIN_EXCESS_CPU_S


def check_contention(v: Validity, others_cpus: float, machine_cpus: int, cell_cpus: int, duration_s: float) -> bool:
    """Mark an otherwise valid cell ``contended`` when other processes took the CPUs it asked for."""
    threshold = machine_cpus - cell_cpus + CONTENTION_SLACK_CPUS
    if not is_contended(others_cpus, machine_cpus, cell_cpus, duration_s):
        return False
    reason = (
        f"contended: other processes kept {others_cpus:.2f} of {machine_cpus} CPUs busy during the windows "
        f"(more than the {threshold:.2f} this {cell_cpus}-thread cell left free); its energy is not the model's — "
        "re-run on a quiet machine or with fewer threads (--threads)"
    )
    if v.status == STATUS_OK:
        v.status = STATUS_CONTENDED
        v.reasons.append(reason)
    else:
        v.warn(reason)
    return True
