"""The tiny random-weight BERT and token data the Trainer tests train, in pytest and in the torchrun job."""

from __future__ import annotations

from typing import Any

import torch

SEQ = 16


class Tokens(torch.utils.data.Dataset):
    """Random token ids (uniform over 5..99), all-ones attention, binary labels; fixed seed."""

    def __init__(self, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(5, 100, (n, SEQ), generator=g)
        self.labels = torch.randint(0, 2, (n,), generator=g)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict:
        return {"input_ids": self.ids[i], "attention_mask": torch.ones(SEQ, dtype=torch.long), "labels": self.labels[i]}


def tiny_bert() -> Any:
    """A 2-layer, 32-wide BERT sequence classifier with random weights (seed 0)."""
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=100,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=32,
        num_labels=2,
    )
    return BertForSequenceClassification(config)
