"""Models wattlens trains itself reach real held-out quality; MiniLM is the real sentence-transformers model."""

from __future__ import annotations

import numpy as np
import pytest

from wattlens.workloads import get_task, load_workload


@pytest.mark.slow
@pytest.mark.parametrize(("model", "threshold"), [("digits-cnn", 0.95), ("digits-mlp", 0.92)])
def test_digits_classifiers_are_really_trained(model, threshold):
    t = get_task("image-classification")
    w = load_workload(task="image-classification", model=model)
    assert w.weights == "trained" and w.info["training"]["holdout_accuracy"] >= threshold
    xs = t.inputs(300, seed=2)  # held-out images only
    q = w.quality(xs, w.run(xs))
    assert q >= threshold  # chance is 0.10
    again = load_workload(task="image-classification", model=model)
    assert again.info["training"]["cached"] is True  # second load reuses the cached weights


@pytest.mark.slow
def test_minilm_sentiment_head_generalises_to_held_out_words():
    t = get_task("text-classification")
    w = load_workload(task="text-classification", model="minilm-sentiment")
    assert w.weights == "trained" and w.info["training"]["holdout_accuracy"] >= 0.8
    xs = t.inputs(80, seed=5)
    out = w.run(xs)
    assert {o["label"] for o in out} == {"negative", "positive"}
    assert w.quality(xs, out) >= 0.8  # chance is 0.5; the test words never occur in training


@pytest.mark.slow
def test_minilm_ner_head_finds_unseen_names():
    t = get_task("token-classification")
    w = load_workload(task="token-classification", model="minilm-ner")
    xs = t.inputs(40, seed=4)
    out = w.run(xs)
    assert all(len(o) == len(x["words"]) for o, x in zip(out, xs, strict=True))
    assert w.quality(xs, out) >= 0.5  # entity-level F1 on names disjoint from training (all-"O" scores 0)
    assert w.info["training"]["holdout_entity_f1"] >= 0.5


@pytest.mark.slow
def test_minilm_matches_sentence_transformers():
    t = get_task("sentence-similarity")
    w = load_workload(task="sentence-similarity", model="all-MiniLM-L6-v2")
    assert w.weights == "trained" and 22e6 < w.params < 23e6
    xs = t.inputs(120)
    emb = np.stack(w.run(xs))
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    assert w.quality(xs, list(emb)) >= 0.8  # para-R@3 (reference: 0.844 on 1,000 sentences)
    assert w.quality(xs[:1], list(emb[:1])) is None  # one sentence has no paraphrase to find
    single = np.stack([w.run([x])[0] for x in xs[:3]])  # batch of 1 == batched (padding does not leak)
    assert np.allclose(single, emb[:3], atol=1e-5)
    st = pytest.importorskip("sentence_transformers")
    from wattlens.workloads.minilm import model_path

    ref = st.SentenceTransformer(str(model_path()), device="cpu").encode([x["text"] for x in xs[:16]])
    assert float((emb[:16] * ref).sum(1).min()) > 0.9999


@pytest.mark.slow
def test_minilm_qa_span_head_answers_held_out_questions():
    t = get_task("question-answering")
    w = load_workload(task="question-answering", model="minilm-qa")
    xs = t.inputs(10, seed=6)
    out = w.run(xs)
    assert all(x["context"][o["start"] : o["end"]] == o["answer"] for o, x in zip(out, xs, strict=True))
    # exact match on names never seen in training; picking the first name of the context scores 0 here,
    # a random name of the context about 0.1
    assert w.quality(xs, out) >= 0.7
    assert w.info["training"]["holdout_exact_match"] >= 0.7
