"""Tasks: inputs are deterministic per seed and match their stated distributions; metrics are right."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from wattlens.workloads import TASKS, WorkloadError, data, get_task, metrics

ALL = [
    "text-classification",
    "token-classification",
    "question-answering",
    "fill-mask",
    "text-generation",
    "summarization",
    "image-classification",
    "object-detection",
    "image-to-text",
    "text-to-image",
    "sentence-similarity",
]


def _key(items):
    return [{k: (v.tobytes() if isinstance(v, np.ndarray) else v) for k, v in x.items()} for x in items]


def test_the_eleven_tasks():
    assert sorted(TASKS) == sorted(ALL)
    for name in ALL:
        t = get_task(name)
        assert t.unit in ("query", "token", "image")
        assert t.input_description
        assert t.generative == (name in ("text-generation", "summarization", "image-to-text"))


@pytest.mark.parametrize("name", ALL)
def test_inputs_deterministic_per_seed(name):
    t = get_task(name)
    a, b, c = t.inputs(6, seed=0), t.inputs(6, seed=0), t.inputs(6, seed=1)
    assert len(a) == 6 and _key(a) == _key(b)
    assert _key(a) != _key(c)
    assert t.inputs(0) == []


@pytest.mark.parametrize("name", [n for n in ALL if get_task(n).words])
def test_text_lengths_match_stated_range(name):
    t = get_task(name)
    key = "context" if name == "question-answering" else "text"
    words = [len(x[key].split()) for x in t.inputs(400, seed=3)]
    lo, hi = t.words
    assert lo <= min(words) and max(words) <= hi, (min(words), max(words), t.words)
    assert (f"{lo}" if lo == hi else f"{lo}-{hi}") in t.input_description


def test_text_generation_prompts_are_20_words_and_10_new_tokens():
    t = get_task("text-generation")
    assert {len(x["text"].split()) for x in t.inputs(50)} == {20}
    assert t.generation["new_tokens"] == 10
    assert get_task("summarization").generation["php_max_length"] == 15


def test_paraphrase_set_reproduces_the_reference_generator():
    xs = get_task("sentence-similarity").inputs(1000)
    groups = [x["group"] for x in xs]
    assert groups == [i // 4 for i in range(1000)]
    assert data.paraphrase_groups(8) == xs[:8]  # prefix-stable
    assert xs[0]["text"] == "The researcher washed a crimson bike in the hamlet in the evening because it was on sale."


def test_labelled_inputs_are_consistent():
    for x in get_task("question-answering").inputs(50):
        assert x["context"][x["answer_start"] :].startswith(x["answer"])
    for x in get_task("fill-mask").inputs(50):
        assert x["text"].count(data.MASK) == 1 and x["answer"]
    for x in get_task("token-classification").inputs(50):
        assert len(x["words"]) == len(x["tags"]) and x["text"] == " ".join(x["words"])
        assert {t.split("-")[-1] for t in x["tags"] if t != "O"} == {"PER", "LOC", "ORG"}
    labels = [x["label"] for x in get_task("text-classification").inputs(500)]
    assert 0.4 < np.mean(labels) < 0.6


def test_held_out_words_never_used_in_training():
    train = {w for words in data.SENTIMENT_WORDS["train"].values() for w in words}
    test = {w for words in data.SENTIMENT_WORDS["test"].values() for w in words}
    assert not train & test
    for kind in ("PER", "LOC", "ORG"):
        assert not set(data.ENTITY_POOLS["train"][kind]) & set(data.ENTITY_POOLS["test"][kind])
    texts = " ".join(x["text"] for x in data.sentiment(300, 0, "train")).lower().split()
    assert not {w.strip(".,") for w in texts} & test


def test_image_inputs():
    digits = get_task("image-classification").inputs(500)
    assert digits[0]["image"].shape == (8, 8) and digits[0]["image"].dtype == np.float32
    assert {d["label"] for d in digits} == set(range(10))
    assert 0.0 <= min(float(d["image"].min()) for d in digits) and max(float(d["image"].max()) for d in digits) <= 1
    photos = get_task("object-detection").inputs(3)
    assert all(p["image"].shape == (480, 640, 3) and p["image"].dtype == np.uint8 for p in photos)


def test_unknown_task_lists_tasks():
    with pytest.raises(WorkloadError) as e:
        get_task("text-clasification")
    msg = str(e.value)
    assert "text-classification" in msg and "sentence-similarity" in msg
    assert issubclass(WorkloadError, ValueError)
    assert get_task("ner").name == "token-classification"
    with pytest.raises(WorkloadError):
        get_task("summarization").inputs(-1)


def test_metrics():
    assert metrics.spans(["B-PER", "I-PER", "O", "B-LOC", "I-ORG"]) == {(0, 2, "PER"), (3, 4, "LOC"), (4, 5, "ORG")}
    gold = [["B-PER", "I-PER", "O", "B-LOC"]]
    assert metrics.entity_f1(gold, gold) == 1.0
    assert metrics.entity_f1(gold, [["B-PER", "O", "O", "B-LOC"]]) == pytest.approx(0.5)
    assert metrics.exact_match(["the Red Cross"], ["Red Cross."]) == 1.0
    assert metrics.squad_f1(["Maria Garcia"], ["Garcia"]) == pytest.approx(2 / 3)
    assert metrics.accuracy([1, 0], ["positive", {"label": "NEGATIVE"}], names=["negative", "positive"]) == 1.0
    assert metrics.top1_word_accuracy(["coat"], [{"token_str": "Coat"}]) == 1.0
    emb = np.repeat(np.eye(3), 4, axis=0) + 0.01 * np.arange(12)[:, None]
    assert metrics.paraphrase_recall(emb, [i // 4 for i in range(12)]) == 1.0
    assert metrics.similarity_spearman(emb, emb) == pytest.approx(1.0)
    t = get_task("sentence-similarity")
    assert t.quality(["raw string"], [np.ones(3)]) is None  # raw user inputs carry no reference


def test_import_is_light():
    code = (
        "import sys, wattlens.workloads as w; t = w.get_task('text-generation'); t.inputs(3); "
        "w.available_models('text-generation'); w.available_models('summarization'); "
        "bad = [m for m in ('torch', 'transformers', 'numpy') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
