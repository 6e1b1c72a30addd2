"""ONNX Runtime decoder with a KV cache, exported with ``torch.onnx.export`` (TorchScript) — optimum's exporters
are not used: ``optimum-onnx`` pins ``transformers<4.58`` and would replace the installed transformers.

The exported graph is one decoder *step*: ``(input_ids, attention_mask, position_ids, past_0..past_2L-1) ->
(logits [batch, tokens, vocab], present_0..present_2L-1)``; the first step takes zero-length past tensors (the
prefill), later steps one token each. :class:`OrtDecoder` drives it with the same ``generate`` signature as a
transformers model (greedy or top-p sampling, ``min_new_tokens`` = ``max_new_tokens`` so EOS never ends a
continuation early, a streamer called once per step), so the measurement code treats both engines alike.
Tolerance of fp32 ORT vs torch: identical greedy tokens on the tiny GPT-2 of the tests; int8 is measured.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from wattlens.optimize.transforms import TransformError


def _layers(module: Any) -> tuple[int, int, int]:
    cfg = module.config
    layers = int(getattr(cfg, "n_layer", None) or cfg.num_hidden_layers)
    heads = int(getattr(cfg, "n_head", None) or cfg.num_attention_heads)
    kv_heads = int(getattr(cfg, "num_key_value_heads", None) or heads)
    hidden = int(getattr(cfg, "n_embd", None) or cfg.hidden_size)
    return layers, kv_heads, hidden // heads


def export_decoder(module: Any, path: str) -> str:
    """Export ``module`` (a transformers causal LM) as a KV-cache decoder step to ``path``."""
    import torch
    from transformers import DynamicCache

    from wattlens.workloads.onnx_engine import export_onnx

    n_layers, kv_heads, head_dim = _layers(module)

    class Step(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.m = module

        def forward(self, input_ids: Any, attention_mask: Any, position_ids: Any, *past: Any) -> Any:
            cache = DynamicCache()
            for i in range(n_layers):
                cache.update(past[2 * i], past[2 * i + 1], i)
            out = self.m(
                input_ids=input_ids,
                attention_mask=attention_mask,
                position_ids=position_ids,
                past_key_values=cache,
                use_cache=True,
            )
            flat = []
            for layer in out.past_key_values.layers:
                flat += [layer.keys, layer.values]
            return (out.logits, *flat)

    b, t, p = 2, 3, 4  # sample shapes; every axis that varies is dynamic
    args = (
        torch.ones(b, t, dtype=torch.long),
        torch.ones(b, p + t, dtype=torch.long),
        torch.arange(p, p + t).expand(b, t).contiguous(),
        *[torch.zeros(b, kv_heads, p, head_dim) for _ in range(2 * n_layers)],
    )
    past = [f"past_{i}" for i in range(2 * n_layers)]
    present = [f"present_{i}" for i in range(2 * n_layers)]
    axes: dict[str, dict[int, str]] = {
        "input_ids": {0: "batch", 1: "tokens"},
        "attention_mask": {0: "batch", 1: "total"},
        "position_ids": {0: "batch", 1: "tokens"},
        "logits": {0: "batch", 1: "tokens"},
        **{n: {0: "batch", 2: "past"} for n in past},
        **{n: {0: "batch", 2: "total"} for n in present},
    }
    from pathlib import Path

    try:
        export_onnx(
            Step().eval(),
            args,
            Path(path),
            ["input_ids", "attention_mask", "position_ids", *past],
            ["logits", *present],
            axes,
        )
    except Exception as exc:  # unsupported op, tracing failure
        raise TransformError(f"ONNX decoder export failed: {type(exc).__name__}: {exc}") from exc
    return path


@dataclass
class _Logits:
    logits: Any


class OrtDecoder:
    """A KV-cache ONNX decoder step behind transformers' ``generate``/``__call__`` surface (what the measurement and
    quality code use)."""

    def __init__(self, path: str, module: Any, device: str = "cpu") -> None:
        self.path = path
        self.n_layers, self.kv_heads, self.head_dim = _layers(module)
        eos = getattr(getattr(module, "generation_config", None), "eos_token_id", None)
        self.eos = [eos] if isinstance(eos, int) else list(eos or [])
        self.device = device
        self.threads = 1
        self._sessions: dict[int, Any] = {}

    def set_threads(self, threads: int) -> None:
        self.threads = threads

    def session(self) -> Any:
        from wattlens.optimize.transforms import ort_session

        if self.threads not in self._sessions:
            self._sessions[self.threads] = ort_session(self.path, self.threads, True, self.device)
        return self._sessions[self.threads]

    def _step(self, ids: Any, mask: Any, pos: Any, past: list[Any]) -> tuple[Any, list[Any]]:
        feeds = {"input_ids": ids, "attention_mask": mask, "position_ids": pos}
        feeds.update({f"past_{i}": p for i, p in enumerate(past)})
        out = self.session().run(None, feeds)
        return out[0], out[1:]

    def _empty_past(self, b: int) -> list[Any]:
        import numpy as np

        return [np.zeros((b, self.kv_heads, 0, self.head_dim), np.float32) for _ in range(2 * self.n_layers)]

    def __call__(self, input_ids: Any, attention_mask: Any = None, **_kw: Any) -> _Logits:
        """Logits of every position of ``input_ids`` (teacher forcing for the KL metric)."""
        import numpy as np
        import torch

        ids = input_ids.cpu().numpy().astype(np.int64)
        mask = np.ones_like(ids) if attention_mask is None else attention_mask.cpu().numpy().astype(np.int64)
        pos = np.clip(mask.cumsum(1) - 1, 0, None)
        logits, _ = self._step(ids, mask, pos, self._empty_past(ids.shape[0]))
        return _Logits(torch.from_numpy(logits))

    def generate(
        self,
        input_ids: Any,
        attention_mask: Any,
        *,
        max_new_tokens: int,
        streamer: Any = None,
        do_sample: bool = False,
        top_p: float = 0.9,
        temperature: float = 1.0,
        **_kw: Any,
    ) -> Any:
        """Prompt + ``max_new_tokens`` new tokens per row (left-padded batch), as transformers returns them."""
        import numpy as np
        import torch

        rng = np.random.default_rng(0)
        ids = input_ids.cpu().numpy().astype(np.int64)
        mask = attention_mask.cpu().numpy().astype(np.int64)
        pos = np.clip(mask.cumsum(1) - 1, 0, None)
        past = self._empty_past(ids.shape[0])
        if streamer is not None:
            streamer.put(input_ids)
        new = []
        step_ids = ids
        for _ in range(max_new_tokens):
            logits, past = self._step(step_ids, mask, pos, past)
            last = logits[:, -1, :].astype(np.float64)
            if self.eos:  # min_new_tokens == max_new_tokens: EOS is never chosen
                last[:, self.eos] = -np.inf
            nxt = _sample(last, rng, top_p, temperature) if do_sample else last.argmax(-1)
            new.append(nxt)
            if streamer is not None:
                streamer.put(torch.from_numpy(nxt))
            step_ids = nxt[:, None].astype(np.int64)
            pos = pos[:, -1:] + 1
            mask = np.concatenate([mask, np.ones((mask.shape[0], 1), np.int64)], 1)
        if streamer is not None:
            streamer.end()
        out = np.concatenate([ids, np.stack(new, 1)], 1) if new else ids
        return torch.from_numpy(out)


def _sample(logits: Any, rng: Any, top_p: float, temperature: float) -> Any:
    import numpy as np

    z = logits / max(temperature, 1e-6)
    z = z - z.max(-1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(-1, keepdims=True)
    out = []
    for row in p:
        order = np.argsort(-row)
        keep = order[: int(np.searchsorted(np.cumsum(row[order]), top_p)) + 1]
        q = row[keep] / row[keep].sum()
        out.append(int(rng.choice(keep, p=q)))
    return np.asarray(out, dtype=np.int64)


def build_ort(base_module: Any, workdir: str, quant: str, device: str = "cpu") -> tuple[OrtDecoder, float]:
    """(decoder, model size in MB) for fp32 (``quant`` none) or ORT dynamic int8 (``int8-pc``/``int8-pt``)."""
    from wattlens.optimize.transforms import file_size_mb, ort_dynamic_int8

    os.makedirs(workdir, exist_ok=True)
    fp32 = os.path.join(workdir, "decoder_fp32.onnx")
    if not os.path.exists(fp32):
        export_decoder(base_module, fp32)
    path = fp32
    if quant in ("int8-pc", "int8-pt"):
        path = os.path.join(workdir, f"decoder_{quant}.onnx")
        if not os.path.exists(path):
            ort_dynamic_int8(fp32, path, "per-channel" if quant == "int8-pc" else "per-tensor")
    elif quant != "none":
        raise TransformError(f"ORT decoder supports fp32 and int8, not {quant!r}")
    return OrtDecoder(path, base_module, device), file_size_mb(path)
