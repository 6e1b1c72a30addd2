"""What ``wattlens optimize`` is asked: the model, the limits, the search budget and where to keep the result."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from wattlens.errors import WattlensError
from wattlens.optimize.results import Constraints


class OptimizeError(WattlensError, ValueError):
    """A request that cannot be served (e.g. no such run to resume); the message says what to pass."""


@dataclass
class OptimizeRequest:
    model: str
    task: str = "sentence-similarity"
    mode: str = "online"  # online | offline
    candidates: list[str] = field(default_factory=list)
    min_quality: float | None = 0.99
    max_p95_ms: float | None = None
    max_rss_mb: float | None = None
    budget_s: float | None = None
    strategy: str = "auto"  # auto | halving | optuna | exhaustive
    hardware_knobs: bool = False
    transforms: list[str] | None = None
    queries: int = 200  # per full-fidelity window
    repeats: int = 3
    quality_inputs: int = 128
    confirm_rounds: int = 3
    seed: int = 0
    device: str = "cpu"
    queries_per_day: float = 1_000_000
    country: str | None = None
    region: str | None = None
    price_per_kwh: float | None = None
    currency: str | None = None
    artefact_dir: str | None = None
    store_url: str | None = None
    run_id: str | None = None  # resume this run
    attribution: str = "process"
    deploy_check: bool = True
    batches: list[int] | None = None
    threads: list[int] | None = None
    gen_tokens: int = 8
    compile_backend: str = "inductor"
    quality_metric: str = "token_agreement"  # text-generation: token_agreement | kl_mean (the gated one)
    draft: str | None = None  # text-generation: a same-tokenizer draft model for speculative decoding
    decoding: str = "greedy"  # text-generation: greedy | sampling (measured configurations; quality is greedy)

    @property
    def constraints(self) -> Constraints:
        return Constraints(self.min_quality, self.max_p95_ms, self.max_rss_mb)

    @property
    def models(self) -> list[str]:
        """The model and the candidates, each once, the model first."""
        return [self.model, *[c for c in self.candidates if c != self.model]]

    def config_dict(self) -> dict[str, object]:
        """What the store keeps with the run (where it lives and which run it resumes are not part of it)."""
        d = asdict(self)
        for k in ("store_url", "run_id", "artefact_dir"):
            d.pop(k, None)
        return d


def parse_duration(text: str | float | None) -> float | None:
    """``5m`` / ``90s`` / ``1h`` / ``120`` -> seconds."""
    if text is None or text == "":
        return None
    if isinstance(text, (int, float)):
        return float(text)
    t = text.strip().lower()
    mult = {"s": 1, "m": 60, "h": 3600}.get(t[-1])
    return float(t[:-1]) * mult if mult else float(t)
