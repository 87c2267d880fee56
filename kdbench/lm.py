"""What the teachers share about a causal LM: loading it, the few-shot prefix's KV cache computed
once and copied per batch, and logits of a few positions (or of a few tokens) without running the
large output layer over every position and word."""

import copy

from kdbench.assets import dequantised, resolve_model
from kdbench.devices import of, resolve
from kdbench.resources import require, weights_bytes


def load_causal_lm(model_name: str, dtype: str = "float32", device: str = "cpu"):
    """A teacher LLM (packaged name, model dir or .gguf) in eval mode on `device` (auto | cpu |
    cuda | cuda:N), and its tokenizer."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    place = resolve(device)
    location = resolve_model(model_name)
    if place.type == "cpu":
        bytes_per_weight = 4 if dtype == "float32" else 2
        require(weights_bytes(location.directory, location.gguf_file) * bytes_per_weight // 4,
                f"loading teacher {model_name} in {dtype}",
                "choose a smaller teacher model or dtype bfloat16")
    location = dequantised(location)
    tokenizer = AutoTokenizer.from_pretrained(location.directory)
    model = AutoModelForCausalLM.from_pretrained(location.directory, dtype=getattr(torch, dtype))
    return model.to(place).eval(), tokenizer


def prefix_cache(model, prefix_ids: list[int]):
    """The KV cache after the prefix (computed once; `fork` it for each batch)."""
    import torch

    return model.base_model(input_ids=torch.tensor([prefix_ids], device=of(model)),
                            use_cache=True).cache


def fork(cache, batch: int):
    """A copy of a one-row cache for `batch` rows: sliding-window caches cannot be cropped back
    to the prefix, so every batch starts from its own copy."""
    forked = copy.deepcopy(cache)
    forked.batch_repeat_interleave(batch)
    return forked


def _capped(model, logits):
    """Logits as the model's forward returns them: in float32, soft-capped where it caps."""
    import torch

    logits = logits.float()
    cap = getattr(model.config, "final_logit_softcapping", None)
    return torch.tanh(logits / cap) * cap if cap else logits


def output_logits(model, hidden):
    """The model's logits of some hidden states, as its forward computes them."""
    return _capped(model, model.get_output_embeddings()(hidden))


def selected_logits(model, hidden, token_ids: list[int]):
    """The logits of `hidden` (n x hidden size) for `token_ids` only (n x len(token_ids)): just
    those rows of the output layer, a few dot products instead of the whole vocabulary."""
    import torch

    layer = model.get_output_embeddings()
    index = torch.tensor(token_ids, device=hidden.device)
    logits = hidden @ layer.weight[index].T
    if layer.bias is not None:
        logits = logits + layer.bias[index]
    return _capped(model, logits)


def token_logprobs(model, cache, prefix_length: int, sequences: list[list[int]],
                   targets: list[list[tuple[int, int]]]) -> list[list[float]]:
    """Each sequence fed after the cached prefix (one batch, right-padded and masked); for each
    (position, token) of its targets, the log-probability the model gives `token` right after
    `position` of the sequence. Only the target positions go through the output layer."""
    import torch

    width = max(len(s) for s in sequences)
    ids = torch.zeros((len(sequences), width), dtype=torch.long)
    mask = torch.zeros((len(sequences), prefix_length + width), dtype=torch.long)
    mask[:, :prefix_length] = 1
    for k, sequence in enumerate(sequences):
        ids[k, :len(sequence)] = torch.tensor(sequence)
        mask[k, prefix_length:prefix_length + len(sequence)] = 1
    device = of(model)
    ids, mask = ids.to(device), mask.to(device)
    hidden = model.base_model(input_ids=ids, attention_mask=mask,
                              cache=fork(cache, len(sequences)),
                              use_cache=True).last_hidden_state
    rows = torch.tensor([k for k, wanted in enumerate(targets) for _ in wanted], device=device)
    positions = torch.tensor([p for wanted in targets for p, _ in wanted], device=device)
    tokens = torch.tensor([t for wanted in targets for _, t in wanted], device=device)
    logprobs = torch.log_softmax(output_logits(model, hidden[rows, positions]), dim=-1)
    picked = logprobs[torch.arange(len(tokens), device=device), tokens].tolist()
    out, start = [], 0
    for wanted in targets:
        out.append(picked[start:start + len(wanted)])
        start += len(wanted)
    return out
