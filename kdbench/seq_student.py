"""Sequence students for MCKD: a pretrained decoder-only LM learns sentence -> output string.

The student sees `Sentence: w1 w2 ...\\nOutput:` and learns the continuation ` <target>` followed
by an end token (no task prefix, as the authors' students). The leading space matches the
teacher's few-shot format, where a demonstration's output follows `Output:` after one space.

Token layout of one example: the prompt tokenized with the tokenizer's own special tokens (a BOS
where the model expects one, e.g. Gemma), minus a trailing end token where the tokenizer appends
one (BERT-style [SEP]); then the target tokenized without special tokens; then the end token.
The end token is the tokenizer's EOS, or its SEP where it has no EOS (WordPiece tokenizers, as
the tiny test models use). `prompt_ids` and `end_token_id` are public so that the decoder feeds
exactly the prompt the student was trained on and stops at the same token.

Training reuses the shared loop (`kdbench.student.train`): `sequence_losses` gives it the mean
token cross-entropy over each example's target tokens, prompt and padding masked out.
"""

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kdbench.assets import dequantised, resolve_model
from kdbench.errors import KDBenchError
from kdbench.resources import require, student_training_bytes
from kdbench.student import ExampleLosses, train

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

INPUT_FIELD = "Sentence"
OUTPUT_FIELD = "Output"

# Keys of a training row: the sentence's words and the output string the student must generate.
WORDS_KEY = "words"
TARGET_KEY = "target"

# Cross-entropy ignores label positions holding this value (torch's default ignore_index).
IGNORE = -100


def prompt_text(words: list[str]) -> str:
    """What the student reads; the output follows after one space."""
    return f"{INPUT_FIELD}: {' '.join(words)}\n{OUTPUT_FIELD}:"


def target_text(target: str) -> str:
    """The continuation the student learns (before the end token)."""
    return " " + target


def end_token_id(tokenizer: "PreTrainedTokenizerBase") -> int:
    """The token that ends an output: EOS, or SEP for tokenizers without an EOS."""
    for token_id in (tokenizer.eos_token_id, tokenizer.sep_token_id):
        if token_id is not None:
            return token_id
    raise KDBenchError("the student's tokenizer has neither an EOS nor a SEP token to end outputs")


def prompt_ids(tokenizer: "PreTrainedTokenizerBase", words: list[str]) -> list[int]:
    """Token ids of the prompt, as the student is trained on and must be decoded from."""
    ids = tokenizer(prompt_text(words))["input_ids"]
    # A tokenizer that closes every text with its end token (BERT's [SEP]) would otherwise tell
    # the student the output has already ended.
    if ids and ids[-1] == end_token_id(tokenizer):
        ids = ids[:-1]
    return ids


def load_seq_student(model_name: str,
                     seed: int) -> tuple["PreTrainedModel", "PreTrainedTokenizerBase"]:
    """A pretrained causal LM in fp32 and its tokenizer, with a pad token (seeded)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    location = dequantised(resolve_model(model_name))
    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(location.directory)
    if tokenizer.pad_token is None:
        # Padding is masked out of attention and loss, so any existing token will do.
        tokenizer.pad_token = tokenizer.convert_ids_to_tokens(end_token_id(tokenizer))
    model = AutoModelForCausalLM.from_pretrained(location.directory, dtype=torch.float32)
    return model, tokenizer


def encode_examples(tokenizer: "PreTrainedTokenizerBase", rows: list[dict],
                    max_length: int) -> list[tuple[list[int], int]]:
    """(prompt + target + end token ids, prompt length) per row; targets cut to max_length.

    A cut target loses its end token too: the student is not taught to stop where the text was
    merely truncated. The prompt is never cut; one that leaves no room for a target token raises.
    """
    end = end_token_id(tokenizer)
    encoded = []
    for row in rows:
        prompt = prompt_ids(tokenizer, row[WORDS_KEY])
        if len(prompt) >= max_length:
            raise KDBenchError(
                f"a prompt of {len(prompt)} tokens ({len(row[WORDS_KEY])} words) leaves no room "
                f"for the output within student.max_length {max_length}; raise student.max_length")
        target = tokenizer(target_text(row[TARGET_KEY]), add_special_tokens=False)["input_ids"]
        encoded.append(((prompt + target + [end])[:max_length], len(prompt)))
    return encoded


def sequence_losses(model: "PreTrainedModel", tokenizer: "PreTrainedTokenizerBase",
                    encoded: list[tuple[list[int], int]]) -> ExampleLosses:
    """Per-example mean cross-entropy over target tokens (prompt and padding masked); weights 1."""
    import torch

    def losses(step: int, rows: np.ndarray):
        batch = [encoded[i] for i in rows]
        width = max(len(ids) for ids, _ in batch)
        input_ids = torch.full((len(batch), width), tokenizer.pad_token_id)
        attention = torch.zeros((len(batch), width), dtype=torch.long)
        labels = torch.full((len(batch), width), IGNORE)
        for k, (ids, prompt_len) in enumerate(batch):
            # Labels come from lengths, not from comparing ids with the pad id: the pad token is
            # often the end token itself, which must stay a label.
            input_ids[k, :len(ids)] = torch.tensor(ids)
            attention[k, :len(ids)] = 1
            labels[k, prompt_len:len(ids)] = torch.tensor(ids[prompt_len:])
        logits = model(input_ids=input_ids, attention_mask=attention).logits
        # Position t predicts token t + 1.
        shifted = labels[:, 1:]
        ce = torch.nn.functional.cross_entropy(logits[:, :-1].transpose(1, 2), shifted,
                                               ignore_index=IGNORE, reduction="none")
        counts = (shifted != IGNORE).sum(dim=1)
        return ce.sum(dim=1) / counts, torch.ones(len(rows))

    return losses


def training_memory_bytes(directory: Path, batch_size: int, max_length: int) -> int:
    """The shared student estimate plus the LM head's logits, which an encoder does not have."""
    config = json.loads((directory / "config.json").read_text())
    # Logits, their log-softmax and its gradient, fp32, over the whole vocabulary.
    logits = 3 * batch_size * max_length * config.get("vocab_size", 0) * 4
    return student_training_bytes(directory, batch_size, max_length) + logits


def fit(rows: list[dict], student: dict, epochs: int,
        seed: int) -> tuple["PreTrainedModel", "PreTrainedTokenizerBase", dict]:
    """Train a fresh pretrained student on rows ({words, target}); (model, tokenizer, info)."""
    location = dequantised(resolve_model(student["model"]))
    require(training_memory_bytes(location.directory, student["batch_size"],
                                  student["max_length"]),
            f"training {student['model']} (batch_size {student['batch_size']}, max_length "
            f"{student['max_length']})", "lower student.batch_size or student.max_length")
    model, tokenizer = load_seq_student(student["model"], seed)
    encoded = encode_examples(tokenizer, rows, student["max_length"])
    log = train(model, [len(ids) for ids, _ in encoded], sequence_losses(model, tokenizer, encoded),
                student, epochs, seed)
    info = {"train_examples": len(rows), "epochs": epochs, "steps": log.steps,
            "train_wall_s": log.wall_s, "final_loss": log.loss[-1] if log.loss else None}
    return model, tokenizer, info

