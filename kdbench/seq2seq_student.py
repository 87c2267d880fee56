"""Seq2seq students for MCKD: an encoder-decoder (T5 or BART, as the MCKD paper's t5-base; offline,
the packaged MiniLM as both encoder and decoder) learns sentence -> output string.

The encoder reads the causal student's prompt (`Sentence: w1 w2 ...\\nOutput:`, with the
tokenizer's special tokens); the decoder starts from the model's decoder start token and learns
` <target>` then the end token (EOS, or SEP for WordPiece tokenizers), the causal student's
continuation. Its inputs are the targets shifted right behind the start token, built here rather
than by each architecture's own shift, so training and decoding start from the same token.

Decoding is the causal student's: greedy under the task's grammar (`kdbench.generation.decode`),
each sentence alone, its encoder run once; confidence is exp(mean log-prob of the decoder's
choices). Unlike a causal LM's, an encoder-decoder's output layer is computed whole at each step
(the architectures differ in what comes between the decoder and that layer: T5 rescales tied
embeddings, BART adds a bias, BERT's head transforms), then the allowed tokens are read from it.
"""

import functools
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kdbench.assets import resolve_model
from kdbench.devices import of
from kdbench.errors import KDBenchError
from kdbench.generation import decode
from kdbench.progress import progress
from kdbench.resources import training_bytes, weights_bytes
from kdbench.seq_student import (
    IGNORE,
    TARGET_KEY,
    WORDS_KEY,
    GrammarStudent,
    end_token_id,
    prompt_text,
    target_text,
)
from kdbench.student import ExampleLosses

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


def load_seq2seq(directory: Path,
                 seed: int) -> tuple["PreTrainedModel", "PreTrainedTokenizerBase", int]:
    """The encoder-decoder in `directory` in fp32, its tokenizer (with a pad token) and its
    decoder start token (seeded)."""
    import torch
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(directory)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.convert_ids_to_tokens(end_token_id(tokenizer))
    model = AutoModelForSeq2SeqLM.from_pretrained(directory, dtype=torch.float32)
    start = model.config.decoder_start_token_id
    if start is None:
        raise KDBenchError(f"the seq2seq student {directory} has no decoder_start_token_id in "
                           "its config.json: set it (T5: the pad token, BART: EOS)")
    return model, tokenizer, start


def encode_pairs(tokenizer: "PreTrainedTokenizerBase", rows: list[dict],
                 max_length: int) -> list[tuple[list[int], list[int]]]:
    """(encoder ids, target ids + end token) per row; targets cut to max_length, losing their
    end token as the causal student's do. A prompt longer than max_length raises."""
    end = end_token_id(tokenizer)
    encoded = []
    for row in rows:
        source = tokenizer(prompt_text(row[WORDS_KEY]))["input_ids"]
        if len(source) > max_length:
            raise KDBenchError(
                f"a prompt of {len(source)} tokens ({len(row[WORDS_KEY])} words) is longer than "
                f"student.max_length {max_length}; raise student.max_length")
        target = tokenizer(target_text(row[TARGET_KEY]), add_special_tokens=False)["input_ids"]
        encoded.append((source, (target + [end])[:max_length]))
    return encoded


def seq2seq_losses(model: "PreTrainedModel", tokenizer: "PreTrainedTokenizerBase", start: int,
                   encoded: list[tuple[list[int], list[int]]]) -> ExampleLosses:
    """Per-example mean cross-entropy over target tokens (padding masked); weights 1."""
    import torch

    def losses(step: int, rows: np.ndarray):
        batch = [encoded[i] for i in rows]
        source_width = max(len(s) for s, _ in batch)
        target_width = max(len(t) for _, t in batch)
        input_ids = torch.full((len(batch), source_width), tokenizer.pad_token_id)
        attention = torch.zeros((len(batch), source_width), dtype=torch.long)
        decoder_ids = torch.full((len(batch), target_width), tokenizer.pad_token_id)
        labels = torch.full((len(batch), target_width), IGNORE)
        for k, (source, target) in enumerate(batch):
            input_ids[k, :len(source)] = torch.tensor(source)
            attention[k, :len(source)] = 1
            decoder_ids[k, :len(target)] = torch.tensor([start] + target[:-1])
            labels[k, :len(target)] = torch.tensor(target)
        device = of(model)
        # Decoder padding sits after every real position, which causal attention never reads.
        logits = model(input_ids=input_ids.to(device), attention_mask=attention.to(device),
                       decoder_input_ids=decoder_ids.to(device)).logits.float()
        labels = labels.to(device)
        ce = torch.nn.functional.cross_entropy(logits.transpose(1, 2), labels,
                                               ignore_index=IGNORE, reduction="none")
        counts = (labels != IGNORE).sum(dim=1)
        return ce.sum(dim=1) / counts, torch.ones(len(rows), device=device)

    return losses


class EncoderDecoderLM:
    """One sentence's encoder states and the decoder over them, as `kdbench.generation` drives a
    model: states are the whole output layer's logits, from which the allowed tokens are read."""

    def __init__(self, model: "PreTrainedModel", encoder_outputs):
        self.model = model
        self.encoder_outputs = encoder_outputs
        self.device = of(model)

    def forward(self, ids, cache):
        out = self.model(encoder_outputs=self.encoder_outputs, decoder_input_ids=ids,
                         cache=cache, use_cache=True)
        return out.logits, out.cache

    def logits(self, states, token_ids: list[int]):
        return states[:, token_ids].float()


def predict(model: "PreTrainedModel", tokenizer: "PreTrainedTokenizerBase", start: int,
            rows: list[dict], grammars: list) -> list[dict]:
    """{id, output, confidence} per row ({id, words}), in order: the greedy output allowed by the
    row's grammar; confidence = exp(mean log-prob of its choices among the allowed tokens),
    rounded to 6 digits."""
    import torch

    end = tokenizer.convert_ids_to_tokens(end_token_id(tokenizer))
    encoder = model.get_encoder()
    predictions = []
    with torch.no_grad(), progress(len(rows), "generate") as bar:
        for row, grammar in zip(rows, grammars, strict=True):
            ids = tokenizer(prompt_text(row[WORDS_KEY]), return_tensors="pt")["input_ids"]
            states = encoder(input_ids=ids.to(of(model)))
            generation, = decode(EncoderDecoderLM(model, states), tokenizer, [[start]],
                                 [grammar], end)
            predictions.append({"id": row["id"], "output": generation.text,
                                "confidence": round(math.exp(generation.mean_logprob), 6)})
            bar.update()
    return predictions


def _config_value(config: dict, *keys: str, default: int) -> int:
    """A dimension from the config or, for an EncoderDecoderModel, its encoder's."""
    for source in (config, config.get("encoder", {})):
        for key in keys:
            if key in source:
                return source[key]
    return default


def training_memory_bytes(directory: Path, batch_size: int, max_length: int) -> int:
    """Weights, optimiser and the activations of encoder and decoder layers, plus the logits
    over the whole vocabulary at every target position."""
    config = json.loads((directory / "config.json").read_text())
    layers = _config_value(config, "num_hidden_layers", "num_layers", default=12)
    decoder_layers = _config_value(config.get("decoder", {}) or config, "num_decoder_layers",
                                   "num_hidden_layers", "num_layers", default=layers)
    vocab = _config_value(config.get("decoder", {}) or config, "vocab_size", default=0)
    activations = training_bytes(weights_bytes(directory), batch_size, max_length,
                                 _config_value(config, "hidden_size", "d_model", default=768),
                                 layers + decoder_layers,
                                 _config_value(config, "num_attention_heads", "num_heads",
                                               default=12))
    return activations + 3 * batch_size * max_length * vocab * 4


class Seq2SeqStudent(GrammarStudent):
    """A pretrained encoder-decoder that writes the output string, decoded greedily under the
    task's grammar from the decoder start token over the encoded prompt."""

    @functools.cached_property
    def directory(self) -> Path:
        return resolve_model(self.params["model"]).directory

    def _memory_bytes(self) -> int:
        return training_memory_bytes(self.directory, self.params["batch_size"],
                                     self.params["max_length"])

    def _load(self) -> None:
        self.model, self.tokenizer, self.start = load_seq2seq(self.directory, self.seed)

    def _training(self, rows, weighter):
        encoded = encode_pairs(self.tokenizer, rows, self.params["max_length"])
        return ([len(source) + len(target) for source, target in encoded],
                seq2seq_losses(self.model, self.tokenizer, self.start, encoded))

    def _predict(self, rows):
        return predict(self.model, self.tokenizer, self.start, rows, self._grammars)
