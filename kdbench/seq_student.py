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

`fit_and_predict_generative` is the counterpart of the structured student's entry point: it trains
a fresh student, then decodes greedily under the task's grammar (`kdbench.generation`) from the
very prompt ids it trained on, so every output reads back over its sentence's words; confidence is
exp(mean token log-prob), as the teacher's.
"""

import json
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kdbench.assets import dequantised, resolve_model
from kdbench.errors import KDBenchError
from kdbench.generation import Grammar, generate
from kdbench.resources import require, student_training_bytes
from kdbench.student import ExampleLosses, train
from kdbench.tasks import get_task

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
    """Train a fresh pretrained student on rows ({words, target}); (model in eval mode, tokenizer,
    info: train_examples, epochs, steps, examples_seen, train_wall_s, final_loss)."""
    # Resolved and dequantised once here: the memory check and the loading read the same copy.
    directory = dequantised(resolve_model(student["model"])).directory
    require(training_memory_bytes(directory, student["batch_size"], student["max_length"]),
            f"training {student['model']} (batch_size {student['batch_size']}, max_length "
            f"{student['max_length']})", "lower student.batch_size or student.max_length")
    model, tokenizer = load_seq_student(directory, seed)
    encoded = encode_examples(tokenizer, rows, student["max_length"])
    log = train(model, [len(ids) for ids, _ in encoded], sequence_losses(model, tokenizer, encoded),
                student, epochs, seed)
    info = {"train_examples": len(rows), "epochs": epochs, "steps": log.steps,
            "examples_seen": log.examples_seen, "train_wall_s": log.wall_s,
            "final_loss": log.loss[-1] if log.loss else None}
    return model, tokenizer, info


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
    row's grammar; confidence = exp(mean token log-prob), rounded to 6 digits."""
    # Where an output could end or go on (a last tag whose tokens begin a longer tag's), ending
    # competes through the token the student was trained to emit after every output: its end
    # token, whose own text tokenizes to that one special token.
    end = tokenizer.convert_ids_to_tokens(end_token_id(tokenizer))
    # The prefix is no more than the start tokens, so caching it would save nothing; feeding each
    # prompt whole also computes it as training did, in one forward call.
    generations = generate(model, _AsTrained(tokenizer), "",
                           [prompt_text(row[WORDS_KEY]) for row in rows], grammars,
                           progress=True, reuse_prefix=False, end=end)
    return [{"id": row["id"], "output": g.text, "confidence": round(math.exp(g.mean_logprob), 6)}
            for row, g in zip(rows, generations, strict=True)]


def fit_and_predict_generative(task: str, train_rows: list[dict], student: dict, epochs: int,
                               seed: int, predict_on: dict[str, list[dict]],
                               tags: list[str] | None = None
                               ) -> tuple[dict[str, list[dict]], dict]:
    """Train a fresh causal LM on train_rows ({id, words, target}) and predict each set.

    The counterpart of `kdbench.structured_student.fit_and_predict_structured`: same arguments,
    predictions {id, output, confidence} in input order, and the info keys of
    `kdbench.student.fit_and_predict`. Trees are decoded without unary nodes, as the student
    learned them; tags (BIO strings) are required for slot_tagging and ignored for constituency.
    """
    definition = get_task(task)
    # Grammars first: a sentence without words or a bad tag list fails here, before training.
    grammars = {name: [definition.grammar(row[WORDS_KEY], tags or [], unary=False)
                       for row in rows]
                for name, rows in predict_on.items()}
    model, tokenizer, info = fit(train_rows, student, epochs, seed)
    start = time.time()
    predictions = {name: predict(model, tokenizer, rows, grammars[name])
                   for name, rows in predict_on.items()}
    info["predict_wall_s"] = round(time.time() - start, 2)
    return predictions, info
