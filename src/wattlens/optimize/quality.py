"""Quality of a transformed model, *measured* against the unmodified model's outputs on held-aside inputs.

The headline number (what ``--min-quality`` gates) depends on the task:

* embeddings: mean per-input cosine similarity to the reference embedding (also min, 1st percentile and
  nearest-neighbour agreement, which catch a few badly damaged inputs that the mean hides);
* classification: top-1 agreement with the reference prediction (plus accuracy where labels exist);
* generation: token agreement — the share of generated positions whose token equals the reference's.

numpy is imported lazily.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

METRIC_BY_TASK = {
    "sentence-similarity": "cosine_mean",
    "feature-extraction": "cosine_mean",
    "text-classification": "top1_agreement",
    "text-generation": "token_agreement",
}


def embedding_quality(ref: Any, out: Any) -> dict[str, float]:
    import numpy as np

    a = np.asarray(ref, dtype=np.float64)
    b = np.asarray(out, dtype=np.float64)
    a = a / np.clip(np.linalg.norm(a, axis=1, keepdims=True), 1e-12, None)
    b = b / np.clip(np.linalg.norm(b, axis=1, keepdims=True), 1e-12, None)
    cos = (a * b).sum(1)
    res = {"cosine_mean": float(cos.mean()), "cosine_min": float(cos.min()), "cosine_p01": float(np.percentile(cos, 1))}
    if len(a) >= 3:
        sa, sb = a @ a.T, b @ b.T
        np.fill_diagonal(sa, -np.inf)
        np.fill_diagonal(sb, -np.inf)
        res["nn_agreement"] = float((sa.argmax(1) == sb.argmax(1)).mean())
    return res


def classification_quality(ref: Any, out: Any, labels: Sequence[Any] | None = None) -> dict[str, float]:
    import numpy as np

    pa, pb = np.asarray(ref).argmax(-1), np.asarray(out).argmax(-1)
    res = {"top1_agreement": float((pa == pb).mean())}
    if labels is not None and len(labels) == len(pb) and all(isinstance(x, (int, np.integer)) for x in labels):
        res["accuracy"] = float((pb == np.asarray(labels)).mean())
        res["accuracy_reference"] = float((pa == np.asarray(labels)).mean())
    return res


def generation_quality(ref: Sequence[Sequence[int]], out: Sequence[Sequence[int]]) -> dict[str, float]:
    same = total = exact = 0
    for r, o in zip(ref, out, strict=True):
        n = max(len(r), len(o))
        same += sum(1 for x, y in zip(r, o, strict=False) if x == y)
        total += n
        exact += int(list(r) == list(o))
    return {"token_agreement": same / total if total else 1.0, "exact_match": exact / max(1, len(ref))}


def compare(task: str, ref: Any, out: Any, labels: Sequence[Any] | None = None) -> dict[str, float]:
    """All quality metrics of ``out`` vs ``ref`` for ``task``; ``result['quality']`` is the gated one."""
    if task == "text-classification":
        res = classification_quality(ref, out, labels)
    elif task == "text-generation":
        res = generation_quality(ref, out)
    else:
        res = embedding_quality(ref, out)
    res["quality"] = res[METRIC_BY_TASK.get(task, "cosine_mean")]
    return res


def gate(quality: float | None, min_quality: float | None) -> str:
    """Empty string when the gate passes; else the reason (kept in ``rejected``)."""
    if min_quality is None or quality is None:
        return ""
    return "" if quality >= min_quality else f"quality {quality:.4f} < min {min_quality}"
