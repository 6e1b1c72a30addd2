"""The 11 tasks of ``wattlens bench``: inputs, unit, what the model is given, and the quality metric.

The ten task-specific tasks of Power Hungry Processing (benchmark-anchors.md §1.1) plus sentence
similarity. Inputs are generated offline (see ``data.py``); generation settings follow PHP: text
generation = 10 new tokens from 20-word prompts; summarisation max_length 15 / min_length 10 (we fix
min = max so every query costs the same); captioning = 20 new tokens (the transformers default
max_length of the captioning checkpoints); text-to-image = 50 denoising steps (the diffusers
pipeline default PHP used). This module is import-light (no torch, no numpy at import).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import data, metrics
from .errors import WorkloadError, close_matches

Item = dict[str, Any]


@dataclass(frozen=True)
class Task:
    name: str
    unit: str  # what one query produces/consumes: "query", "token" or "image"
    modality: str  # text | image | text->image
    description: str
    input_description: str
    metric: str  # name of the quality metric ("" = no metric is possible on offline data)
    generative: bool = False
    generation: dict[str, Any] = field(default_factory=dict)  # fixed generation settings
    labels: tuple[str, ...] = ()
    _make: Callable[[int, int], list[Item]] | None = None
    _score: Callable[[list[Item], list[Any]], float] | None = None
    model_input_key: str = "text"  # what a callable / ONNX model is given from each item
    words: tuple[int, int] | None = None  # stated min/max whitespace words of the text input (tests check it)
    outputs: str = ""  # the output format of one query (what a user callable must return per input)

    def inputs(self, n: int, seed: int = 0) -> list[Item]:
        """``n`` deterministic inputs for ``seed`` (dicts; the model-facing part is ``model_input``)."""
        if not isinstance(n, int) or n < 0:
            raise WorkloadError(f"inputs(n): n must be a non-negative int, got {n!r}")
        assert self._make is not None
        return self._make(n, seed)

    def model_input(self, item: Any) -> Any:
        """The part of an input item the model sees (a str, an image array, or {question, context})."""
        if not isinstance(item, dict):
            return item  # already a raw input (e.g. a user's own string)
        if self.model_input_key == "qa":
            return {"question": item["question"], "context": item["context"]}
        return item[self.model_input_key]

    def model_inputs(self, batch: Sequence[Any]) -> list[Any]:
        return [self.model_input(x) for x in batch]

    def quality(self, inputs: Sequence[Item], outputs: Sequence[Any]) -> float | None:
        """The task metric on (inputs, outputs); None when the inputs carry no reference."""
        if self._score is None or not inputs:
            return None
        if len(outputs) != len(inputs):
            raise WorkloadError(
                f"{self.name}: quality needs one output per input (got {len(outputs)} outputs for {len(inputs)} inputs)"
            )
        score = self._score(list(inputs), list(outputs))
        return None if score is None else float(score)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "unit": self.unit,
            "modality": self.modality,
            "description": self.description,
            "input_description": self.input_description,
            "metric": self.metric or None,
            "generative": self.generative,
            "generation": dict(self.generation),
            "outputs": self.outputs,
        }


def _has(inputs: list[Item], key: str) -> bool:
    return all(isinstance(x, dict) and key in x for x in inputs)


def _score_cls(inputs: list[Item], outputs: list[Any]) -> float:
    return metrics.accuracy([x["label"] for x in inputs], outputs, names=data.LABELS_SENTIMENT)


def _score_img(inputs: list[Item], outputs: list[Any]) -> float:
    return metrics.accuracy([x["label"] for x in inputs], outputs)


def _score_ner(inputs: list[Item], outputs: list[Any]) -> float:
    return metrics.entity_f1([x["tags"] for x in inputs], outputs)


def _score_qa(inputs: list[Item], outputs: list[Any]) -> float:
    return metrics.exact_match([x["answer"] for x in inputs], outputs)


def _score_mask(inputs: list[Item], outputs: list[Any]) -> float:
    return metrics.top1_word_accuracy([x["answer"] for x in inputs], outputs)


def _score_sum(inputs: list[Item], outputs: list[Any]) -> float:
    return metrics.rouge1_f([x["summary"] for x in inputs], outputs)


def _score_sim(inputs: list[Item], outputs: list[Any]) -> float | None:
    groups = [x["group"] for x in inputs]
    if len(set(groups)) == len(groups):
        return None  # no sentence has a paraphrase among the inputs: recall is undefined (pass >= 2 per group)
    return metrics.paraphrase_recall(outputs, groups)


def _guard(key: str, fn: Callable[[list[Item], list[Any]], Any]) -> Callable[[list[Item], list[Any]], Any]:
    """Score only when every input carries its reference (user-provided raw inputs do not)."""

    def scored(inputs: list[Item], outputs: list[Any]) -> Any:
        return fn(inputs, outputs) if _has(inputs, key) else None

    return scored


TEXT_GENERATION_NEW_TOKENS = 10
SUMMARY_NEW_TOKENS = 14  # max_length=15 counts the decoder start token: 14 generated tokens
CAPTION_NEW_TOKENS = 20
DIFFUSION_STEPS = 50

_TASKS: list[Task] = [
    Task(
        "text-classification",
        "query",
        "text",
        "binary sentiment of a short review (PHP: imdb / sst2 / rotten_tomatoes)",
        "generated English review sentences, 4-19 words, label 0/1 with probability 1/2 each; a seeded "
        "template grammar of 6 forms incl. negation ('was not <opposite>') and contrast ('seemed <opposite> at "
        "first, but in the end it was <label>') (data.sentiment, split 'test') whose sentiment adjectives and "
        "verbs are disjoint from the words used to train wattlens' own heads (split 'train')",
        "accuracy",
        labels=tuple(data.LABELS_SENTIMENT),
        words=(4, 19),
        outputs="{label: 'negative'|'positive' (or 0/1), score: float}",
        _make=lambda n, s: data.sentiment(n, s, "test"),
        _score=_guard("label", _score_cls),
    ),
    Task(
        "token-classification",
        "query",
        "text",
        "named entities PER/LOC/ORG, BIO tags per word (PHP: conll2003 / wikiann)",
        "generated sentences from 8 templates with one person, one place and one organisation each, "
        "10-17 whitespace words; names from a held-out pool disjoint from the training pool (data.entities)",
        "entity-F1",
        labels=tuple(data.NER_TAGS),
        words=(10, 17),
        outputs="list of BIO tags, one per whitespace word",
        _make=lambda n, s: data.entities(n, s, "test"),
        _score=_guard("tags", _score_ner),
    ),
    Task(
        "question-answering",
        "query",
        "text",
        "extractive QA: the answer is a span of the context (PHP: squad / squad_v2 / sciq)",
        "generated contexts of 4-7 fact sentences (plus 0-7 filler sentences; 20-190 words) with one "
        "question whose answer (a person, place or organisation name) is a span of the context (data.qa)",
        "exact-match",
        model_input_key="qa",
        words=(20, 190),
        outputs="{answer: str (a span of the context), start: int, end: int}",
        _make=lambda n, s: data.qa(n, s, "test"),
        _score=_guard("answer", _score_qa),
    ),
    Task(
        "fill-mask",
        "query",
        "text",
        "predict the masked word (PHP: bookcorpus / c4 / oscar)",
        "generated sentences of the paraphrase grammar, 8-35 words, with one content word replaced by "
        "[MASK] (replaced by the model's own mask token) (data.fill_mask)",
        "top1-accuracy",
        words=(8, 35),
        outputs="{token: int, token_str: str} (top-1 at the mask)",
        _make=data.fill_mask,
        _score=_guard("answer", _score_mask),
    ),
    Task(
        "text-generation",
        "token",
        "text",
        "continue a prompt (PHP: wikitext / bookcorpus / oscar, max_new_tokens=10 on the first 20 words)",
        f"generated prompts of exactly {data.PROMPT_WORDS} words (paraphrase-grammar sentences concatenated "
        f"and cut, data.prompts); greedy decoding of exactly {TEXT_GENERATION_NEW_TOKENS} new tokens",
        "",
        generative=True,
        generation={"new_tokens": TEXT_GENERATION_NEW_TOKENS, "decoding": "greedy", "prompt_words": data.PROMPT_WORDS},
        words=(data.PROMPT_WORDS, data.PROMPT_WORDS),
        outputs="generated text (str; Generated carries token_ids)",
        _make=data.prompts,
    ),
    Task(
        "summarization",
        "query",
        "text",
        "abstractive summary (PHP: cnn_dailymail / samsum / xsum, max_length=15, min_length=10)",
        "generated news-like articles: one lead sentence stating an event + 7-15 grammar sentences "
        f"(100-370 words), with a templated reference summary (data.articles); greedy decoding of exactly "
        f"{SUMMARY_NEW_TOKENS} new tokens (PHP's max_length=15 includes the decoder start token; min=max so "
        "every query costs the same). Note: the CNN checkpoints' own generation config uses 4 beams",
        "rouge1-F",
        generative=True,
        words=(100, 370),
        outputs="generated summary (str; Generated carries token_ids)",
        generation={"new_tokens": SUMMARY_NEW_TOKENS, "decoding": "greedy", "php_max_length": 15, "php_min_length": 10},
        _make=data.articles,
        _score=_guard("summary", _score_sum),
    ),
    Task(
        "image-classification",
        "image",
        "image",
        "classify an image (PHP: imagenet / cifar10 / cifar100)",
        "scikit-learn's load_digits: 8x8 grey-scale hand-written digits with real labels 0-9, drawn from a "
        "fixed stratified 25 % held-out split (450 images; seeded order, repeated beyond 450); models with "
        "a larger input upsample them bilinearly to their own size and 3 channels",
        "accuracy",
        labels=tuple(str(i) for i in range(10)),
        model_input_key="image",
        outputs="{label: int class index, score: float}",
        _make=data.digits,
        _score=_guard("label", _score_img),
    ),
    Task(
        "object-detection",
        "image",
        "image",
        "boxes + labels (PHP: coco / visual genome / CPPE-5, resized variant 640x480)",
        "seeded random crops (60-100 % per side, random flip) of scikit-learn's two sample photographs "
        "(china.jpg, flower.jpg), resized to 480x640 RGB; no box annotations exist offline, so no metric",
        "",
        model_input_key="image",
        outputs="{boxes: [[x0, y0, x1, y1], ...] in input pixels, labels: [int], scores: [float]} (score > 0.5)",
        _make=data.photos,
    ),
    Task(
        "image-to-text",
        "image",
        "image",
        "caption an image (PHP: coco / redcaps / visual genome)",
        "the object-detection photographs (480x640 RGB crops of scikit-learn's sample images); greedy "
        f"decoding of exactly {CAPTION_NEW_TOKENS} new tokens; no reference captions offline, so no metric",
        "",
        generative=True,
        model_input_key="image",
        outputs="caption (str; Generated carries token_ids)",
        generation={"new_tokens": CAPTION_NEW_TOKENS, "decoding": "greedy"},
        _make=data.photos,
    ),
    Task(
        "text-to-image",
        "image",
        "text->image",
        "generate an image from a prompt (PHP: diffusiondb / ImageReward / SD-prompts, 50 steps)",
        "generated prompts of 11-30 words (style + paraphrase-grammar scene + optional detail, "
        f"data.image_prompts); {DIFFUSION_STEPS} denoising steps by default (the diffusers pipeline default), "
        "classifier-free guidance (two UNet rows per image); no metric offline",
        "",
        generation={"steps": DIFFUSION_STEPS, "guidance": 7.5},
        words=(11, 30),
        outputs="image (uint8 array HxWx3)",
        _make=data.image_prompts,
    ),
    Task(
        "sentence-similarity",
        "query",
        "text",
        "sentence embeddings (all-MiniLM-L6-v2: mean pooling + L2 normalisation)",
        "generated paraphrase set (optimization-anchors.md Appendix B, gen_sentences.py): consecutive "
        "groups of 4 paraphrases (synonym swaps, clause re-ordering, optional long tails), 8-35 words, "
        "12-41 MiniLM tokens (mean 22.3 for 1,000 sentences, seed 0)",
        "para-recall@3",
        words=(8, 35),
        outputs="embedding vector (float32 array, L2-normalised)",
        _make=data.paraphrase_groups,
        _score=_guard("group", _score_sim),
    ),
]

TASKS: dict[str, Task] = {t.name: t for t in _TASKS}
# The one table of names people use for the tasks (PHP, AI Energy Score, HF pipelines) -> our task names;
# suites, ratings and the reference population all resolve through it (canonical_task / get_task).
TASK_ALIASES = {
    "sentiment": "text-classification",
    "ner": "token-classification",
    "qa": "question-answering",
    "extractive-qa": "question-answering",
    "mlm": "fill-mask",
    "masked-lm": "fill-mask",
    "generation": "text-generation",
    "summarisation": "summarization",
    "captioning": "image-to-text",
    "image-captioning": "image-to-text",
    "image-generation": "text-to-image",
    "detection": "object-detection",
    "embedding": "sentence-similarity",
    "feature-extraction": "sentence-similarity",
    "sentence-embedding": "sentence-similarity",
}


def canonical_task(name: str) -> str:
    """Our name for a task given under any of its aliases (``"qa"`` -> ``"question-answering"``); a name that
    is no known task comes back normalised (lower case, dashes) but otherwise unchanged."""
    key = str(name).strip().lower().replace("_", "-")
    return TASK_ALIASES.get(key, key)


def get_task(name: str | Task) -> Task:
    """The task of that name (a few aliases such as "ner", "qa", "summarisation" are accepted)."""
    if isinstance(name, Task):
        return name
    key = canonical_task(name)
    if key in TASKS:
        return TASKS[key]
    hint = close_matches(str(name), [*TASKS, *TASK_ALIASES])
    raise WorkloadError(
        f"unknown task {name!r}"
        + (f" (did you mean {', '.join(hint)}?)" if hint else "")
        + f"; tasks: {', '.join(TASKS)}"
    )
