"""Students: one training loop and one predict() for every student of the benchmark.

The loop is task-agnostic: it asks an `ExampleLosses` callable for the per-example losses and
weights of each batch of row indices. Classification builds one with `classification_losses`;
semi-supervised methods plug in there as a `BatchWeighter` (a small hook over the shared loop, as
in USB): given the batch's row indices and the student's logits it returns per-example weights,
0 meaning "not selected". The loss is sum(w * loss) / (number of selected examples).
"""

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from kdbench.assets import resolve_model
from kdbench.resources import require, student_training_bytes

# Length bucketing sorts rows by length within random windows of this many batches: batches pad
# less, yet each epoch still mixes lengths and classes across windows.
BUCKET_WINDOW_BATCHES = 20


class BatchWeighter(Protocol):
    def __call__(self, step: int, rows: np.ndarray, logits) -> np.ndarray:
        """Per-example weights for this batch (0 = not used)."""


# (step, row indices) -> (per-example losses with grad, per-example weights; 0 = not used)
ExampleLosses = Callable[[int, np.ndarray], tuple["torch.Tensor", "torch.Tensor"]]  # noqa: F821


@dataclass
class TrainLog:
    steps: int = 0
    examples_seen: int = 0
    wall_s: float = 0.0
    loss: list[float] = field(default_factory=list)


def load_student(model_name: str, num_labels: int, seed: int):
    """A pretrained encoder with a fresh classification head (seeded)."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging

    # The load report lists the fresh head as "missing" on every run: expected, not news.
    logging.set_verbosity_error()
    location = resolve_model(model_name)
    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(location.directory)
    model = AutoModelForSequenceClassification.from_pretrained(location.directory,
                                                               num_labels=num_labels)
    return model, tokenizer


def encode(tokenizer, texts: list[str], max_length: int) -> list[list[int]]:
    """Token ids of each text, truncated; tokenized once, padded per batch by `collate`."""
    if not texts:  # a filter may leave nothing to train on; tokenizers refuse an empty batch
        return []
    return tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]


def collate(tokenizer, ids: list[list[int]]) -> dict:
    return tokenizer.pad({"input_ids": ids}, padding=True, return_tensors="pt")


def training_batches(lengths: list[int], batch_size: int, bucketing: bool,
                     rng: np.random.Generator) -> Iterator[np.ndarray]:
    """One epoch of row-index batches: shuffled, or length-bucketed then shuffled by batch."""
    order = rng.permutation(len(lengths))
    if not bucketing:
        yield from (order[i:i + batch_size] for i in range(0, len(order), batch_size))
        return
    window = batch_size * BUCKET_WINDOW_BATCHES
    batches = []
    for start in range(0, len(order), window):
        chunk = order[start:start + window]
        chunk = chunk[np.argsort([lengths[i] for i in chunk], kind="stable")]
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    for k in rng.permutation(len(batches)):
        yield batches[k]


def train(model, lengths: list[int], example_losses: ExampleLosses, student: dict, epochs: int,
          seed: int) -> TrainLog:
    """Fine-tune `model` on rows 0..len(lengths)-1: AdamW, linear decay, seeded batching."""
    import torch
    from transformers import get_linear_schedule_with_warmup

    log = TrainLog()
    if not lengths:
        return log
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    steps_total = epochs * -(-len(lengths) // student["batch_size"])
    optimizer = torch.optim.AdamW(model.parameters(), lr=student["lr"],
                                  weight_decay=student["weight_decay"])
    schedule = get_linear_schedule_with_warmup(
        optimizer, int(student["warmup_ratio"] * steps_total), steps_total)
    model.train()
    start = time.time()
    for _ in range(epochs):
        for rows in training_batches(lengths, student["batch_size"],
                                     student["length_bucketing"], rng):
            losses, weights = example_losses(log.steps, rows)
            selected = int((weights > 0).sum())
            if selected:
                loss = (weights * losses).sum() / selected
                loss.backward()
                optimizer.step()
                optimizer.zero_grad()
                log.loss.append(round(loss.item(), 4))
            schedule.step()
            log.steps += 1
            log.examples_seen += selected
            if log.steps % 20 == 0:
                rate = log.steps / (time.time() - start)
                print(f"  step {log.steps}/{steps_total} ({rate:.2f} steps/s, "
                      f"eta {(steps_total - log.steps) / rate:.0f} s)", flush=True)
    log.wall_s = round(time.time() - start, 2)
    model.eval()
    return log


def classification_losses(model, tokenizer, ids: list[list[int]], targets: list[int],
                          weighter: BatchWeighter | None = None) -> ExampleLosses:
    """Cross-entropy per example; weights 1, or the weighter's given the student's logits."""
    import torch

    y = torch.tensor(targets)

    def losses(step: int, rows: np.ndarray):
        logits = model(**collate(tokenizer, [ids[i] for i in rows])).logits
        ce = torch.nn.functional.cross_entropy(logits, y[rows], reduction="none")
        if weighter is None:
            return ce, torch.ones(len(rows))
        weights = weighter(step, rows, logits.detach())
        return ce, torch.as_tensor(weights, dtype=torch.float32)

    return losses


def predict_proba(model, tokenizer, texts: list[str], student: dict) -> np.ndarray:
    """Class probabilities for each text, shape (N, C)."""
    import torch

    model.eval()
    ids = encode(tokenizer, texts, student["max_length"])
    # Length-sorted batches pad less; results are put back in input order.
    order = np.argsort([len(x) for x in ids], kind="stable")
    size = student["eval_batch_size"]
    probs = np.zeros((len(texts), model.config.num_labels))
    with torch.no_grad():
        for start in range(0, len(order), size):
            rows = order[start:start + size]
            logits = model(**collate(tokenizer, [ids[i] for i in rows])).logits
            probs[rows] = torch.softmax(logits.float(), dim=-1).numpy()
    return probs


def prediction_rows(ids: list[str], probs: np.ndarray, labels: list[str]) -> list[dict]:
    """Rows of the predictions format: id, argmax label, full distribution."""
    return [{"id": i, "label": labels[int(p.argmax())], "probs": [round(float(x), 6) for x in p]}
            for i, p in zip(ids, probs, strict=True)]


def fit_and_predict(train_rows: list[dict], labels: list[str], student: dict, epochs: int,
                    seed: int, predict_on: dict[str, list[dict]],
                    weighter: BatchWeighter | None = None) -> tuple[dict[str, list[dict]], dict]:
    """Train a fresh pretrained student on train_rows, then predict each set in predict_on."""
    location = resolve_model(student["model"])
    needed = student_training_bytes(location.directory, student["batch_size"],
                                    student["max_length"])
    require(needed, f"training {student['model']} (batch_size {student['batch_size']}, max_length "
            f"{student['max_length']})", "lower student.batch_size or student.max_length")
    model, tokenizer = load_student(student["model"], len(labels), seed)
    index = {label: k for k, label in enumerate(labels)}
    ids = encode(tokenizer, [r["text"] for r in train_rows], student["max_length"])
    losses = classification_losses(model, tokenizer, ids, [index[r["label"]] for r in train_rows],
                                   weighter)
    log = train(model, [len(x) for x in ids], losses, student, epochs, seed)
    start = time.time()
    predictions = {
        name: prediction_rows([r["id"] for r in rows],
                              predict_proba(model, tokenizer, [r["text"] for r in rows], student),
                              labels)
        for name, rows in predict_on.items()
    }
    info = {"train_examples": len(train_rows), "epochs": epochs, "steps": log.steps,
            "examples_seen": log.examples_seen, "train_wall_s": log.wall_s,
            "predict_wall_s": round(time.time() - start, 2),
            "final_loss": log.loss[-1] if log.loss else None}
    return predictions, info
