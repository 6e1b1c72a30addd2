"""Tiny models for the analyze tests."""

from __future__ import annotations

import torch


def tiny_llama(layers: int = 2, hidden: int = 64, heads: int = 4, kv: int = 4, vocab: int = 256, **kw):
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(
        vocab_size=vocab,
        hidden_size=hidden,
        intermediate_size=hidden * 3,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv,
        max_position_embeddings=512,
        **kw,
    )
    with torch.device("meta"):
        return LlamaForCausalLM(cfg)


def tiny_gpt2(layers: int = 2, embd: int = 64, heads: int = 4, vocab: int = 256, device: str = "meta"):
    from transformers import GPT2Config, GPT2LMHeadModel

    cfg = GPT2Config(vocab_size=vocab, n_embd=embd, n_layer=layers, n_head=heads, n_positions=1024)
    with torch.device(device):
        m = GPT2LMHeadModel(cfg)
    return m.eval()
