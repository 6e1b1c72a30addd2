"""Offline inputs for every task: seeded text generators and images that scikit-learn ships.

Nothing is downloaded. Text comes from small template grammars driven by ``random.Random(seed)`` (so a
seed gives the same inputs on every machine and Python version); images come from
``sklearn.datasets.load_digits`` (8x8 hand-written digits with real labels) and
``sklearn.datasets.load_sample_images`` (two 427x640 photographs). Each generator's length
distribution is stated in the task's ``input_description`` (see ``tasks.py``) and checked by the tests.

Train/held-out separation: the sentiment and entity generators have two disjoint word pools
("train" for the heads wattlens trains itself, "test" for the task inputs), so the reported accuracy
of a trained head is measured on words it never saw in training.
"""

from __future__ import annotations

import random
from functools import lru_cache
from typing import Any

# ---------------------------------------------------------------------------------------------
# Paraphrase sentences (sentence similarity, prompts, articles, fill-mask).
# The generator of /work/shared/reference/optimization-anchors.md Appendix B (gen_sentences.py), kept
# verbatim in behaviour so that seed 0 reproduces the set measured there (250 groups x 4 paraphrases,
# 12-41 MiniLM tokens, mean 22.3).
# ---------------------------------------------------------------------------------------------
SUBJ = [
    ("the doctor", "the physician"),
    ("a young student", "a teenage pupil"),
    ("the old farmer", "the elderly grower"),
    ("my neighbour", "the person next door"),
    ("the engineer", "the technician"),
    ("a tired nurse", "an exhausted carer"),
    ("the little girl", "the small child"),
    ("our manager", "the team lead"),
    ("the chef", "the cook"),
    ("a famous singer", "a well-known vocalist"),
    ("the pilot", "the aviator"),
    ("the police officer", "the cop"),
    ("the scientist", "the researcher"),
    ("my grandmother", "my nan"),
    ("the mechanic", "the car repairman"),
    ("a lawyer", "an attorney"),
]
VERB = [
    ("bought", "purchased"),
    ("repaired", "fixed"),
    ("painted", "coloured"),
    ("lost", "misplaced"),
    ("found", "discovered"),
    ("sold", "traded away"),
    ("cleaned", "washed"),
    ("borrowed", "took on loan"),
    ("described", "explained"),
    ("photographed", "took a picture of"),
    ("delivered", "dropped off"),
    ("ordered", "requested"),
]
OBJ = [
    ("a red bicycle", "a crimson bike"),
    ("the kitchen table", "the dining table"),
    ("an old laptop", "a dated notebook computer"),
    ("a large umbrella", "a big parasol"),
    ("the wooden boat", "the timber rowboat"),
    ("a blue car", "an azure automobile"),
    ("the new sofa", "the recent couch"),
    ("a heavy suitcase", "a weighty travel bag"),
    ("the garden fence", "the yard fence"),
    ("a silver watch", "a metallic wristwatch"),
    ("the broken phone", "the damaged mobile"),
    ("a box of apples", "a crate of apples"),
    ("the concert tickets", "the show passes"),
    ("a warm jacket", "a cosy coat"),
]
PLACE = [
    ("in the city centre", "downtown"),
    ("at the market", "at the bazaar"),
    ("near the river", "close to the stream"),
    ("at the airport", "at the airfield"),
    ("in the village", "in the hamlet"),
    ("at the hospital", "at the clinic"),
    ("by the sea", "on the coast"),
    ("in the mountains", "up in the hills"),
    ("at the train station", "at the railway station"),
    ("at school", "at the academy"),
]
TIME = [
    ("yesterday", "the day before"),
    ("last week", "seven days ago"),
    ("this morning", "earlier today"),
    ("on Sunday", "at the weekend"),
    ("in the evening", "at night"),
    ("two years ago", "a couple of years back"),
]
TAIL: list[Any] = [
    "",
    "",
    "",
    ("because it was on sale", "since the price had been reduced"),
    ("and everyone was surprised by it", "which astonished all who heard about it"),
    (
        "although the weather was terrible and the roads were closed for hours",
        "even though the storm had shut the roads for most of the afternoon",
    ),
    (
        "after a long discussion with the family about money, time and whether it was needed at all",
        "following a lengthy family debate on cost, timing and whether it was really necessary",
    ),
]


def paraphrase_groups(n: int, seed: int = 0, per_group: int = 4) -> list[dict[str, Any]]:
    """``n`` sentences in consecutive groups of ``per_group`` paraphrases: ``{"text", "group"}``.

    Same algorithm as the reference ``gen_sentences.make``; ``n`` sentences = the first ``n`` of
    ``ceil(n / per_group)`` groups, so every complete group keeps its paraphrases together.
    """
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    seen: set[tuple] = set()
    groups = -(-n // per_group)
    while len(out) < groups * per_group:
        s, v, o, p, t = (rng.choice(x) for x in (SUBJ, VERB, OBJ, PLACE, TIME))
        tail = rng.choice(TAIL)
        key = (s, v, o, p, t)
        if key in seen:
            continue
        seen.add(key)
        gid = len(out) // per_group
        for k in range(per_group):

            def pick(pair: Any) -> str:
                return pair[rng.randint(0, 1)] if isinstance(pair, tuple) else pair

            S, V, Ob, P, T = pick(s), pick(v), pick(o), pick(p), pick(t)
            tl = pick(tail) if tail else ""
            form = k % 4
            if form == 0:
                sent = f"{S} {V} {Ob} {P} {T}"
            elif form == 1:
                sent = f"{T}, {S} {V} {Ob} {P}"
            elif form == 2:
                sent = f"{P}, {S} {V} {Ob} {T}"
            else:
                sent = f"{S} {V} {Ob} {T} {P}"
            if tl:
                sent += f" {tl}"
            sent = sent[0].upper() + sent[1:] + "."
            out.append({"text": sent, "group": gid})
    return out[:n]


def _plain_sentence(rng: random.Random) -> str:
    """One sentence of the paraphrase grammar (first synonym of each slot, random tail)."""
    s, v, o, p, t = (rng.choice(x)[rng.randint(0, 1)] for x in (SUBJ, VERB, OBJ, PLACE, TIME))
    tail = rng.choice(TAIL)
    tl = tail[rng.randint(0, 1)] if tail else ""
    sent = f"{s} {v} {o} {p} {t}" + (f" {tl}" if tl else "")
    return sent[0].upper() + sent[1:] + "."


# ---------------------------------------------------------------------------------------------
# Text generation prompts: exactly 20 words (PHP fed the first 20 words of each dataset text).
# ---------------------------------------------------------------------------------------------
PROMPT_WORDS = 20


def prompts(n: int, seed: int = 0, words: int = PROMPT_WORDS) -> list[dict[str, Any]]:
    rng = random.Random(seed * 7919 + 11)
    out = []
    for _ in range(n):
        toks: list[str] = []
        while len(toks) < words:
            toks += _plain_sentence(rng).split()
        out.append({"text": " ".join(toks[:words])})
    return out


# ---------------------------------------------------------------------------------------------
# Sentiment (text classification). Disjoint adjective/verb pools for training and held-out inputs.
# ---------------------------------------------------------------------------------------------
ITEMS = [
    "film",
    "movie",
    "book",
    "restaurant",
    "hotel",
    "phone",
    "album",
    "concert",
    "meal",
    "show",
    "game",
    "laptop",
    "novel",
    "play",
    "service",
    "camera",
    "series",
    "café",
    "museum",
    "flight",
]
REVIEWERS = ["I", "My friend", "My sister", "The critic", "Everyone I know", "My colleague", "We", "Our group"]
SENTIMENT_WORDS = {
    # label 1 = positive, 0 = negative
    "train": {
        1: ["great", "wonderful", "excellent", "delightful", "brilliant", "enjoyable", "charming", "superb"],
        0: ["terrible", "awful", "boring", "dreadful", "disappointing", "horrible", "dull", "poor"],
    },
    "test": {
        1: ["fantastic", "lovely", "outstanding", "marvellous", "pleasant", "amazing", "fabulous", "splendid"],
        0: ["mediocre", "tedious", "miserable", "unpleasant", "lousy", "dismal", "bland", "atrocious"],
    },
}
SENTIMENT_VERBS = {
    "train": {1: ["loved", "enjoyed", "adored"], 0: ["hated", "disliked", "regretted"]},
    "test": {1: ["really liked", "was thrilled by", "treasured"], 0: ["could not stand", "despised", "loathed"]},
}
SENTIMENT_TAILS = {
    1: ["and I would happily go again", "and I recommend it to anyone", "and it made my day", ""],
    0: ["and I would never go again", "and I want my money back", "and it ruined my evening", ""],
}
LABELS_SENTIMENT = ["negative", "positive"]


def sentiment(n: int, seed: int = 0, split: str = "test") -> list[dict[str, Any]]:
    """Labelled review sentences, half positive half negative in random order: ``{"text", "label"}``."""
    rng = random.Random(seed * 104729 + (1 if split == "train" else 2))
    words, verbs = SENTIMENT_WORDS[split], SENTIMENT_VERBS[split]
    out = []
    for _ in range(n):
        label = rng.randint(0, 1)
        item = rng.choice(ITEMS)
        who = rng.choice(REVIEWERS)
        a1, a2 = rng.sample(words[label], 2)
        form = rng.randint(0, 5)
        tail = rng.choice(SENTIMENT_TAILS[label])
        if form == 0:
            text = f"The {item} was {a1}"
        elif form == 1:
            text = f"{who} thought the {item} was {a1} and {a2}"
        elif form == 2:
            text = f"{who} {rng.choice(verbs[label])} the {item}, it was {a1}"
        elif form == 3:
            text = f"What a {a1} {item}, honestly {a2} from start to finish"
        elif form == 4:  # negation of the opposite sentiment: the label is still `label`
            text = f"The {item} was not {rng.choice(words[1 - label])} at all"
        else:  # contrast: the clause after "but" decides
            text = f"The {item} seemed {rng.choice(words[1 - label])} at first, but in the end it was {a1}"
        text += f" {tail}." if tail else "."
        out.append({"text": text, "label": label})
    return out


# ---------------------------------------------------------------------------------------------
# Named entities (token classification) and extractive QA contexts. Disjoint name pools.
# ---------------------------------------------------------------------------------------------
ENTITY_POOLS = {
    "train": {
        "PER": [
            "Alice Johnson",
            "Mark",
            "Priya Patel",
            "Tom Becker",
            "Elena",
            "Kwame Mensah",
            "Sophie Martin",
            "Hiroshi Tanaka",
            "Laura",
            "Diego Ramirez",
            "Anna Kowalska",
            "Omar",
        ],
        "LOC": [
            "Paris",
            "Berlin",
            "Nairobi",
            "Tokyo",
            "Lisbon",
            "Toronto",
            "Cairo",
            "Melbourne",
            "Oslo",
            "New York",
            "Buenos Aires",
            "Mumbai",
        ],
        "ORG": [
            "Google",
            "the United Nations",
            "Siemens",
            "Oxfam",
            "Toyota",
            "the World Bank",
            "Nestlé",
            "Microsoft",
            "Red Cross",
            "Airbus",
            "Unilever",
            "Greenpeace",
        ],
    },
    "test": {
        "PER": [
            "Maria Garcia",
            "John",
            "Fatima Khan",
            "Lukas Schmidt",
            "Chen Wei",
            "Grace",
            "Pierre Dubois",
            "Aisha Bello",
            "Daniel",
            "Yuki Sato",
            "Olga Ivanova",
            "Samuel Okafor",
        ],
        "LOC": [
            "London",
            "Madrid",
            "Lagos",
            "Seoul",
            "Rome",
            "Chicago",
            "Dublin",
            "Sydney",
            "Vienna",
            "Cape Town",
            "Mexico City",
            "Istanbul",
        ],
        "ORG": [
            "Amazon",
            "the European Union",
            "Samsung",
            "UNICEF",
            "Volkswagen",
            "NASA",
            "Philips",
            "IBM",
            "Amnesty International",
            "Boeing",
            "Shell",
            "the Red Crescent",
        ],
    },
}
NER_TEMPLATES = [
    "{PER} flew to {LOC} last week to meet people from {ORG} .",
    "Yesterday {PER} said that {ORG} will open a new office in {LOC} .",
    "The report from {ORG} was presented by {PER} in {LOC} .",
    "{PER} has worked for {ORG} since moving to {LOC} .",
    "In {LOC} , {PER} signed a contract with {ORG} on Monday .",
    "According to {PER} , {ORG} plans to hire more staff near {LOC} .",
    "{ORG} invited {PER} to speak at a conference in {LOC} .",
    "After visiting {LOC} , {PER} wrote a long letter to {ORG} .",
]
NER_TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]


def entities(n: int, seed: int = 0, split: str = "test") -> list[dict[str, Any]]:
    """Sentences with word-level BIO tags: ``{"text", "words", "tags"}`` (PER/LOC/ORG)."""
    rng = random.Random(seed * 15485863 + (1 if split == "train" else 2))
    pools = ENTITY_POOLS[split]
    out = []
    for _ in range(n):
        template = rng.choice(NER_TEMPLATES)
        words: list[str] = []
        tags: list[str] = []
        for tok in template.split():
            if tok.startswith("{") and tok.endswith("}"):
                kind = tok[1:-1]
                for i, w in enumerate(rng.choice(pools[kind]).split()):
                    words.append(w)
                    tags.append(f"{'B' if i == 0 else 'I'}-{kind}")
            else:
                words.append(tok)
                tags.append("O")
        out.append({"text": " ".join(words), "words": words, "tags": tags})
    return out


QA_FACTS = [
    ("{PER} works for {ORG} .", "Who does {PER} work for?", "ORG"),
    ("{PER} lives in {LOC} .", "Where does {PER} live?", "LOC"),
    ("The head of {ORG} is {PER} .", "Who is the head of {ORG}?", "PER"),
    ("{ORG} has its main office in {LOC} .", "Where is the main office of {ORG}?", "LOC"),
]


def qa(n: int, seed: int = 0, split: str = "test") -> list[dict[str, Any]]:
    """Extractive QA: a context of 4-7 fact sentences plus filler, one question whose answer is a span.

    ``{"question", "context", "answer", "answer_start"}`` (SQuAD style: answer is a substring of context).
    """
    rng = random.Random(seed * 32452843 + (1 if split == "train" else 2))
    pools = ENTITY_POOLS[split]
    out = []
    for _ in range(n):
        k = rng.randint(4, 7)
        sents, qas = [], []
        for _j in range(k):
            fact, question, ans_kind = rng.choice(QA_FACTS)
            fill = {kind: rng.choice(pools[kind]) for kind in ("PER", "LOC", "ORG")}
            sents.append(fact.format(**fill).replace(" .", "."))
            qas.append((question.format(**fill), fill[ans_kind], len(sents) - 1))
            if rng.random() < 0.5:
                sents.append(_plain_sentence(rng))
        q, ans, idx = rng.choice(qas)
        context = " ".join(sents)
        start = len(" ".join(sents[:idx])) + (1 if idx else 0)
        start = context.index(ans, start)
        out.append({"question": q, "context": context, "answer": ans, "answer_start": start})
    return out


# ---------------------------------------------------------------------------------------------
# Fill-mask: a paraphrase-grammar sentence with one content word replaced by the mask placeholder.
# ---------------------------------------------------------------------------------------------
MASK = "[MASK]"
_STOP = {
    "the",
    "a",
    "an",
    "my",
    "our",
    "in",
    "at",
    "by",
    "on",
    "near",
    "to",
    "of",
    "and",
    "it",
    "was",
    "for",
    "up",
    "had",
    "been",
    "all",
    "who",
    "about",
    "whether",
    "is",
    "its",
}


def fill_mask(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``{"text" (with one "[MASK]"), "answer"}``; the masked word is a content word of the sentence."""
    rng = random.Random(seed * 49979687 + 5)
    out = []
    for _ in range(n):
        words = _plain_sentence(rng).rstrip(".").split()
        cands = [i for i, w in enumerate(words) if w.lower().strip(",") not in _STOP and w.isalpha()]
        i = rng.choice(cands)
        answer = words[i]
        words[i] = MASK
        out.append({"text": " ".join(words) + ".", "answer": answer.lower()})
    return out


# ---------------------------------------------------------------------------------------------
# Summarisation: generated news-like articles of 8-16 grammar sentences with a templated reference.
# ---------------------------------------------------------------------------------------------
def articles(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``{"text", "summary"}``: an article (8-16 sentences) whose first sentence states the event the
    reference summary restates; the rest is background from the same grammar."""
    rng = random.Random(seed * 86028121 + 3)
    pools = ENTITY_POOLS["test"]
    out = []
    for _ in range(n):
        per, org, loc = (rng.choice(pools[k]) for k in ("PER", "ORG", "LOC"))
        verb = rng.choice(["announced", "confirmed", "denied", "celebrated", "postponed"])
        what = rng.choice(
            [
                "a merger",
                "a new factory",
                "job cuts",
                "a climate plan",
                "record profits",
                "a strike",
                "a product recall",
                "a research centre",
            ]
        )
        lead = f"{per} of {org} {verb} {what} in {loc} on Tuesday, officials said."
        body = [_plain_sentence(rng) for _ in range(rng.randint(7, 15))]
        out.append({"text": " ".join([lead, *body]), "summary": f"{org} {verb} {what} in {loc}."})
    return out


# ---------------------------------------------------------------------------------------------
# Text-to-image prompts (PHP cut prompts to 50 words; ours are 9-25 words).
# ---------------------------------------------------------------------------------------------
STYLES = ["a photograph", "an oil painting", "a watercolour", "a pencil sketch", "a 3D render", "a poster"]
DETAILS = [
    "",
    "",
    "highly detailed",
    "soft morning light",
    "dramatic lighting, wide angle",
    "in the style of an old postcard, muted colours, film grain",
]


def image_prompts(n: int, seed: int = 0) -> list[dict[str, Any]]:
    rng = random.Random(seed * 67867967 + 9)
    out = []
    for _ in range(n):
        s, v, o, p = (rng.choice(x)[rng.randint(0, 1)] for x in (SUBJ, VERB, OBJ, PLACE))
        det = rng.choice(DETAILS)
        text = f"{rng.choice(STYLES)} of {s} who {v} {o} {p}" + (f", {det}" if det else "")
        out.append({"text": text})
    return out


# ---------------------------------------------------------------------------------------------
# Images.
# ---------------------------------------------------------------------------------------------
DIGITS_TEST_FRACTION = 0.25
DIGITS_SPLIT_SEED = 0


@lru_cache(maxsize=1)
def digits_split() -> tuple[Any, Any, Any, Any]:
    """(x_train, y_train, x_test, y_test) of sklearn's digits: 8x8 float32 images scaled to [0, 1].

    A fixed stratified split (25 % held out, seed 0) shared by training and the task inputs, so task
    inputs are always held-out images.
    """
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)
    y = d.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=DIGITS_TEST_FRACTION, random_state=DIGITS_SPLIT_SEED, stratify=y
    )
    return x_tr, y_tr, x_te, y_te


def digits(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``{"image": float32 8x8 in [0, 1], "label": int}`` drawn from the held-out split (450 images):
    a seeded permutation, repeated if ``n`` exceeds the split."""
    import numpy as np

    _, _, x_te, y_te = digits_split()
    order = np.random.default_rng(seed).permutation(len(x_te))
    idx = [int(order[i % len(order)]) for i in range(n)]
    return [{"image": x_te[i], "label": int(y_te[i])} for i in idx]


PHOTO_SIZE = (480, 640)  # (height, width): PHP's "resized" image variant is 640x480


@lru_cache(maxsize=1)
def _sample_photos() -> tuple[Any, ...]:
    from sklearn.datasets import load_sample_images

    return tuple(load_sample_images().images)  # china.jpg, flower.jpg: 427x640x3 uint8


def photos(n: int, seed: int = 0, size: tuple[int, int] = PHOTO_SIZE) -> list[dict[str, Any]]:
    """``{"image": uint8 HxWx3}``: seeded random crops (60-100 % of each side, random horizontal flip)
    of scikit-learn's two sample photographs, resized to ``size`` (default 480x640)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    src = _sample_photos()
    out = []
    for _ in range(n):
        img = src[int(rng.integers(len(src)))]
        h, w = img.shape[:2]
        ch, cw = int(h * rng.uniform(0.6, 1.0)), int(w * rng.uniform(0.6, 1.0))
        y0, x0 = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        crop = img[y0 : y0 + ch, x0 : x0 + cw]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        pil = Image.fromarray(np.ascontiguousarray(crop)).resize((size[1], size[0]), Image.Resampling.BILINEAR)
        out.append({"image": np.array(pil, dtype=np.uint8)})  # a writable copy
    return out
