"""A synthetic cost surface with a known optimum, for testing and benchmarking the search strategies.

Shaped like the MiniLM study (optimization-anchors.md §4): runtimes/precisions multiply energy, a second
thread costs energy but buys latency, batch size has a padding-driven optimum per engine, per-tensor int8
saves as much as per-channel but breaks the quality gate. Measurements are noisy, less so with more
queries (multiplicative noise ~ 1/sqrt(queries)), and cost measurement time proportional to the work.
Pure Python, deterministic for a given seed.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import random

from wattlens.optimize.results import Config, ConfigDict, Knobs, config_int, config_str
from wattlens.optimize.search import Fidelity, Trial, config_key

ENGINES = {"torch": 1.0, "torch-bf16": 0.62, "ort": 0.45, "ort-int8": 0.18}
QUANT_QUALITY = {"none": 1.0, "per-tensor": 0.96, "per-channel": 0.993}
BEST_BATCH = {"torch": 8, "torch-bf16": 8, "ort": 2, "ort-int8": 1}


def small_knobs() -> Knobs:
    return {
        "engine": list(ENGINES),
        "quant": list(QUANT_QUALITY),
        "threads": [1, 2],
        "batch": [1, 2, 4, 8, 16],
        "wait": ["default", "passive"],
    }


def large_knobs() -> Knobs:
    k = small_knobs()
    k["tile"] = list(range(10))  # a smooth extra knob (e.g. a kernel tile size) with an interior optimum
    k["batch"] = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32]
    return k


def space(knobs: Knobs) -> list[ConfigDict]:
    names = list(knobs)
    return [dict(zip(names, vals, strict=True)) for vals in itertools.product(*(knobs[n] for n in names))]


def true_energy(c: Config) -> float:
    """Noise-free J per query."""
    engine = config_str(c, "engine")
    e = ENGINES[engine]
    if config_str(c, "quant") != "none":
        e *= 0.5 if engine.startswith("torch") else 0.9
    e *= 1.0 + 0.18 * abs(math.log2(config_int(c, "batch")) - math.log2(BEST_BATCH[engine]))
    if config_int(c, "threads") == 2:
        e *= 1.55 if c.get("wait", "default") == "default" else 1.3
    elif c.get("wait", "default") != "default":
        e *= 1.02
    if "tile" in c:
        e *= 1.0 + 0.04 * (config_int(c, "tile") - 6) ** 2 / 4
    return 0.02 * e


def true_latency_ms(c: Config) -> float:
    per_q = true_energy(c) / 0.02 * 10.0
    lat = per_q * config_int(c, "batch")
    return lat / (1.7 if config_int(c, "threads") == 2 else 1.0)


def quality(c: Config) -> float:
    q = QUANT_QUALITY[config_str(c, "quant")]
    return q if c["engine"] != "torch-bf16" else q * 0.9999


class Surface:
    """``evaluate(config, fidelity) -> Trial`` with noise and a cost per trial; counts what it was asked."""

    def __init__(self, seed: int = 0, noise: float = 0.15, overhead_s: float = 0.05) -> None:
        self.seed = seed
        self.noise = noise
        self.overhead_s = overhead_s
        self.calls = 0
        self.cost_s = 0.0

    def _rng(self, config: ConfigDict, fid: Fidelity) -> random.Random:
        h = hashlib.sha256(f"{self.seed}|{config_key(config)}|{fid.name}|{self.calls}".encode()).hexdigest()
        return random.Random(int(h[:16], 16))

    def evaluate(self, config: ConfigDict, fid: Fidelity) -> Trial:
        self.calls += 1
        rng = self._rng(config, fid)
        sigma = self.noise / math.sqrt(max(1.0, fid.work / 16.0))
        e = true_energy(config) * math.exp(rng.gauss(0.0, sigma))
        lat = true_latency_ms(config)
        p50 = lat * math.exp(rng.gauss(0.0, sigma / 2))
        cost = fid.work * true_latency_ms(config) / config_int(config, "batch") / 1000.0 + self.overhead_s
        self.cost_s += cost
        return Trial(
            dict(config),
            fid.name,
            j_per_query=e,
            quality=quality(config),
            p50_ms=p50,
            p95_ms=p50 * 1.3,
            peak_rss_mb=300.0 + 10 * config_int(config, "batch"),
            cost_s=cost,
        )

    def optimum(
        self, configs: list[ConfigDict], min_quality: float | None = None, max_p95_ms: float | None = None
    ) -> tuple[ConfigDict, float]:
        ok = [
            c
            for c in configs
            if (min_quality is None or quality(c) >= min_quality)
            and (max_p95_ms is None or true_latency_ms(c) * 1.3 <= max_p95_ms)
        ]
        best = min(ok, key=true_energy)
        return best, true_energy(best)

    def full_cost(self, configs: list[ConfigDict], full: Fidelity) -> float:
        """Measurement time of the exhaustive search at ``full`` fidelity (noise-free)."""
        return sum(full.work * true_latency_ms(c) / config_int(c, "batch") / 1000.0 + self.overhead_s for c in configs)
