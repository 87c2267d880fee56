"""LLKD sample selection (Li et al., NAACL 2025 Findings), as reconstructed in docs/methods.md.

The paper gives the ingredients, not the equations: a sample is used at step t when the teacher
is confident (probability of its label) AND the student is uncertain (normalised entropy),
judged by class-wise, step-dependent thresholds. This module follows FreeMatch's
self-adaptive thresholds (Wang et al., ICLR 2023), applied once to each signal:

    global:  tau_t    = m * tau_{t-1}  + (1 - m) * mean(signal over the batch)
    class:   p_t(c)   = m * p_{t-1}(c) + (1 - m) * v_t(c)
    thresh:  tau_t(c) = p_t(c) / max_c' p_t(c') * tau_t

v_t(c), the batch's level of class c, has two forms (`llkd.class_level`):
- pseudolabel_mean: the mean signal over the batch's samples of pseudolabel c (a class absent
  from the batch keeps its level); it works for any scalar signal, the student's entropy too;
- probability_mass: FreeMatch's own form, the batch-mean probability the teacher gives class c
  over all samples; it needs a probability vector, so it applies to the teacher threshold and the
  student threshold keeps the pseudolabel mean.

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

    def update(self, values: np.ndarray, class_values: np.ndarray) -> None:
        """One step: `values` the batch's signal, `class_values` each class's level in this batch
        (NaN: the class keeps its level)."""
        m = self.momentum
        self.global_level = m * self.global_level + (1 - m) * float(np.mean(values))
        present = ~np.isnan(class_values)
        self.class_level[present] = (m * self.class_level[present]
                                     + (1 - m) * class_values[present])

    def thresholds(self) -> np.ndarray:
        top = self.class_level.max()
        if top <= 0:
            return np.zeros_like(self.class_level)
        return self.class_level / top * self.global_level


def pseudolabel_means(values: np.ndarray, classes: np.ndarray, num_classes: int) -> np.ndarray:
    """The mean of `values` over each class's samples; NaN for a class with none."""
    sums = np.bincount(classes, weights=values, minlength=num_classes)
    counts = np.bincount(classes, minlength=num_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / counts, np.nan)


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
        self.num_classes = teacher_probs.shape[1]
        self.teacher_probs = teacher_probs
        self.confidence = teacher_probs[np.arange(len(pseudolabels)), pseudolabels]
        self.probability_mass = llkd["class_level"] == "probability_mass"
        self.pseudolabels = pseudolabels
        self.teacher = AdaptiveThreshold(self.num_classes, llkd["momentum"], llkd["init"])
        self.student = AdaptiveThreshold(self.num_classes, llkd["momentum"], llkd["init"])
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
        classes = self.num_classes
        teacher_levels = (self.teacher_probs[rows].mean(axis=0)
                          if self.probability_mass
                          else pseudolabel_means(conf, y, classes))
        self.teacher.update(conf, teacher_levels)
        self.student.update(unc, pseudolabel_means(unc, y, classes))
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
