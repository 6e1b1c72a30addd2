"""Small models wattlens trains itself on offline data, with real held-out quality (``weights: trained``).

* ``digits-cnn`` / ``digits-mlp``: image classifiers trained on scikit-learn's ``load_digits`` (75 % split),
  scored on the 25 % held-out split (the image-classification task inputs).
* ``minilm-sentiment``: a logistic-regression head on frozen all-MiniLM-L6-v2 sentence embeddings of the
  generated sentiment corpus (``data.sentiment``, split "train"); scored on split "test", whose sentiment
  words never occur in training, so the accuracy measures MiniLM's generalisation, not memorisation.
* ``minilm-ner``: a logistic-regression token head on frozen MiniLM token states (first sub-token of each
  word, with its neighbours' states) for generated sentences with PER/LOC/ORG spans (``data.entities``);
  held-out names are disjoint.
* ``minilm-qa``: logistic-regression start/end span heads on frozen MiniLM states of (question, context)
  plus a question-sentence similarity feature, trained on generated extractive-QA examples (``data.qa``);
  scored by exact match on contexts whose names never occur in training.

Each recipe is hashed; the trained weights are cached at ``$WATTLENS_CACHE_DIR`` or
``~/.cache/wattlens/models/<name>-<hash>.pt`` so later runs reuse them (a changed recipe retrains).
Training, when needed, happens inside ``load_workload`` (the bench's load window) and is recorded in
``w.info["training"]``.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any

from . import data, minilm
from ._runtime import cache_dir, count_params, recipe_key, seeded, torch_dtype
from .base import Workload
from .device import to_device
from .tasks import Task

RECIPE_VERSION = 1  # bump when training code changes in a way the recipe dict does not capture

DIGITS_RECIPES: dict[str, dict[str, Any]] = {
    "digits-cnn": {
        "arch": "cnn",
        "conv": [16, 32],
        "hidden": 64,
        "epochs": 30,
        "lr": 3e-3,
        "batch": 128,
        "weight_decay": 1e-4,
        "seed": 0,
    },
    "digits-mlp": {
        "arch": "mlp",
        "hidden": 64,
        "epochs": 40,
        "lr": 3e-3,
        "batch": 128,
        "weight_decay": 1e-4,
        "seed": 0,
    },
}
SENTIMENT_RECIPE: dict[str, Any] = {
    "train_sentences": 320,
    "train_seed": 0,
    "C": 4.0,
    "holdout_sentences": 200,
    "holdout_seed": 1,
    "features": "all-MiniLM-L6-v2 mean-pooled, L2-normalised",
}
NER_RECIPE: dict[str, Any] = {
    "train_sentences": 200,
    "train_seed": 0,
    "C": 2.0,
    "holdout_sentences": 100,
    "holdout_seed": 1,
    "features": "all-MiniLM-L6-v2 last hidden state of each word's first sub-token, concatenated with "
    "the previous and next word's (zeros at the edges)",
}


@contextmanager
def _one_thread() -> Any:
    """Train on one thread: these models are tiny, and on a shared 2-core machine more threads only add
    contention (digits-cnn trains ~3x faster single-threaded there). The caller's setting is restored."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# ---------------------------------------------------------------------------------------------------------
# Cache
# ---------------------------------------------------------------------------------------------------------
def _cached(name: str, recipe: dict[str, Any], train: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(state, training info): load ``name``'s weights for ``recipe`` from the cache, or train and save."""
    import torch

    full = {"name": name, "version": RECIPE_VERSION, **recipe}
    key = recipe_key(full)
    path = cache_dir() / f"{name}-{key}.pt"
    if path.exists():
        try:
            blob = torch.load(path, weights_only=True)
            return blob["state"], {**blob["meta"], "cached": True, "cache_path": str(path)}
        except Exception:  # a corrupt/partial file: retrain rather than fail the bench
            path.unlink(missing_ok=True)
    t0 = time.perf_counter()
    with _one_thread():
        state, meta = train()
    meta = {**meta, "recipe": full, "recipe_hash": key, "train_seconds": round(time.perf_counter() - t0, 2)}
    tmp = path.with_suffix(".tmp")
    torch.save({"state": state, "meta": meta}, tmp)
    tmp.replace(path)  # atomic: a concurrent reader never sees half a file
    return state, {**meta, "cached": False, "cache_path": str(path)}


# ---------------------------------------------------------------------------------------------------------
# Digits classifiers
# ---------------------------------------------------------------------------------------------------------
def _digits_net(recipe: dict[str, Any]) -> Any:
    from torch import nn

    if recipe["arch"] == "cnn":
        c1, c2 = recipe["conv"]
        return nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(c1, c2, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(c2 * 16, recipe["hidden"]),
            nn.ReLU(),
            nn.Linear(recipe["hidden"], 10),
        )
    return nn.Sequential(nn.Flatten(), nn.Linear(64, recipe["hidden"]), nn.ReLU(), nn.Linear(recipe["hidden"], 10))


def _train_digits(recipe: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    import torch

    x_tr, y_tr, x_te, y_te = data.digits_split()
    xt, yt = torch.from_numpy(x_tr).unsqueeze(1), torch.from_numpy(y_tr)
    with seeded(recipe["seed"]):
        net = _digits_net(recipe)
        opt = torch.optim.AdamW(net.parameters(), lr=recipe["lr"], weight_decay=recipe["weight_decay"])
        gen = torch.Generator().manual_seed(recipe["seed"])
        for _ in range(recipe["epochs"]):
            perm = torch.randperm(len(xt), generator=gen)
            for i in range(0, len(xt), recipe["batch"]):
                idx = perm[i : i + recipe["batch"]]
                loss = torch.nn.functional.cross_entropy(net(xt[idx]), yt[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
    net.eval()
    with torch.inference_mode():
        acc = float((net(torch.from_numpy(x_te).unsqueeze(1)).argmax(-1) == torch.from_numpy(y_te)).float().mean())
    meta = {
        "train_examples": len(xt),
        "holdout_examples": len(x_te),
        "holdout_accuracy": round(acc, 4),
        "data": "sklearn load_digits, stratified 75/25 split (seed 0)",
    }
    return {k: v.detach().clone() for k, v in net.state_dict().items()}, meta


class DigitsClassifier(Workload):
    def __init__(self, task: Task, name: str, precision: str, threads: int | None, batch: int, device: str = "cpu"):
        recipe = DIGITS_RECIPES[name]
        state, meta = _cached(name, recipe, lambda: _train_digits(recipe))  # trained on the CPU, then moved
        net = _digits_net(recipe)
        net.load_state_dict(state)
        self.model = net.eval().to(device=device, dtype=torch_dtype(precision))
        self.dtype = torch_dtype(precision)
        desc = (
            "small CNN (2 conv 3x3 layers 16/32 ch, max-pool, 64-unit dense) trained by wattlens on sklearn digits"
            if recipe["arch"] == "cnn"
            else "MLP (64-64-10) trained by wattlens on sklearn digits"
        )
        super().__init__(
            task,
            name,
            "trained",
            "pytorch",
            precision,
            threads,
            count_params(net),
            batch,
            {"description": desc, "training": meta, "size": "small", "input_size": "8x8x1"},
            device=device,
        )

    def _run(self, batch: list[Any]) -> list[Any]:
        import numpy as np
        import torch

        x = torch.from_numpy(np.stack([np.asarray(self.task_def.model_input(b), dtype=np.float32) for b in batch]))
        with torch.inference_mode():
            probs = self.model(x.unsqueeze(1).to(device=self.device, dtype=self.dtype)).float().softmax(-1).cpu()
        score, idx = probs.max(-1)
        return [{"label": int(i), "score": float(s)} for s, i in zip(score, idx, strict=True)]


# ---------------------------------------------------------------------------------------------------------
# Heads on frozen MiniLM
# ---------------------------------------------------------------------------------------------------------
def _fit_logreg(x: Any, y: Any, c: float) -> tuple[Any, Any]:
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=c, max_iter=2000)
    clf.fit(x, y)
    return clf.coef_, clf.intercept_


def _train_sentiment(encoder: Any, tokenizer: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    import numpy as np
    import torch

    r = SENTIMENT_RECIPE
    tr = data.sentiment(r["train_sentences"], r["train_seed"], "train")
    te = data.sentiment(r["holdout_sentences"], r["holdout_seed"], "test")
    x_tr = minilm.embed(encoder, tokenizer, [d["text"] for d in tr]).numpy()
    x_te = minilm.embed(encoder, tokenizer, [d["text"] for d in te]).numpy()
    coef, bias = _fit_logreg(x_tr, [d["label"] for d in tr], r["C"])
    if coef.shape[0] == 1:  # binary logistic regression -> two-logit linear layer
        coef = [-coef[0] / 2, coef[0] / 2]
        bias = [-bias[0] / 2, bias[0] / 2]
    w = torch.tensor(np.asarray(coef), dtype=torch.float32)
    b = torch.tensor(np.asarray(bias), dtype=torch.float32)
    acc = float(
        ((torch.from_numpy(x_te) @ w.T + b).argmax(-1) == torch.tensor([d["label"] for d in te])).float().mean()
    )
    return {"weight": w, "bias": b}, {
        "train_examples": len(tr),
        "holdout_examples": len(te),
        "holdout_accuracy": round(acc, 4),
        "data": "data.sentiment: train words vs disjoint held-out words",
    }


def _word_features(encoder: Any, tokenizer: Any, sentences: list[list[str]], batch_size: int = 64) -> Any:
    """MiniLM last-layer state of each word's first sub-token, stacked over all words of all sentences."""
    import torch

    rows = []
    with torch.inference_mode():
        for i in range(0, len(sentences), batch_size):
            part = sentences[i : i + batch_size]
            enc = tokenizer(
                part,
                is_split_into_words=True,
                padding=True,
                truncation=True,
                max_length=minilm.MAX_LENGTH,
                return_tensors="pt",
            )
            # the encoder runs where it lives; the per-word gathering below is small and stays on the CPU
            hidden = encoder(**to_device(dict(enc), _device_of(encoder))).last_hidden_state.float().cpu()
            for j in range(len(part)):
                rows.append(with_context(hidden[j, _first_positions(enc.word_ids(j), len(part[j]))]))
    return torch.cat(rows) if rows else torch.zeros(0, 3 * encoder.config.hidden_size)


def _device_of(module: Any) -> str:
    return str(next(module.parameters()).device)


def with_context(words: Any) -> Any:
    """(n_words, H) -> (n_words, 3H): each word's state with its left and right neighbours' (zeros at edges).
    The neighbours tell a token head whether a capitalised word follows "in", "at" or "said" (held-out F1
    0.74 -> 0.82 on the generated entity set)."""
    import torch

    pad = torch.zeros_like(words[:1])
    return torch.cat([words, torch.cat([pad, words[:-1]]), torch.cat([words[1:], pad])], dim=-1)


def _first_positions(word_ids: list[int | None], n_words: int) -> list[int]:
    first: dict[int, int] = {}
    for pos, wid in enumerate(word_ids):
        if wid is not None and wid not in first:
            first[wid] = pos
    return [first.get(w, 0) for w in range(n_words)]


def _train_ner(encoder: Any, tokenizer: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    import torch

    from .metrics import entity_f1

    r = NER_RECIPE
    tr = data.entities(r["train_sentences"], r["train_seed"], "train")
    te = data.entities(r["holdout_sentences"], r["holdout_seed"], "test")
    tag_id = {t: i for i, t in enumerate(data.NER_TAGS)}
    x_tr = _word_features(encoder, tokenizer, [d["words"] for d in tr]).numpy()
    y_tr = [tag_id[t] for d in tr for t in d["tags"]]
    coef, bias = _fit_logreg(x_tr, y_tr, r["C"])
    w = torch.zeros(len(data.NER_TAGS), coef.shape[1])
    b = torch.full((len(data.NER_TAGS),), -1e4)  # a tag never seen in training is never predicted
    seen = sorted(set(y_tr))
    w[seen] = torch.tensor(coef, dtype=torch.float32)
    b[seen] = torch.tensor(bias, dtype=torch.float32)
    pred = (_word_features(encoder, tokenizer, [d["words"] for d in te]) @ w.T + b).argmax(-1).tolist()
    tags, k = [], 0
    for d in te:
        tags.append([data.NER_TAGS[p] for p in pred[k : k + len(d["words"])]])
        k += len(d["words"])
    f1 = entity_f1([d["tags"] for d in te], tags)
    return {"weight": w, "bias": b}, {
        "train_examples": len(tr),
        "train_words": len(y_tr),
        "holdout_examples": len(te),
        "holdout_entity_f1": round(f1, 4),
        "data": "data.entities: train names vs disjoint held-out names",
    }


class _MiniLMHead(Workload):
    """Frozen all-MiniLM-L6-v2 encoder (real weights) + a linear head trained by wattlens."""

    name = ""
    head_desc = ""
    head_on_device = False  # True: the head takes the encoder's output where it is (sentence head)

    def __init__(self, task: Task, precision: str, threads: int | None, batch: int, device: str = "cpu"):
        self.tokenizer = minilm.load_tokenizer()
        fp32 = minilm.load_encoder()
        state, meta = _cached(self.name, self._recipe(), lambda: self._train(fp32))  # trained on the CPU
        self.encoder = fp32.to(device=device, dtype=torch_dtype(precision))
        self.model = self.encoder  # what optimisers transform (quantise, export)
        self.device = device
        # the sentence head runs next to the encoder; the token/span heads get CPU features (see _word_features)
        head_dev = device if self.head_on_device else "cpu"
        self.weight, self.bias = state["weight"].to(head_dev), state["bias"].to(head_dev)
        params = count_params(self.encoder) + self.weight.numel() + self.bias.numel()
        super().__init__(
            task,
            self.name,
            "trained",
            "pytorch",
            precision,
            threads,
            params,
            batch,
            {
                "description": self.head_desc,
                "training": meta,
                "size": "small",
                "encoder": str(minilm.model_path()),
                "tokenizer": "all-MiniLM-L6-v2 (its own)",
            },
            device=device,
        )

    def _recipe(self) -> dict[str, Any]:
        raise NotImplementedError

    def _train(self, encoder: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        raise NotImplementedError

    def _input_tokens(self, item: Any) -> int:
        return len(
            self.tokenizer(str(self.task_def.model_input(item)), truncation=True, max_length=minilm.MAX_LENGTH)[
                "input_ids"
            ]
        )


class MiniLMSentiment(_MiniLMHead):
    name = "minilm-sentiment"
    head_on_device = True
    head_desc = (
        "all-MiniLM-L6-v2 (real weights, frozen) + logistic-regression head trained by wattlens on the "
        "generated sentiment corpus"
    )

    def _recipe(self) -> dict[str, Any]:
        return SENTIMENT_RECIPE

    def _train(self, encoder: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        return _train_sentiment(encoder, self.tokenizer)

    def _run(self, batch: list[Any]) -> list[Any]:
        import torch

        enc = to_device(
            minilm.tokenize(self.tokenizer, [str(self.task_def.model_input(x)) for x in batch]), self.device
        )
        with torch.inference_mode():
            hidden = self.encoder(**enc).last_hidden_state
            emb = torch.nn.functional.normalize(minilm.mean_pool(hidden, enc["attention_mask"]), dim=-1)
            probs = (emb @ self.weight.T + self.bias).softmax(-1).cpu()
        score, idx = probs.max(-1)
        return [{"label": data.LABELS_SENTIMENT[int(i)], "score": float(s)} for s, i in zip(score, idx, strict=True)]


class MiniLMNer(_MiniLMHead):
    name = "minilm-ner"
    head_desc = (
        "all-MiniLM-L6-v2 (real weights, frozen) + logistic-regression token head (BIO PER/LOC/ORG) "
        "trained by wattlens on generated entity sentences"
    )

    def _recipe(self) -> dict[str, Any]:
        return NER_RECIPE

    def _train(self, encoder: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        return _train_ner(encoder, self.tokenizer)

    def _run(self, batch: list[Any]) -> list[Any]:
        words = [str(self.task_def.model_input(x)).split() for x in batch]
        feats = _word_features(self.encoder, self.tokenizer, words, batch_size=max(1, len(words)))
        pred = (feats @ self.weight.T + self.bias).argmax(-1).tolist()
        out, k = [], 0
        for w in words:
            out.append([data.NER_TAGS[p] for p in pred[k : k + len(w)]])
            k += len(w)
        return out


# ---------------------------------------------------------------------------------------------------------
# Extractive QA head
# ---------------------------------------------------------------------------------------------------------
QA_RECIPE: dict[str, Any] = {
    "train_examples": 60,
    "train_seed": 0,
    "C": 0.5,
    "holdout_examples": 30,
    "holdout_seed": 1,
    "max_answer_tokens": 30,
    "features": "all-MiniLM-L6-v2 states of (question, context) context tokens, "
    "with left/right neighbours, the product with the mean question state, the cosine between the "
    "token's sentence (mean state) and the question, and whether that sentence is the most similar",
}
SIM_SCALE = 10.0  # puts the two sentence-similarity features on the scale of the token-state features


def _qa_features(encoder: Any, tokenizer: Any, items: list[dict[str, Any]], batch_size: int = 16) -> list[Any]:
    """Per item: (features of its context tokens (n, 4H + 2), their character offsets (n, 2)).

    The answer sits in the sentence that restates the question's subject: the cosine between each
    sentence's mean token state and the question's tells the span heads where to look (held-out exact
    match 0.35 -> 0.93 on the generated set); the token features tell them which name in it to pick.
    """
    import re

    import torch

    # length-sorted batches waste less compute on padding; results are put back in input order
    order = sorted(range(len(items)), key=lambda k: len(items[k]["context"]))
    out: list[Any] = [None] * len(items)
    with torch.inference_mode():
        for i in range(0, len(items), batch_size):
            idx = order[i : i + batch_size]
            part = [items[k] for k in idx]
            enc = tokenizer(
                [x["question"] for x in part],
                [x["context"] for x in part],
                padding=True,
                truncation="only_second",
                max_length=384,
                return_offsets_mapping=True,
                return_tensors="pt",
            )
            offsets = enc.pop("offset_mapping")
            # the encoder runs where it lives; the per-sentence features below are small and stay on the CPU
            hidden = encoder(**to_device(dict(enc), _device_of(encoder))).last_hidden_state.float().cpu()
            for j in range(len(part)):
                seq = enc.sequence_ids(j)
                q_pos = [k for k, s in enumerate(seq) if s == 0]
                c_pos = [k for k, s in enumerate(seq) if s == 1]
                q = torch.nn.functional.normalize(hidden[j, q_pos].mean(0), dim=-1)
                h, off = hidden[j, c_pos], offsets[j, c_pos]
                ends = [m.end() for m in re.finditer(r"\.(\s|$)", part[j]["context"])]
                sid = torch.tensor([sum(int(s) >= e for e in ends) for s in off[:, 0]])
                sent = torch.stack(
                    [
                        h[sid == k].mean(0) if bool((sid == k).any()) else torch.zeros(h.shape[1])
                        for k in range(int(sid.max()) + 1)
                    ]
                )
                sim = torch.nn.functional.normalize(sent, dim=-1) @ q
                tok_sim = sim[sid]
                best = (tok_sim == sim.max()).float()
                feats = [with_context(h), h * q, SIM_SCALE * tok_sim[:, None], SIM_SCALE * best[:, None]]
                out[idx[j]] = (torch.cat(feats, -1), off)
    return out


def _qa_targets(item: dict[str, Any], offsets: Any) -> tuple[Any, Any]:
    start, end = item["answer_start"], item["answer_start"] + len(item["answer"])
    return offsets[:, 0] == start, offsets[:, 1] == end


def best_span(start_logit: Any, end_logit: Any, max_tokens: int) -> tuple[int, int]:
    """Token span (a, b), a <= b < a + max_tokens, maximising log P(start=a) + log P(end=b)."""
    import torch

    scores = torch.nn.functional.logsigmoid(start_logit)[:, None] + torch.nn.functional.logsigmoid(end_logit)[None]
    n = scores.shape[0]
    ones = torch.ones(n, n, dtype=torch.bool)
    valid = torch.triu(ones) & ~torch.triu(ones, diagonal=max_tokens)
    return divmod(int(scores.masked_fill(~valid, float("-inf")).argmax()), n)


def _qa_answers(items: list[dict[str, Any]], feats: list[Any], w: Any, b: Any, max_tokens: int) -> list[Any]:
    out = []
    for item, (x, off) in zip(items, feats, strict=True):
        logits = x @ w.T + b  # (n, 2): start, end
        a, e = best_span(logits[:, 0], logits[:, 1], max_tokens)
        ctx = item["context"]
        out.append({"answer": ctx[int(off[a][0]) : int(off[e][1])], "start": int(off[a][0]), "end": int(off[e][1])})
    return out


def _train_qa(encoder: Any, tokenizer: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    import numpy as np
    import torch

    from .metrics import exact_match

    r = QA_RECIPE
    tr = data.qa(r["train_examples"], r["train_seed"], "train")
    te = data.qa(r["holdout_examples"], r["holdout_seed"], "test")
    feats = _qa_features(encoder, tokenizer, tr)
    x = torch.cat([f for f, _ in feats]).numpy()
    targets = [_qa_targets(item, off) for item, (_, off) in zip(tr, feats, strict=True)]
    rows_w, rows_b = [], []
    for k in range(2):  # one binary logistic regression for "starts the answer", one for "ends it"
        y = np.concatenate([t[k].numpy() for t in targets]).astype(int)
        coef, bias = _fit_logreg(x, y, r["C"])
        rows_w.append(coef[0])
        rows_b.append(bias[0])
    w = torch.tensor(np.stack(rows_w), dtype=torch.float32)
    b = torch.tensor(np.asarray(rows_b), dtype=torch.float32)
    pred = _qa_answers(te, _qa_features(encoder, tokenizer, te), w, b, r["max_answer_tokens"])
    em = exact_match([item["answer"] for item in te], pred)
    return {"weight": w, "bias": b}, {
        "train_examples": len(tr),
        "train_tokens": len(x),
        "holdout_examples": len(te),
        "holdout_exact_match": round(em, 4),
        "data": "data.qa: train names vs disjoint held-out names",
    }


class MiniLMQA(_MiniLMHead):
    name = "minilm-qa"
    head_desc = (
        "all-MiniLM-L6-v2 (real weights, frozen) + logistic-regression start/end span heads trained by "
        "wattlens on generated extractive-QA examples"
    )

    def _recipe(self) -> dict[str, Any]:
        return QA_RECIPE

    def _train(self, encoder: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        return _train_qa(encoder, self.tokenizer)

    def _run(self, batch: list[Any]) -> list[Any]:
        items = [self.task_def.model_input(x) for x in batch]
        feats = _qa_features(self.encoder, self.tokenizer, items, batch_size=max(1, len(items)))
        return _qa_answers(items, feats, self.weight, self.bias, QA_RECIPE["max_answer_tokens"])

    def _input_tokens(self, item: Any) -> int:
        x = self.task_def.model_input(item)
        return len(self.tokenizer(x["question"], x["context"], truncation="only_second", max_length=384)["input_ids"])
