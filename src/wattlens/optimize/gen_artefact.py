"""A generation recommendation as a loadable model directory.

Layout of ``DIR`` (``wattlens optimize MODEL --task text-generation --out DIR``)::

    config.json, model.safetensors, tokenizer files   the unmodified fp32 model (``save_pretrained``)
    draft/                                             the draft model, when speculative decoding won
    decoder.onnx                                       the KV-cache decoder step, when ONNX Runtime won
    wattlens-optimize.json                             task, recipe (quant, cache, draft), runtime (threads,
                                                       batch, bucketing), generate() settings, measured figures,
                                                       the hardware they were measured on

``wattlens bench --model DIR`` loads it like any local model and re-applies the recipe
(:mod:`wattlens.workloads.recipes`); a serving load test loads it the same way. From code::

    from wattlens.optimize.gen_artefact import load
    model, tokenizer, gen_kwargs, runtime = load("DIR")
    out = model.generate(**tokenizer(["Hello"], return_tensors="pt"), **gen_kwargs)
"""

from __future__ import annotations

import json
import os
import shutil
from typing import Any

from wattlens.optimize.gen_results import GenOptimizeResult, GenTrial
from wattlens.optimize.models import Base
from wattlens.workloads.recipes import ARTEFACT_FILE, apply_recipe, artefact_json

FORMAT = "wattlens-optimize-generation/1"
DECODER = "decoder.onnx"  # the ONNX Runtime decoder step, when that engine won


def save(
    base: Base,
    draft: Base | None,
    rec: GenTrial,
    result: GenOptimizeResult,
    out_dir: str,
    decoder_path: str | None = None,
) -> str:
    """Write the artefact directory for the recommended configuration ``rec`` (``decoder_path``: its ONNX decoder
    when the engine is ONNX Runtime); returns its path."""
    os.makedirs(out_dir, exist_ok=True)
    base.module.save_pretrained(out_dir)
    base.tokenizer.save_pretrained(out_dir)
    c = rec.config
    if c.get("draft") and draft is not None:
        draft.module.save_pretrained(os.path.join(out_dir, "draft"))
    if c.get("engine") == "onnxruntime":
        if not decoder_path or not os.path.exists(decoder_path):
            raise ValueError("the recommended ONNX Runtime decoder file is missing")
        shutil.copyfile(decoder_path, os.path.join(out_dir, DECODER))
    doc = {
        "format": FORMAT,
        "task": "text-generation",
        "base_model": base.name,
        "weights": base.weights,
        "weights_in_dir": True,
        "run_id": result.run_id,
        "recipe": {
            "engine": c.get("engine", "torch"),
            "quant": c.get("quant", "none"),
            "compile": bool(c.get("compile")),
            "draft": bool(c.get("draft")),
        },
        "runtime": {
            "threads": c.get("threads"),
            "interop_threads": 1,
            "batch": c.get("batch"),
            "length_bucketing": bool(c.get("sort")),
        },
        "generate": {
            "max_new_tokens": result.max_new_tokens,
            "do_sample": result.decoding == "sampling",
            "cache_implementation": "static" if c.get("cache") == "static" else None,
        },
        "measured": rec.to_dict(),
        "quality": None if result.recommended_quality is None else result.recommended_quality.to_dict(),
        "hardware": result.hardware.to_dict(),
        "note": result.hardware.note,
    }
    with open(os.path.join(out_dir, ARTEFACT_FILE), "w") as f:
        json.dump(doc, f, indent=1, default=str)
    return out_dir


def load(path: str) -> tuple[Any, Any, dict[str, Any], dict[str, Any]]:
    """(model with the recipe applied, tokenizer, ``generate`` kwargs, runtime settings) of an artefact, loaded
    through the workloads layer's loader (local files only, never downloaded)."""
    from wattlens.workloads.hf import load_model, load_tokenizer
    from wattlens.workloads.tasks import get_task

    doc = artefact_json(path)
    if doc is None or doc.get("task") != "text-generation":
        raise ValueError(f"{path}: not a wattlens text-generation artefact ({ARTEFACT_FILE} missing or other task)")
    recipe = doc.get("recipe", {})
    task = get_task("text-generation")
    model = load_model(path, task, local=True)
    if recipe.get("engine") == "onnxruntime":
        from wattlens.optimize.gen_onnx import OrtDecoder

        model = OrtDecoder(os.path.join(path, DECODER), model)
        model.set_threads(int(doc.get("runtime", {}).get("threads") or 1))
    else:
        model = apply_recipe(model, recipe)
    tok = load_tokenizer(path)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token or "[PAD]"
    tok.padding_side = "left"
    gen = {k: v for k, v in doc.get("generate", {}).items() if v is not None}
    gen["pad_token_id"] = tok.pad_token_id
    if doc.get("recipe", {}).get("draft"):
        gen["assistant_model"] = load_model(os.path.join(path, "draft"), task, local=True)
    return model, tok, gen, dict(doc.get("runtime", {}))
