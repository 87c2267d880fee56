"""Nearest-neighbour demonstrations: texts embedded by a sentence encoder (the mean of its last
hidden states over the tokens, scaled to unit length, as sentence-transformers' MiniLM models are
used), neighbours by cosine similarity."""

import numpy as np

from kdbench.assets import resolve_model


def embed(texts: list[str], model_name: str, batch_size: int = 32,
          max_length: int = 128) -> np.ndarray:
    """Unit-length embeddings, one row per text."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    location = resolve_model(model_name)
    tokenizer = AutoTokenizer.from_pretrained(location.directory)
    model = AutoModel.from_pretrained(location.directory).eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(texts), batch_size):
            batch = tokenizer(texts[start:start + batch_size], padding=True, truncation=True,
                              max_length=max_length, return_tensors="pt")
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
            out.append(torch.nn.functional.normalize(mean, dim=-1).numpy())
    return np.concatenate(out) if out else np.zeros((0, 0))


def nearest(query: np.ndarray, candidates: np.ndarray, k: int) -> list[int]:
    """Indices of the `k` candidates most similar to `query`, most similar first (ties: lower
    index first)."""
    similarity = candidates @ query
    return sorted(range(len(candidates)), key=lambda i: (-similarity[i], i))[:k]
