"""Quality metrics of the tasks (plain Python; numpy only for embedding metrics, imported lazily)."""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence
from typing import Any


def _label_of(pred: Any, names: Sequence[str] | None = None) -> Any:
    """A predicted label from an int, a label name, or a dict/list in pipeline style."""
    if isinstance(pred, dict):
        pred = pred.get("label", pred.get("labels"))
    if isinstance(pred, (list, tuple)) and pred and isinstance(pred[0], dict):  # pipeline top-k list
        pred = pred[0].get("label")
    if isinstance(pred, str) and names:
        low = pred.strip().lower()
        for i, name in enumerate(names):
            if low == name.lower() or low == f"label_{i}":
                return i
    try:
        return int(pred)
    except (TypeError, ValueError):
        return pred


def accuracy(golds: Sequence[Any], preds: Sequence[Any], names: Sequence[str] | None = None) -> float:
    if len(golds) != len(preds) or not golds:
        raise ValueError(f"accuracy needs as many predictions as references (got {len(preds)} vs {len(golds)})")
    return sum(_label_of(p, names) == g for g, p in zip(golds, preds, strict=True)) / len(golds)


def spans(tags: Sequence[str]) -> set[tuple[int, int, str]]:
    """Entity spans (start, end_exclusive, type) of a BIO tag sequence (an I- after O starts a span)."""
    out: set[tuple[int, int, str]] = set()
    start: int | None = None
    kind = ""
    for i, tag in enumerate([*tags, "O"]):
        prefix, _, typ = tag.partition("-")
        if start is not None and (prefix != "I" or typ != kind):
            out.add((start, i, kind))
            start, kind = None, ""
        if prefix == "B" or (prefix == "I" and start is None):
            start, kind = i, typ
    return out


def entity_f1(golds: Sequence[Sequence[str]], preds: Sequence[Sequence[str]]) -> float:
    """Micro-averaged entity-level F1 (exact span and type match, as conlleval/seqeval)."""
    tp = n_pred = n_gold = 0
    for g, p in zip(golds, preds, strict=True):
        gs, ps = spans(g), spans(list(p)[: len(g)])
        tp += len(gs & ps)
        n_pred += len(ps)
        n_gold += len(gs)
    if n_pred == 0 or n_gold == 0:
        return 0.0
    prec, rec = tp / n_pred, tp / n_gold
    return 0.0 if tp == 0 else 2 * prec * rec / (prec + rec)


def normalize_answer(text: str) -> str:
    """SQuAD's answer normalisation: lower case, no punctuation, no articles, single spaces."""
    text = "".join(ch for ch in str(text).lower() if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def exact_match(golds: Sequence[str], preds: Sequence[Any]) -> float:
    preds = [p.get("answer", "") if isinstance(p, dict) else p for p in preds]
    hits = sum(normalize_answer(g) == normalize_answer(p) for g, p in zip(golds, preds, strict=True))
    return hits / max(1, len(golds))


def token_f1(gold: str, pred: str) -> float:
    g, p = normalize_answer(gold).split(), normalize_answer(pred).split()
    common = sum((Counter(g) & Counter(p)).values())
    if common == 0:
        return 0.0
    prec, rec = common / len(p), common / len(g)
    return 2 * prec * rec / (prec + rec)


def squad_f1(golds: Sequence[str], preds: Sequence[Any]) -> float:
    preds = [p.get("answer", "") if isinstance(p, dict) else p for p in preds]
    return sum(token_f1(g, str(p)) for g, p in zip(golds, preds, strict=True)) / max(1, len(golds))


def top1_word_accuracy(golds: Sequence[str], preds: Sequence[Any]) -> float:
    """Fill-mask: share of predictions whose top-1 token string equals the masked word."""

    def word(p: Any) -> str:
        if isinstance(p, (list, tuple)) and p:
            p = p[0]
        if isinstance(p, dict):
            p = p.get("token_str", p.get("word", ""))
        return str(p).strip().lower().lstrip("Ġ▁#")

    return sum(word(p) == g.lower() for g, p in zip(golds, preds, strict=True)) / max(1, len(golds))


def rouge1_f(golds: Sequence[str], preds: Sequence[Any]) -> float:
    """Mean ROUGE-1 F1 (unigram overlap after SQuAD normalisation)."""
    return sum(token_f1(g, str(p)) for g, p in zip(golds, preds, strict=True)) / max(1, len(golds))


def paraphrase_recall(embeddings: Any, groups: Sequence[int], k: int | None = None) -> float:
    """para-R@k: share of each sentence's paraphrases (same group) among its k nearest other sentences
    by cosine similarity; k defaults to the group size - 1 (3 for groups of 4), as in
    optimization-anchors.md §4.1 (the packaged MiniLM scores 0.844 on the 1,000-sentence set)."""
    import numpy as np

    e = np.asarray(embeddings, dtype=np.float64)
    e = e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)
    g = np.asarray(groups)
    sizes = Counter(g.tolist())
    if k is None:
        k = max(sizes.values()) - 1
    sim = e @ e.T
    np.fill_diagonal(sim, -np.inf)
    found = total = 0
    for i in range(len(g)):
        mates = sizes[g[i]] - 1
        if mates == 0:
            continue  # an incomplete group of one sentence has nothing to find
        nearest = np.argsort(-sim[i], kind="stable")[:k]
        found += int((g[nearest] == g[i]).sum())
        total += min(mates, k)
    if total == 0:
        raise ValueError("paraphrase recall needs at least one group with two or more sentences")
    return found / total


def similarity_spearman(emb_a: Any, emb_b: Any, pairs: int = 20000, seed: int = 0) -> float:
    """Spearman correlation of random pairwise cosine similarities under two embeddings of the same
    sentences (e.g. an optimised model against the fp32 baseline; optimization-anchors.md §4.1)."""
    import numpy as np

    a = np.asarray(emb_a, dtype=np.float64)
    b = np.asarray(emb_b, dtype=np.float64)
    a /= np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b /= np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    rng = np.random.default_rng(seed)
    i, j = rng.integers(0, len(a), pairs), rng.integers(0, len(a), pairs)
    keep = i != j
    sa, sb = (a[i[keep]] * a[j[keep]]).sum(1), (b[i[keep]] * b[j[keep]]).sum(1)
    ra, rb = sa.argsort().argsort(), sb.argsort().argsort()
    return float(np.corrcoef(ra, rb)[0, 1])


def mean_cosine(emb_a: Any, emb_b: Any) -> float:
    """Mean per-row cosine similarity between two embeddings of the same sentences."""
    import numpy as np

    a = np.asarray(emb_a, dtype=np.float64)
    b = np.asarray(emb_b, dtype=np.float64)
    num = (a * b).sum(1)
    den = np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)
    return float((num / den).mean())
