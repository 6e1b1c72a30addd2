"""The typed results of ``wattlens optimize --task text-generation``: per-token accounting, generation quality,
the hardware the savings belong to, and the whole result.

Units are in the names: ``j_per_token`` joules per generated token, ``j_per_query`` joules per query (one
prompt's continuation), ``_ms`` milliseconds, ``_mb`` MiB, ``_s`` seconds. Pure Python (no torch).

>>> q = GenQuality("token_agreement", 0.97, 0.95, 0.98, 64, 0.97, 0.95, 0.98, 0.01, 0.0, 0.02, "bootstrap")
>>> GenQuality.from_dict(q.to_dict()) == q
True
"""

from __future__ import annotations

from dataclasses import dataclass

from wattlens.optimize.results import ConfigDict, HardwareProfile, SkippedTransform, TransformInfo
from wattlens.records import Record, optional

__all__ = ["GenOptimizeResult", "GenQuality", "GenTrial", "HardwareProfile", "TransformVerdict", "VariantQuality"]


@dataclass(frozen=True)
class GenQuality(Record):
    """Greedy-continuation token agreement and mean next-token KL vs the unmodified model, each with n and a 95 %
    interval (bootstrap over prompts); ``value`` is the gated metric (``metric``)."""

    metric: str  # token_agreement | kl_mean
    value: float
    value_low: float
    value_high: float
    n_prompts: int
    token_agreement: float
    token_agreement_low: float
    token_agreement_high: float
    kl_mean_nats: float
    kl_mean_low_nats: float
    kl_mean_high_nats: float
    interval: str  # how the interval was computed
    n_tokens: int = 0
    exact_match: float | None = optional()


@dataclass(frozen=True)
class GenTrial(Record):
    """One generation configuration measured: energy per generated token and per query, prefill and decode in
    their own energy windows, time-to-first-token and inter-token latency, peak memory."""

    config: ConfigDict
    label: str
    fidelity: str  # probe | full
    ok: bool = True
    why: str | None = optional()
    queries: int = 0
    generated_tokens: int = 0
    j_per_token: float | None = None
    j_per_token_low: float | None = None
    j_per_token_high: float | None = None
    j_per_query: float | None = None
    prefill_j_per_query: float | None = None
    decode_j_per_token: float | None = None
    energy_source: str | None = None  # measured | integrated | estimated
    energy_method: str | None = None
    ttft_p50_ms: float | None = None
    ttft_p95_ms: float | None = None
    itl_p50_ms: float | None = None
    itl_p95_ms: float | None = None
    query_p95_ms: float | None = None
    tokens_per_s: float | None = None
    peak_rss_mb: float | None = None
    duration_s: float | None = None
    cpu_s: float | None = None
    acceptance_rate: float | None = optional()  # speculative decoding: draft tokens accepted / proposed
    loadavg: tuple[float, ...] | None = optional()
    resumed: bool = False


@dataclass(frozen=True)
class VariantQuality(Record):
    """One model variant's measured quality (and whether it passed the gate)."""

    variant: str
    quality: GenQuality | None
    passed: bool
    why: str | None = optional()


@dataclass(frozen=True)
class TransformVerdict(Record):
    """Why one transform won or lost on this hardware (``wattlens optimize --explain``)."""

    transform: str
    verdict: str  # won | lost | helped, not chosen | rejected | skipped | not-measured | N thread(s) best
    why: str
    factor_vs_baseline: float | None = optional()  # baseline J/token / this transform's best J/token


@dataclass(frozen=True)
class GenOptimizeResult(Record):
    """``wattlens optimize --task text-generation --json`` (the run's ``result`` cell)."""

    run_id: str
    model: str
    mode: str
    quality_metric: str
    min_quality: float | None
    decoding: str  # greedy | sampling (what the measured configurations used)
    max_new_tokens: int
    max_new_tokens_policy: str
    hardware: HardwareProfile
    baseline: GenTrial | None = None
    recommended: GenTrial | None = None
    recommended_quality: GenQuality | None = None
    saving_factor_j_per_token: float | None = None
    saving_factor_low: float | None = None  # worst case of the two intervals
    saving_factor_high: float | None = None
    trials: tuple[GenTrial, ...] = ()
    variant_quality: tuple[VariantQuality, ...] = ()
    rejected: tuple[str, ...] = ()
    explain: tuple[TransformVerdict, ...] = ()
    transforms: tuple[TransformInfo, ...] = ()
    skipped_transforms: tuple[SkippedTransform, ...] = ()
    search_cpu_s: float | None = None
    search_duration_s: float | None = None
    search_energy_j: float | None = None
    loadavg_start: tuple[float, ...] | None = None
    loadavg_end: tuple[float, ...] | None = None
    weights: str = ""
    notes: tuple[str, ...] = ()
    artefact_path: str | None = optional()
    wattlens: str = "optimize-generation"
    schema: int = 1
