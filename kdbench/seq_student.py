"""Sequence students for MCKD: a pretrained decoder-only LM learns sentence -> output string.

The student sees `Sentence: w1 w2 ...\\nOutput:` and learns the continuation ` <target>` followed
by an end token (no task prefix, as the authors' students). The leading space matches the
teacher's few-shot format, where a demonstration's output follows its field name (`Tree:`,
`Tags:`) after one space.

Token layout of one example: the prompt tokenized with the tokenizer's own special tokens (a BOS
where the model expects one, e.g. Gemma), minus a trailing end token where the tokenizer appends
one (BERT-style [SEP]); then the target tokenized without special tokens; then the end token.
The end token is the tokenizer's EOS, or its SEP where it has no EOS (WordPiece tokenizers, as
the tiny test models use). `prompt_ids` and `end_token_id` are public so that the decoder feeds
exactly the prompt the student was trained on and stops at the same token.

Training reuses the shared loop (`kdbench.student.train`): `sequence_losses` gives it the mean
token cross-entropy over each example's target tokens, prompt and padding masked out.

`CausalLMStudent` is the student contract over these: it decodes greedily under the task's grammar
(`kdbench.generation`) from the very prompt ids it trained on; confidence is exp(mean token
log-prob), as the teacher's.
"""

import functools
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kdbench.assets import dequantised, resolve_model
from kdbench.devices import of
from kdbench.errors import KDBenchError
from kdbench.generation import generate
from kdbench.grammars import Grammar
from kdbench.resources import student_training_bytes
from kdbench.student import ExampleLosses, Student

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


def _with_special_tokens(tokenizer: "PreTrainedTokenizerBase", text: str) -> list[int]:
    """The text's ids with the tokenizer's special tokens, less a trailing end token."""
    ids = tokenizer(text)["input_ids"]
    # A tokenizer that closes every text with its end token (BERT's [SEP]) would otherwise tell
    # the student the output has already ended.
    if ids and ids[-1] == end_token_id(tokenizer):
        ids = ids[:-1]
    return ids


def prompt_ids(tokenizer: "PreTrainedTokenizerBase", words: list[str]) -> list[int]:
    """Token ids of the prompt, as the student is trained on and must be decoded from."""
    return _with_special_tokens(tokenizer, prompt_text(words))


def load_seq_student(directory: Path,
                     seed: int) -> tuple["PreTrainedModel", "PreTrainedTokenizerBase"]:
    """The causal LM in `directory` (resolved and dequantised already) in fp32 and its
    tokenizer, with a pad token (seeded)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(directory)
    if tokenizer.pad_token is None:
        # Padding is masked out of attention and loss, so any existing token will do.
        tokenizer.pad_token = tokenizer.convert_ids_to_tokens(end_token_id(tokenizer))
    model = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32)
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
        device = of(model)
        logits = model(input_ids=input_ids.to(device),
                       attention_mask=attention.to(device)).logits.float()
        labels = labels.to(device)
        # Position t predicts token t + 1.
        shifted = labels[:, 1:]
        ce = torch.nn.functional.cross_entropy(logits[:, :-1].transpose(1, 2), shifted,
                                               ignore_index=IGNORE, reduction="none")
        counts = (shifted != IGNORE).sum(dim=1)
        return ce.sum(dim=1) / counts, torch.ones(len(rows), device=device)

    return losses


def training_memory_bytes(directory: Path, batch_size: int, max_length: int) -> int:
    """The shared student estimate plus the LM head's logits, which an encoder does not have."""
    config = json.loads((directory / "config.json").read_text())
    # Logits, their log-softmax and its gradient, fp32, over the whole vocabulary.
    logits = 3 * batch_size * max_length * config.get("vocab_size", 0) * 4
    return student_training_bytes(directory, batch_size, max_length) + logits


class _AsTrained:
    """The student's tokenizer as `generate` must see it to feed exactly `prompt_ids`.

    generate tokenizes its prefix with special tokens and each prompt without, then feeds the two
    one after the other. With an empty prefix that is the tokenizer's special tokens of an empty
    text, which for a BERT-style tokenizer end with the [SEP] that prompt_ids drops; here text
    with special tokens gets prompt_ids' rule, so the prefix is just the start tokens ([CLS], a
    BOS, or nothing) and the ids fed are the prompt's ids as trained (checked: MiniLM WordPiece,
    a Llama-style BOS tokenizer, Gemma 3, SmolLM2; a tokenizer that put an EOS-valued BOS before
    every text would lose it here). Text without special tokens (prompts, units, the end) is
    tokenized as the tokenizer does.
    """

    def __init__(self, tokenizer: "PreTrainedTokenizerBase"):
        self.tokenizer = tokenizer

    def __call__(self, text: str, add_special_tokens: bool = True) -> dict[str, list[int]]:
        if add_special_tokens:
            return {"input_ids": _with_special_tokens(self.tokenizer, text)}
        return {"input_ids": self.tokenizer(text, add_special_tokens=False)["input_ids"]}


def predict(model: "PreTrainedModel", tokenizer: "PreTrainedTokenizerBase", rows: list[dict],
            grammars: list[Grammar]) -> list[dict]:
    """{id, output, confidence} per row ({id, words}), in order: the greedy output allowed by the
    row's grammar; confidence = exp(mean log-prob of its choices among the allowed tokens), rounded
to 6 digits."""
    # Where an output could end or go on (a last tag whose tokens begin a longer tag's), ending
    # competes through the token the student was trained to emit after every output: its end
    # token, whose own text tokenizes to that one special token.
    end = tokenizer.convert_ids_to_tokens(end_token_id(tokenizer))
    # The prefix is no more than the start tokens, so caching it would save nothing; feeding each
    # prompt whole also computes it as training did, in one forward call.
    generations = generate(model, _AsTrained(tokenizer), "",
                           [prompt_text(row[WORDS_KEY]) for row in rows], grammars,
                           show_progress=True, reuse_prefix=False, end=end)
    return [{"id": row["id"], "output": g.text, "confidence": round(math.exp(g.mean_logprob), 6)}
            for row, g in zip(rows, generations, strict=True)]


class GrammarStudent(Student):
    """A student that writes the output string under the task's grammar (rows {id, words,
    target}; predictions {id, output, confidence}), so every output reads back over its
    sentence's words. Trees are decoded without unary nodes, as the student learned them; tags
    (BIO strings) are required for slot_tagging and ignored for constituency."""

    def __init__(self, params: dict, seed: int,
                 grammar: Callable[[list[str], list[str], bool], Grammar],
                 tags: list[str] | None = None):
        super().__init__(params, seed)
        self.grammar = grammar
        self.tags = tags or []

    def _check(self, rows: list[dict], what: str) -> None:
        # Grammars first: a sentence without words or a bad tag list fails before training.
        self._grammars = [self.grammar(row[WORDS_KEY], self.tags, False)
                          for row in rows]


class CausalLMStudent(GrammarStudent):
    """A pretrained decoder-only LM that writes the output string, decoded greedily under the
    task's grammar from the very prompt ids it trained on."""

    @functools.cached_property
    def directory(self) -> Path:
        # Resolved and dequantised once: the memory check and the loading read the same copy.
        return dequantised(resolve_model(self.params["model"])).directory

    def _memory_bytes(self) -> int:
        return training_memory_bytes(self.directory, self.params["batch_size"],
                                     self.params["max_length"])

    def _load(self) -> None:
        self.model, self.tokenizer = load_seq_student(self.directory, self.seed)

    def _training(self, rows, weighter):
        encoded = encode_examples(self.tokenizer, rows, self.params["max_length"])
        return ([len(ids) for ids, _ in encoded],
                sequence_losses(self.model, self.tokenizer, encoded))

    def _predict(self, rows):
        return predict(self.model, self.tokenizer, rows, self._grammars)
