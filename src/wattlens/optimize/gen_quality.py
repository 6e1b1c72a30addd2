"""Quality of a generation variant against the unmodified model on held-aside prompts.

Two metrics, both reported, the gate on the one the user names (``--quality-metric``, default token agreement):

* **token agreement**: the share of greedy continuation positions whose token equals the unmodified model's
  (per prompt, then averaged over prompts);
* **mean KL** (nats) of the next-token distributions, KL(reference || variant), at every position of the
  *reference's* continuation (teacher forcing: both models read the same tokens, so one early divergence does not
  make every later position incomparable).

Intervals: 95 % percentile bootstrap over prompts (prompts are the independent unit; tokens within a prompt are
not). Meaningful with random weights too: agreement with the fp32 model measures what the transform changed.

>>> agreement_per_prompt([[1, 2, 3], [4, 5]], [[1, 2, 0], [4, 5]])
[0.6666666666666666, 1.0]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from wattlens.optimize.gen_results import GenQuality
from wattlens.stats import mean

METRICS = ("token_agreement", "kl_mean")
BOOTSTRAP_RESAMPLES = 1000


def agreement_per_prompt(ref: Sequence[Sequence[int]], out: Sequence[Sequence[int]]) -> list[float]:
    """Per prompt: matching positions / the longer continuation's length (a shorter output counts as misses)."""
    res = []
    for r, o in zip(ref, out, strict=True):
        n = max(len(r), len(o))
        res.append(sum(1 for x, y in zip(r, o, strict=False) if x == y) / n if n else 1.0)
    return res


def bootstrap_mean(values: Sequence[float], seed: int = 0, resamples: int = BOOTSTRAP_RESAMPLES) -> tuple[float, float]:
    """95 % percentile bootstrap interval of the mean (a single value: that value twice)."""
    import numpy as np

    v = np.asarray(values, dtype=np.float64)
    if len(v) < 2:
        x = float(v.mean()) if len(v) else float("nan")
        return x, x
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, len(v), size=(resamples, len(v)))].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def kl_per_prompt(ref_logits: Sequence[Any], out_logits: Sequence[Any]) -> list[float]:
    """Mean KL(ref || out) in nats per prompt, from [positions, vocab] logit arrays of both models."""
    import torch

    res = []
    for a, b in zip(ref_logits, out_logits, strict=True):
        la = torch.log_softmax(torch.as_tensor(a, dtype=torch.float64), -1)
        lb = torch.log_softmax(torch.as_tensor(b, dtype=torch.float64), -1)
        res.append(float((la.exp() * (la - lb)).sum(-1).clamp(min=0).mean()))
    return res


def summarise(
    metric: str, ref: Sequence[Sequence[int]], out: Sequence[Sequence[int]], kls: Sequence[float], seed: int = 0
) -> GenQuality:
    """The :class:`GenQuality` of one variant from its continuations and per-prompt KLs."""
    agree = agreement_per_prompt(ref, out)
    a_lo, a_hi = bootstrap_mean(agree, seed)
    k_lo, k_hi = bootstrap_mean(kls, seed)
    a_mean = mean(agree)
    k_mean = mean(kls)
    exact = sum(1 for r, o in zip(ref, out, strict=True) if list(r) == list(o)) / len(ref)
    value, lo, hi = (a_mean, a_lo, a_hi) if metric == "token_agreement" else (k_mean, k_lo, k_hi)
    return GenQuality(
        metric=metric,
        value=value,
        value_low=lo,
        value_high=hi,
        n_prompts=len(agree),
        token_agreement=a_mean,
        token_agreement_low=a_lo,
        token_agreement_high=a_hi,
        kl_mean_nats=k_mean,
        kl_mean_low_nats=k_lo,
        kl_mean_high_nats=k_hi,
        interval=f"95 % percentile bootstrap over prompts ({BOOTSTRAP_RESAMPLES} resamples)",
        n_tokens=sum(max(len(r), len(o)) for r, o in zip(ref, out, strict=True)),
        exact_match=exact,
    )


def gate(q: GenQuality, min_quality: float | None) -> str:
    """Empty when ``q`` passes; else why. Token agreement is a floor, KL a ceiling (``--min-quality`` is then
    the largest mean KL in nats allowed)."""
    if min_quality is None:
        return ""
    if q.metric == "kl_mean":
        return "" if q.value <= min_quality else f"mean KL {q.value:.4g} nats > max {min_quality}"
    return "" if q.value >= min_quality else f"token agreement {q.value:.4f} < min {min_quality}"
