"""Students: one training loop and one predict() for every student of the benchmark.

Semi-supervised methods plug in as a `BatchWeighter` (a small hook over the shared loop, as in
USB): given the batch's row indices and the student's logits it returns per-example weights,
0 meaning "not selected". The loss is sum(w * CE) / (number of selected examples).
"""

import time
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from kdbench.assets import resolve_model
from kdbench.resources import require, student_training_bytes


class BatchWeighter(Protocol):
    def __call__(self, step: int, rows: np.ndarray, logits) -> np.ndarray:
        """Per-example weights for this batch (0 = not used)."""


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


def _batches(tokenizer, texts: list[str], order: np.ndarray, size: int, max_length: int):
    for start in range(0, len(order), size):
        rows = order[start:start + size]
        enc = tokenizer([texts[i] for i in rows], truncation=True, max_length=max_length,
                        padding=True, return_tensors="pt")
        yield rows, enc


def train(model, tokenizer, texts: list[str], targets: list[int], student: dict, epochs: int,
          seed: int, weighter: BatchWeighter | None = None) -> TrainLog:
    """Fine-tune `model` on (texts, targets): AdamW, linear decay, seeded shuffling."""
    import torch
    from transformers import get_linear_schedule_with_warmup

    log = TrainLog()
    if not texts:
        return log
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    y = torch.tensor(targets)
    steps_total = epochs * -(-len(texts) // student["batch_size"])
    optimizer = torch.optim.AdamW(model.parameters(), lr=student["lr"],
                                  weight_decay=student["weight_decay"])
    schedule = get_linear_schedule_with_warmup(
        optimizer, int(student["warmup_ratio"] * steps_total), steps_total)
    model.train()
    start = time.time()
    for _ in range(epochs):
        order = rng.permutation(len(texts))
        for rows, enc in _batches(tokenizer, texts, order, student["batch_size"],
                                  student["max_length"]):
            logits = model(**enc).logits
            ce = torch.nn.functional.cross_entropy(logits, y[rows], reduction="none")
            if weighter is None:
                weights = torch.ones(len(rows))
            else:
                weights = torch.as_tensor(weighter(log.steps, rows, logits.detach()),
                                          dtype=torch.float32)
            selected = int((weights > 0).sum())
            if selected:
                loss = (weights * ce).sum() / selected
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


def predict_proba(model, tokenizer, texts: list[str], student: dict) -> np.ndarray:
    """Class probabilities for each text, shape (N, C)."""
    import torch

    model.eval()
    # Length-sorted batches pad less; results are put back in input order.
    order = np.argsort([len(t) for t in texts], kind="stable")
    probs = np.zeros((len(texts), model.config.num_labels))
    with torch.no_grad():
        for rows, enc in _batches(tokenizer, texts, order, student["eval_batch_size"],
                                  student["max_length"]):
            probs[rows] = torch.softmax(model(**enc).logits.float(), dim=-1).numpy()
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
    log = train(model, tokenizer, [r["text"] for r in train_rows],
                [index[r["label"]] for r in train_rows], student, epochs, seed, weighter)
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
