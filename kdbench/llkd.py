"""LLKD sample selection (Li et al., NAACL 2025 Findings), as reconstructed in docs/methods.md.

The paper gives the ingredients, not the equations: a sample is used at step t when the teacher
is confident (probability of its label) AND the student is uncertain (normalised entropy),
judged by class-wise, step-dependent thresholds. This module follows FreeMatch's
self-adaptive thresholds (Wang et al., ICLR 2023), applied once to each signal:

    global:  tau_t    = m * tau_{t-1}  + (1 - m) * mean(signal over the batch)
    class:   p_t(c)   = m * p_{t-1}(c) + (1 - m) * mean(signal over the batch's samples of class c)
    thresh:  tau_t(c) = p_t(c) / max_c' p_t(c') * tau_t

Thresholds are updated with the batch, then the batch is judged against them.
"""

import numpy as np


class AdaptiveThreshold:
    """Class-wise self-adaptive threshold over one per-sample signal in [0, 1]."""

    def __init__(self, num_classes: int, momentum: float, init: float | None = None):
        start = 1.0 / num_classes if init is None else init
        self.momentum = momentum
        self.global_level = start
        self.class_level = np.full(num_classes, start, dtype=float)

    def update(self, values: np.ndarray, classes: np.ndarray) -> None:
        m = self.momentum
        self.global_level = m * self.global_level + (1 - m) * float(np.mean(values))
        # A class absent from the batch keeps its level.
        for c in np.unique(classes):
            self.class_level[c] = m * self.class_level[c] + (1 - m) * float(
                np.mean(values[classes == c]))

    def thresholds(self) -> np.ndarray:
        top = self.class_level.max()
        if top <= 0:
            return np.zeros_like(self.class_level)
        return self.class_level / top * self.global_level


def normalised_entropy(probs: np.ndarray) -> np.ndarray:
    """Entropy of each row divided by log(C): 0 = certain, 1 = uniform."""
    clipped = np.clip(probs, 1e-12, 1.0)
    return -(clipped * np.log(clipped)).sum(axis=-1) / np.log(probs.shape[-1])


WEIGHTS = {
    "none": lambda conf, unc: np.ones_like(conf),
    "confidence": lambda conf, unc: conf,
    "uncertainty": lambda conf, unc: unc,
    "product": lambda conf, unc: conf * unc,
}


class LLKDSelector:
    """A BatchWeighter: selects and weights a batch, logging every step."""

    def __init__(self, teacher_probs: np.ndarray, pseudolabels: np.ndarray, llkd: dict):
        num_classes = teacher_probs.shape[1]
        self.confidence = teacher_probs[np.arange(len(pseudolabels)), pseudolabels]
        self.pseudolabels = pseudolabels
        self.teacher = AdaptiveThreshold(num_classes, llkd["momentum"], llkd["init"])
        self.student = AdaptiveThreshold(num_classes, llkd["momentum"], llkd["init"])
        self.use_teacher = llkd["use_teacher_threshold"]
        self.use_student = llkd["use_student_threshold"]
        self.weight = WEIGHTS[llkd["weight"]]
        self.log: list[dict] = []

    def __call__(self, step: int, rows: np.ndarray, logits) -> np.ndarray:
        import torch

        probs = torch.softmax(logits.float(), dim=-1).cpu().numpy()
        conf = self.confidence[rows]
        unc = normalised_entropy(probs)
        y = self.pseudolabels[rows]
        self.teacher.update(conf, y)
        self.student.update(unc, y)
        tau_t, tau_s = self.teacher.thresholds(), self.student.thresholds()
        mask = np.ones(len(rows), dtype=bool)
        if self.use_teacher:
            mask &= conf >= tau_t[y]
        if self.use_student:
            mask &= unc >= tau_s[y]
        self.log.append({
            "step": step,
            "batch": len(rows),
            "selected_rows": [int(r) for r in rows[mask]],
            "teacher_threshold": round(self.teacher.global_level, 5),
            "student_threshold": round(self.student.global_level, 5),
            "teacher_class_thresholds": [round(float(t), 5) for t in tau_t],
            "student_class_thresholds": [round(float(t), 5) for t in tau_s],
        })
        return np.where(mask, self.weight(conf, unc), 0.0)


def data_usage(log: list[dict], pool_size: int) -> dict:
    """LLKD's data usage both ways: unique samples ever selected, and mean per-step fraction."""
    unique = {row for entry in log for row in entry["selected_rows"]}
    fractions = [len(entry["selected_rows"]) / entry["batch"] for entry in log]
    return {
        "unique_selected": len(unique),
        "unique_selected_fraction": round(len(unique) / pool_size, 4) if pool_size else 0.0,
        "mean_step_fraction": round(float(np.mean(fractions)), 4) if fractions else 0.0,
    }
