"""transformers models as workloads: random-weight presets, local directories and cached hub ids.

One Workload class per way of querying (classification, tokens, QA, fill-mask, images, detection,
embeddings) plus three generative ones with explicit prefill/decode phases (decoder-only, encoder-decoder,
image captioning). Decoding is greedy with a fixed number of new tokens (no early stop on EOS), so every
query of a task generates the same number of tokens and energies compare across models.

Random-weight presets have no tokenizer of their own offline: they use the bert-base-uncased WordPiece
tokenizer shipped with all-MiniLM-L6-v2 as a stand-in (token ids folded modulo the model's vocabulary
where it is smaller). Sequence lengths therefore differ a little from the real tokenizer's (GPT-2's BPE
gives a similar ~1.3 tokens per English word); ``w.info["tokenizer"]`` says which tokenizer was used.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

from . import minilm
from ._runtime import count_params, seed_of, seeded, torch_dtype
from .base import Generated, Workload
from .device import to_device
from .errors import WorkloadError
from .tasks import Task

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
QA_MAX_LENGTH = 384  # the question-answering pipeline's max_seq_len
QA_MAX_ANSWER = 30  # the question-answering pipeline's max_answer_len
DETECTION_THRESHOLD = 0.5  # the object-detection pipeline's default threshold
MIN_VOCAB = 100  # a loaded tokenizer with fewer tokens has no vocabulary files behind it

# task -> transformers Auto class used to build a random model or load a user's directory
AUTO_CLASS = {
    "text-classification": "AutoModelForSequenceClassification",
    "token-classification": "AutoModelForTokenClassification",
    "question-answering": "AutoModelForQuestionAnswering",
    "fill-mask": "AutoModelForMaskedLM",
    "text-generation": "AutoModelForCausalLM",
    "summarization": "AutoModelForSeq2SeqLM",
    "image-classification": "AutoModelForImageClassification",
    "object-detection": "AutoModelForObjectDetection",
    "image-to-text": "AutoModelForImageTextToText",
    "sentence-similarity": "AutoModel",
}


# ---------------------------------------------------------------------------------------------------------
# Building / loading
# ---------------------------------------------------------------------------------------------------------
@dataclass
class Loaded:
    """A model plus what is needed to feed it."""

    model: Any
    tokenizer: Any = None
    tokenizer_note: str = ""
    image_size: Any = None  # int (square) or ("shortest_edge", n, longest) for detectors
    image_processor: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


def build_random(arch: Any, task: Task) -> Loaded:
    """A preset with seeded random weights (same weights on every run), built with the task's head."""
    import transformers

    from .architectures import build_config

    cfg = build_config(arch)
    cls_name = arch.model_class if task.name in ("image-to-text",) or arch.task == task.name else AUTO_CLASS[task.name]
    cls = getattr(transformers, cls_name)
    with seeded(seed_of(arch.name)):
        model = cls.from_config(cfg) if cls_name.startswith("Auto") else cls(cfg)
    if not _reads_or_writes_text(task):  # an image classifier or detector needs no tokenizer (nor its package)
        return Loaded(model=model.eval(), image_size=_image_size_of(arch, task))
    return Loaded(
        model=model.eval(),
        tokenizer=minilm.load_tokenizer(),
        tokenizer_note="stand-in: bert-base-uncased WordPiece from all-MiniLM-L6-v2 (ids folded to vocab)",
        image_size=_image_size_of(arch, task),
    )


def _reads_or_writes_text(task: Task) -> bool:
    return task.modality == "text" or task.name == "image-to-text"


def _image_size_of(arch: Any, task: Task) -> Any:
    size = arch.extra.get("image_size")
    if size is None:
        return None
    if task.name == "object-detection":
        # DETR's processor: shortest edge 800, longest 1333; YOLOS-tiny's: shortest edge 512
        return ("shortest_edge", int(size), 1333)
    return int(size)


def load_pretrained(source: str, task: Task, local: bool, **model_kwargs: Any) -> Loaded:
    """A user's model: a local directory or a hub id already in the local cache (never downloaded).

    ``model_kwargs`` go to ``from_pretrained`` (e.g. ``attn_implementation="eager"``, which exports to ONNX)."""
    import transformers

    model = load_model(source, task, local, **model_kwargs)
    loaded = Loaded(model=model)
    try:
        loaded.tokenizer = load_tokenizer(source)
        loaded.tokenizer_note = f"the model's own tokenizer ({type(loaded.tokenizer).__name__})"
    except (OSError, ValueError, TypeError):
        if task.modality != "image" or task.name == "image-to-text":
            loaded.tokenizer = minilm.load_tokenizer()
            loaded.tokenizer_note = "stand-in: no tokenizer files next to the model; bert-base-uncased WordPiece"
    if task.modality == "image":
        try:
            loaded.image_processor = transformers.AutoImageProcessor.from_pretrained(source, local_files_only=True)
        except (OSError, ValueError, TypeError):
            size = getattr(getattr(model.config, "vision_config", model.config), "image_size", 224)
            size = size if isinstance(size, int) else int(min(size))
            loaded.image_size = ("shortest_edge", 800, 1333) if task.name == "object-detection" else size
    return loaded


def load_model(source: str, task: Task, local: bool, **model_kwargs: Any) -> Any:
    """The model alone (eval mode) of :func:`load_pretrained`: the task's Auto class, local files only."""
    import transformers

    cls = getattr(transformers, AUTO_CLASS[task.name])
    try:
        model = cls.from_pretrained(source, local_files_only=True, **model_kwargs)
    except Exception as exc:  # OSError (not cached), ValueError/KeyError (not a model for this task), ...
        if local:
            raise WorkloadError(f"could not load a {task.name} model from {source!r}: {exc}") from exc
        raise WorkloadError(
            f"model {source!r} is not a wattlens preset, not a local path and not in the local Hugging Face "
            "cache; wattlens never downloads (no network / no hub at run time). Pass a local directory saved "
            "with save_pretrained(), an .onnx file, or a 'module:function' callable."
        ) from exc
    return model.eval()


def load_tokenizer(source: str) -> Any:
    """The tokenizer saved with a model (local files only); OSError / ValueError / TypeError when there is none."""
    import transformers

    tok = transformers.AutoTokenizer.from_pretrained(source, local_files_only=True)
    # transformers 5 builds an empty tokenizer (a handful of special tokens) when a directory has a
    # config but no vocabulary files: that is no tokenizer at all
    if len(tok) < MIN_VOCAB:
        raise ValueError(f"tokenizer at {source} has only {len(tok)} tokens")
    return tok


# ---------------------------------------------------------------------------------------------------------
# Shared input preparation
# ---------------------------------------------------------------------------------------------------------
def _fold(ids: Any, vocab: int) -> Any:
    """Keep stand-in token ids inside the model's vocabulary (a no-op when they already fit)."""
    return ids.remainder(vocab) if ids.numel() and int(ids.max()) >= vocab else ids


def _vocab(model: Any) -> int:
    cfg = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    return int(getattr(cfg, "vocab_size", 0) or 0) or 1 << 30


def pixel_batch(images: list[Any], size: Any, dtype: Any) -> Any:
    """Images (HxW float in [0,1] or HxWx3 uint8) -> normalised (B, 3, H', W') tensor of the model's size.

    ``size``: an int (square resize, as ViT/ResNet/BLIP/GIT processors) or ("shortest_edge", n, longest)
    (aspect kept, as the DETR/YOLOS processors). Bilinear, ImageNet mean/std.
    """
    import numpy as np
    import torch
    import torch.nn.functional as F

    arrs = []
    for img in images:
        a = np.asarray(img)
        t = torch.from_numpy(np.ascontiguousarray(a)).float()
        if a.dtype == np.uint8:
            t = t / 255.0
        if t.ndim == 2:
            t = t.unsqueeze(-1).expand(*t.shape, 3)
        arrs.append(t.permute(2, 0, 1))
    h, w = arrs[0].shape[1:]
    if isinstance(size, tuple):
        _, short, longest = size
        scale = min(short / min(h, w), longest / max(h, w))
        out_hw = (round(h * scale), round(w * scale))
    else:
        out_hw = (int(size), int(size))
    x = torch.stack(
        [
            F.interpolate(a.unsqueeze(0), size=out_hw, mode="bilinear", align_corners=False)[0]
            if a.shape[1:] != out_hw
            else a
            for a in arrs
        ]
    )
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return ((x - mean) / std).to(dtype)


class HFWorkload(Workload):
    """Base for transformers models: holds model, tokenizer, dtype; prepares text and pixel inputs."""

    def __init__(
        self,
        task: Task,
        model_id: str,
        loaded: Loaded,
        weights: str,
        precision: str,
        threads: int | None,
        batch: int,
        info: dict[str, Any],
        device: str = "cpu",
    ):
        self.model = loaded.model.to(device=device, dtype=torch_dtype(precision))
        self.device = device
        self.tokenizer = loaded.tokenizer
        if self.tokenizer is not None and self.tokenizer.pad_token is None:
            # GPT-2-style tokenizers have no pad token; batches need one (the attention mask hides it)
            self.tokenizer.pad_token = self.tokenizer.eos_token or self.tokenizer.unk_token
        self.image_size = loaded.image_size
        self.image_processor = loaded.image_processor
        self.dtype = torch_dtype(precision)
        self.vocab = _vocab(self.model)
        extra = dict(info)
        extra.setdefault("tokenizer", loaded.tokenizer_note or None)
        extra.setdefault("model_class", type(self.model).__name__)
        super().__init__(
            task,
            model_id,
            weights,
            "pytorch",
            precision,
            threads,
            count_params(self.model),
            batch,
            extra,
            device=device,
        )

    def _texts(self, batch: list[Any]) -> list[str]:
        return [str(self.task_def.model_input(x)) for x in batch]

    def _encode(self, texts: list[str], **kw: Any) -> dict[str, Any]:
        max_len = int(getattr(self.model.config, "max_position_embeddings", 512) or 512)
        enc = self.tokenizer(
            texts, padding=True, truncation=True, max_length=min(max_len, 512), return_tensors="pt", **kw
        )
        enc["input_ids"] = _fold(enc["input_ids"], self.vocab)
        return to_device(dict(enc), self.device)

    def _model_kwargs(self, enc: dict[str, Any]) -> dict[str, Any]:
        """Only the tensors the model's forward accepts (DistilBERT takes no token_type_ids)."""
        params = inspect.signature(self.model.forward).parameters
        return {k: v for k, v in enc.items() if k in params and k != "offset_mapping"}

    def _pixels(self, batch: list[Any]) -> Any:
        images = [self.task_def.model_input(x) for x in batch]
        if self.image_processor is not None:
            import numpy as np

            arrs = [np.asarray(i) for i in images]
            arrs = [(np.repeat(a[..., None], 3, -1) * 255).astype("uint8") if a.ndim == 2 else a for a in arrs]
            pixels = self.image_processor(images=arrs, return_tensors="pt")["pixel_values"]
            return pixels.to(device=self.device, dtype=self.dtype)
        return to_device(pixel_batch(images, self.image_size or 224, self.dtype), self.device)

    def _input_tokens(self, item: Any) -> int:
        if self.tokenizer is None or self.task_def.modality != "text":
            return 0
        x = self.task_def.model_input(item)
        if isinstance(x, dict):  # question + context
            return len(
                self.tokenizer(x["question"], x["context"], truncation="only_second", max_length=QA_MAX_LENGTH)[
                    "input_ids"
                ]
            )
        return len(self.tokenizer(str(x), truncation=True, max_length=512)["input_ids"])


# ---------------------------------------------------------------------------------------------------------
# Non-generative tasks
# ---------------------------------------------------------------------------------------------------------
def _label_name(model: Any, idx: int) -> str:
    names = getattr(model.config, "id2label", None) or {}
    return str(names.get(idx, names.get(str(idx), f"LABEL_{idx}")))


class TextClassification(HFWorkload):
    def _run(self, batch: list[Any]) -> list[Any]:
        import torch

        enc = self._encode(self._texts(batch))
        with torch.inference_mode():
            probs = self.model(**self._model_kwargs(enc)).logits.float().softmax(-1)
        score, idx = probs.max(-1)
        return [{"label": _label_name(self.model, int(i)), "score": float(s)} for s, i in zip(score, idx, strict=True)]


class TokenClassification(HFWorkload):
    """One tag per whitespace word (the label of the word's first sub-token)."""

    def _run(self, batch: list[Any]) -> list[Any]:
        import torch

        words = [str(self.task_def.model_input(x)).split() for x in batch]
        enc = self.tokenizer(
            words, is_split_into_words=True, padding=True, truncation=True, max_length=512, return_tensors="pt"
        )
        word_ids = [enc.word_ids(i) for i in range(len(words))]
        feed = dict(enc)
        feed["input_ids"] = _fold(feed["input_ids"], self.vocab)
        with torch.inference_mode():
            pred = self.model(**self._model_kwargs(to_device(feed, self.device))).logits.argmax(-1).cpu()
        return [
            _first_subtoken_tags(pred[i].tolist(), word_ids[i], len(words[i]), lambda j: _label_name(self.model, j))
            for i in range(len(words))
        ]


def _first_subtoken_tags(pred: list[int], word_ids: list[int | None], n_words: int, name: Any) -> list[str]:
    tags = ["O"] * n_words
    seen: set[int] = set()
    for pos, wid in enumerate(word_ids):
        if wid is not None and wid not in seen:
            seen.add(wid)
            tags[wid] = name(pred[pos])
    return tags


class QuestionAnswering(HFWorkload):
    """Best span (end >= start, at most 30 tokens) inside the context, as the QA pipeline does."""

    def _run(self, batch: list[Any]) -> list[Any]:
        import torch

        qs = [self.task_def.model_input(x) for x in batch]
        enc = self.tokenizer(
            [q["question"] for q in qs],
            [q["context"] for q in qs],
            padding=True,
            truncation="only_second",
            max_length=QA_MAX_LENGTH,
            return_offsets_mapping=True,
            return_tensors="pt",
        )
        offsets = enc.pop("offset_mapping")
        seq_ids = [enc.sequence_ids(i) for i in range(len(qs))]
        feed = dict(enc)
        feed["input_ids"] = _fold(feed["input_ids"], self.vocab)
        with torch.inference_mode():
            out = self.model(**self._model_kwargs(to_device(feed, self.device)))
        # span search on the CPU, as the QA pipeline's post-processing (small, index-heavy)
        start, end = out.start_logits.float().cpu(), out.end_logits.float().cpu()
        answers = []
        for i, q in enumerate(qs):
            ctx = torch.tensor([s == 1 for s in seq_ids[i]])
            s = start[i].masked_fill(~ctx, -1e9)
            e = end[i].masked_fill(~ctx, -1e9)
            scores = s[:, None] + e[None, :]
            n = scores.shape[0]
            valid = torch.triu(torch.ones(n, n, dtype=torch.bool)) & ~torch.triu(
                torch.ones(n, n, dtype=torch.bool), diagonal=QA_MAX_ANSWER
            )
            flat = int(scores.masked_fill(~valid, -1e9).argmax())
            a, b = divmod(flat, n)
            answers.append(
                {
                    "answer": q["context"][int(offsets[i][a][0]) : int(offsets[i][b][1])],
                    "start": int(offsets[i][a][0]),
                    "end": int(offsets[i][b][1]),
                }
            )
        return answers


class FillMask(HFWorkload):
    """Top-1 token at the (first) mask position."""

    def _run(self, batch: list[Any]) -> list[Any]:
        import torch

        from .data import MASK

        texts = [t.replace(MASK, self.tokenizer.mask_token) for t in self._texts(batch)]
        enc = self._encode(texts)
        with torch.inference_mode():
            logits = self.model(**self._model_kwargs(enc)).logits
        out = []
        for i in range(len(texts)):
            pos = (enc["input_ids"][i] == self.tokenizer.mask_token_id).nonzero()
            p = int(pos[0, 0]) if len(pos) else 0
            tok = int(logits[i, p].argmax())
            out.append({"token": tok, "token_str": self.tokenizer.decode([tok % len(self.tokenizer)]).strip()})
        return out


class ImageClassification(HFWorkload):
    def _run(self, batch: list[Any]) -> list[Any]:
        import torch

        with torch.inference_mode():
            probs = self.model(pixel_values=self._pixels(batch)).logits.float().softmax(-1)
        score, idx = probs.max(-1)
        return [
            {"label": int(i), "label_name": _label_name(self.model, int(i)), "score": float(s)}
            for s, i in zip(score, idx, strict=True)
        ]


class ObjectDetection(HFWorkload):
    """DETR-style set prediction -> boxes (xyxy, input-image pixels) with score > 0.5."""

    def _run(self, batch: list[Any]) -> list[Any]:
        import torch

        sizes = [self.task_def.model_input(x).shape[:2] for x in batch]
        with torch.inference_mode():
            out = self.model(pixel_values=self._pixels(batch))
        probs = out.logits.float().softmax(-1)[..., :-1]  # last class = "no object"
        scores, labels = probs.max(-1)
        results = []
        for i, (h, w) in enumerate(sizes):
            keep = scores[i] > DETECTION_THRESHOLD
            cx, cy, bw, bh = out.pred_boxes[i][keep].float().unbind(-1)
            boxes = torch.stack([(cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h], -1)
            results.append(
                {"boxes": boxes.tolist(), "labels": labels[i][keep].tolist(), "scores": scores[i][keep].tolist()}
            )
        return results


class SentenceEmbedding(HFWorkload):
    """Mean pooling over real tokens + L2 normalisation (sentence-transformers' output for MiniLM)."""

    def _run(self, batch: list[Any]) -> list[Any]:
        import torch

        enc = self.tokenizer(
            self._texts(batch), padding=True, truncation=True, max_length=minilm.MAX_LENGTH, return_tensors="pt"
        )
        enc = to_device({**enc, "input_ids": _fold(enc["input_ids"], self.vocab)}, self.device)
        with torch.inference_mode():
            hidden = self.model(**self._model_kwargs(enc)).last_hidden_state
            emb = torch.nn.functional.normalize(minilm.mean_pool(hidden, enc["attention_mask"]), dim=-1)
        return list(emb.cpu().numpy())


# ---------------------------------------------------------------------------------------------------------
# Generative tasks: explicit prefill / decode
# ---------------------------------------------------------------------------------------------------------
@dataclass
class GenState:
    """What prefill hands to decode: the KV cache, the last token and everything decode must reuse."""

    past: Any
    next_token: Any  # (B,) the token generated by prefill
    tokens: list[Any]  # generated tokens so far, each (B,)
    new_tokens: int  # total new tokens to generate
    attention_mask: Any = None
    position: Any = None  # (B,) position of the last token (decoder-only with left padding)
    context: dict[str, Any] = field(default_factory=dict)  # encoder outputs, image embeddings, masks


class _Generative(HFWorkload):
    def __init__(self, *args: Any, new_tokens: int | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.new_tokens = int(new_tokens or self.task_def.generation["new_tokens"])
        if self.new_tokens < 1:
            raise WorkloadError(f"new_tokens must be >= 1, got {self.new_tokens}")
        self.info["generation"] = {
            **self.task_def.generation,
            "new_tokens": self.new_tokens,
            "min_new_tokens": self.new_tokens,
            "eos_stops": False,
        }
        self._keep = self._accepts_logits_to_keep()

    def _accepts_logits_to_keep(self) -> dict[str, Any]:
        # only the last position's logits are needed: skip the vocabulary projection of the prompt
        params = inspect.signature(self._lm_forward().forward).parameters
        return {"logits_to_keep": 1} if "logits_to_keep" in params else {}

    def _lm_forward(self) -> Any:
        return self.model

    def _finish(self, state: GenState) -> list[Any]:
        import torch

        ids = torch.stack(state.tokens, dim=1)
        n_tok = len(self.tokenizer) if self.tokenizer is not None else None
        out = []
        for row in ids.tolist():
            text = self.tokenizer.decode([t % n_tok for t in row], skip_special_tokens=True) if n_tok else ""
            out.append(Generated(text, row))
        return out

    def _step_loop(self, state: GenState, step: Any) -> list[Any]:
        import torch

        with torch.inference_mode():
            for _ in range(state.new_tokens - 1):
                logits, state.past = step(state)
                state.next_token = logits[:, -1].argmax(-1)
                state.tokens.append(state.next_token)
        return self._finish(state)


class CausalLM(_Generative):
    """Decoder-only LM (GPT-2 family): left-padded prompts, explicit position ids, DynamicCache."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.tokenizer.padding_side = "left"
        self._stand_in = "stand-in" in str(self.info.get("tokenizer"))

    def _prefill(self, batch: list[Any]) -> GenState:
        import torch

        # the stand-in WordPiece tokenizer would add [CLS]/[SEP]; GPT-2 prompts carry no special tokens
        enc = self._encode(self._texts(batch), add_special_tokens=not self._stand_in)
        mask = enc["attention_mask"]
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        with torch.inference_mode():
            out = self.model(
                input_ids=enc["input_ids"], attention_mask=mask, position_ids=pos, use_cache=True, **self._keep
            )
        nxt = out.logits[:, -1].argmax(-1)
        return GenState(out.past_key_values, nxt, [nxt], self.new_tokens, mask, pos[:, -1])

    def _decode(self, state: GenState) -> list[Any]:
        import torch

        def step(s: GenState) -> tuple[Any, Any]:
            s.attention_mask = torch.cat([s.attention_mask, s.attention_mask.new_ones(len(s.next_token), 1)], 1)
            s.position = s.position + 1
            o = self.model(
                input_ids=s.next_token[:, None],
                attention_mask=s.attention_mask,
                position_ids=s.position[:, None],
                past_key_values=s.past,
                use_cache=True,
            )
            return o.logits, o.past_key_values

        return self._step_loop(state, step)


class Seq2SeqLM(_Generative):
    """Encoder-decoder (BART family): the encoder runs once in prefill; decoder steps reuse both caches."""

    def _prefill(self, batch: list[Any]) -> GenState:
        import torch

        enc = self._encode(self._texts(batch))
        start = int(self.model.config.decoder_start_token_id or 0)
        with torch.inference_mode():
            encoder_outputs = self.model.get_encoder()(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"])
            dec = torch.full((len(batch), 1), start, dtype=torch.long, device=self.device)
            out = self.model(
                encoder_outputs=encoder_outputs,
                attention_mask=enc["attention_mask"],
                decoder_input_ids=dec,
                use_cache=True,
                **self._keep,
            )
        nxt = out.logits[:, -1].argmax(-1)
        return GenState(
            out.past_key_values,
            nxt,
            [nxt],
            self.new_tokens,
            context={"encoder_outputs": encoder_outputs, "attention_mask": enc["attention_mask"]},
        )

    def _decode(self, state: GenState) -> list[Any]:
        def step(s: GenState) -> tuple[Any, Any]:
            o = self.model(
                encoder_outputs=s.context["encoder_outputs"],
                attention_mask=s.context["attention_mask"],
                decoder_input_ids=s.next_token[:, None],
                past_key_values=s.past,
                use_cache=True,
            )
            return o.logits, o.past_key_values

        return self._step_loop(state, step)


class Captioning(_Generative):
    """Image-to-text: BLIP (vision encoder + cross-attending text decoder) or GIT (image tokens prefixed
    to a causal decoder). Prefill = vision encoder + first decoder step; decode reuses the cache."""

    def _lm_forward(self) -> Any:
        return self.model.text_decoder if self._is_blip() else self.model

    def _is_blip(self) -> bool:
        return hasattr(self.model, "text_decoder") and hasattr(self.model, "vision_model")

    def _start_ids(self, n: int) -> Any:
        import torch

        cfg = self.model.config.get_text_config() if hasattr(self.model.config, "get_text_config") else None
        bos = getattr(cfg, "bos_token_id", None)
        if bos is None:
            bos = getattr(self.model.config, "bos_token_id", None)
        return torch.full((n, 1), int(bos if bos is not None else 101), dtype=torch.long, device=self.device)

    def _prefill(self, batch: list[Any]) -> GenState:
        import torch

        pixels = self._pixels(batch)
        ids = self._start_ids(len(batch))
        with torch.inference_mode():
            if self._is_blip():
                image_embeds = self.model.vision_model(pixel_values=pixels)[0]
                out = self.model.text_decoder(
                    input_ids=ids, encoder_hidden_states=image_embeds, use_cache=True, **self._keep
                )
                ctx = {"image_embeds": image_embeds}
            else:
                out = self.model(input_ids=ids, pixel_values=pixels, use_cache=True, **self._keep)
                ctx = {}
        nxt = out.logits[:, -1].argmax(-1)
        return GenState(out.past_key_values, nxt, [nxt], self.new_tokens, context=ctx)

    def _decode(self, state: GenState) -> list[Any]:
        def step(s: GenState) -> tuple[Any, Any]:
            if "image_embeds" in s.context:
                o = self.model.text_decoder(
                    input_ids=s.next_token[:, None],
                    encoder_hidden_states=s.context["image_embeds"],
                    past_key_values=s.past,
                    use_cache=True,
                )
            else:
                o = self.model(input_ids=s.next_token[:, None], past_key_values=s.past, use_cache=True)
            return o.logits, o.past_key_values

        return self._step_loop(state, step)


WORKLOAD_CLASS = {
    "text-classification": TextClassification,
    "token-classification": TokenClassification,
    "question-answering": QuestionAnswering,
    "fill-mask": FillMask,
    "text-generation": CausalLM,
    "summarization": Seq2SeqLM,
    "image-classification": ImageClassification,
    "object-detection": ObjectDetection,
    "image-to-text": Captioning,
    "sentence-similarity": SentenceEmbedding,
}
