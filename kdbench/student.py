"""Students: one training loop and one predict() for every student of the benchmark.

The loop is task-agnostic: it asks an `ExampleLosses` callable for the per-example losses and
weights of each batch of row indices. Classification builds one with `classification_losses`;
semi-supervised methods plug in there as a `BatchWeighter` (a small hook over the shared loop, as
in USB): given the batch's row indices and the student's logits it returns per-example weights,
0 meaning "not selected". The loss is sum(w * loss) / (number of selected examples).
"""

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from kdbench.assets import resolve_model
from kdbench.devices import autocast, of, resolve
from kdbench.errors import KDBenchError
from kdbench.io import prediction_rows
from kdbench.progress import progress
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


def collate(tokenizer, ids: list[list[int]], device=None) -> dict:
    batch = tokenizer.pad({"input_ids": ids}, padding=True, return_tensors="pt")
    return {key: value.to(device) for key, value in batch.items()} if device else dict(batch)


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
          seed: int, precision=None) -> TrainLog:
    """Fine-tune `model` on rows 0..len(lengths)-1: AdamW, linear decay, seeded batching; the
    forward passes run in the `precision` context (kdbench.devices.autocast) if one is given."""
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
    bar = progress(steps_total, "train", unit="step")
    for _ in range(epochs):
        for rows in training_batches(lengths, student["batch_size"],
                                     student["length_bucketing"], rng):
            with precision or contextlib.nullcontext():
                losses, weights = example_losses(log.steps, rows)
            weights = weights.to(losses.device)
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
            bar.update()
    bar.close()
    log.wall_s = round(time.time() - start, 2)
    model.eval()
    return log


def classification_losses(model, tokenizer, ids: list[list[int]], targets: list[int],
                          weighter: BatchWeighter | None = None) -> ExampleLosses:
    """Cross-entropy per example; weights 1, or the weighter's given the student's logits."""
    import torch

    device = of(model)
    y = torch.tensor(targets, device=device)

    def losses(step: int, rows: np.ndarray):
        logits = model(**collate(tokenizer, [ids[i] for i in rows], device)).logits.float()
        ce = torch.nn.functional.cross_entropy(logits, y[rows], reduction="none")
        if weighter is None:
            return ce, torch.ones(len(rows), device=device)
        weights = weighter(step, rows, logits.detach().cpu())
        return ce, torch.as_tensor(weights, dtype=torch.float32, device=device)

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
            logits = model(**collate(tokenizer, [ids[i] for i in rows], of(model))).logits
            probs[rows] = torch.softmax(logits.float(), dim=-1).cpu().numpy()
    return probs


class Student:
    """The one student contract: `fit(rows, epochs) -> self`, then `predict(rows)` -> prediction
    rows in input order; `info` records the training. A kind implements `_memory_bytes`, `_load`
    (sets `model`), `_training` (lengths and per-example losses of the rows) and `_predict`;
    checking rows, the memory check and the info record live here once."""

    # Whether fit() accepts a BatchWeighter (LLKD selects on class distributions).
    takes_weighter = False

    def __init__(self, params: dict, seed: int):
        self.params = params
        self.seed = seed
        self.model = None
        self.info: dict = {}

    def _check(self, rows: list[dict], what: str) -> None:
        """Refuse rows this kind cannot read, before anything loads."""

    def _memory_bytes(self) -> int:
        raise NotImplementedError

    def _load(self) -> None:
        raise NotImplementedError

    def _training(self, rows: list[dict],
                  weighter: BatchWeighter | None) -> tuple[list[int], ExampleLosses]:
        raise NotImplementedError

    def _predict(self, rows: list[dict]) -> list[dict]:
        raise NotImplementedError

    def fit(self, rows: list[dict], epochs: int,
            weighter: BatchWeighter | None = None) -> "Student":
        """Train a fresh pretrained student on rows; a weighter selects and weights examples
        per batch (LLKD)."""
        if weighter is not None and not self.takes_weighter:
            raise KDBenchError(f"{type(self).__name__} takes no sample weighter (LLKD applies "
                               "to classification)")
        self._check(rows, "train")
        p = self.params
        device = resolve(p["device"])
        precision = autocast(device, p["precision"])
        if device.type == "cpu":  # a GPU's memory is the GPU's business
            require(self._memory_bytes(), f"training {p['model']} (batch_size "
                    f"{p['batch_size']}, max_length {p['max_length']})",
                    "lower student.batch_size or student.max_length")
        self._load()
        self.model.to(device)
        lengths, losses = self._training(rows, weighter)
        log = train(self.model, lengths, losses, p, epochs, self.seed, precision)
        self.info = {"model": p["model"], "device": str(device), "train_examples": len(rows),
                     "epochs": epochs,
                     "steps": log.steps, "examples_seen": log.examples_seen,
                     "train_wall_s": log.wall_s, "predict_wall_s": 0.0,
                     "final_loss": log.loss[-1] if log.loss else None}
        return self

    def predict(self, rows: list[dict]) -> list[dict]:
        if self.model is None:
            raise KDBenchError("predict() before fit(): a student must be trained first")
        self._check(rows, "predict")
        start = time.time()
        with autocast(of(self.model), self.params["precision"]):
            predictions = self._predict(rows)
        self.info["predict_wall_s"] = round(self.info["predict_wall_s"] + time.time() - start, 2)
        return predictions


class Classifier(Student):
    """A pretrained encoder with a fresh classification head over `labels`; rows {id, text,
    label}; predictions {id, label, probs}."""

    takes_weighter = True

    def __init__(self, params: dict, seed: int, labels: list[str]):
        super().__init__(params, seed)
        self.labels = labels

    def _memory_bytes(self) -> int:
        return student_training_bytes(resolve_model(self.params["model"]).directory,
                                      self.params["batch_size"], self.params["max_length"])

    def _load(self) -> None:
        self.model, self.tokenizer = load_student(self.params["model"], len(self.labels),
                                                  self.seed)

    def _training(self, rows, weighter):
        index = {label: k for k, label in enumerate(self.labels)}
        ids = encode(self.tokenizer, [r["text"] for r in rows], self.params["max_length"])
        losses = classification_losses(self.model, self.tokenizer, ids,
                                       [index[r["label"]] for r in rows], weighter)
        return [len(x) for x in ids], losses

    def _predict(self, rows):
        probs = predict_proba(self.model, self.tokenizer, [r["text"] for r in rows], self.params)
        return prediction_rows([r["id"] for r in rows], probs, self.labels)
