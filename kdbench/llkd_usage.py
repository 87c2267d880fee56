"""LLKD's data usage against the paper's (studies/dvc.yaml): how the share of the pool LLKD
selects, counted as unique samples ever selected and as the mean fraction per step, and the
student's test score move with the threshold momentum, the teacher threshold's class-level form
and the pool size at a fixed number of training steps.

The paper reports 3.7% to under 25% of the training data; it does not say how usage is counted
or how many steps were trained (docs/methods.md). A pool of a fraction f of the teacher's
pseudolabels is drawn at random (seeded) and trained for epochs / f epochs, so every pool size
gets the pipeline's number of steps: a larger pool at fixed steps is what a large data set
trained for a fixed budget looks like.
"""

from pathlib import Path

import numpy as np

from kdbench.errors import KDBenchError
from kdbench.llkd import LLKDSelector, data_usage
from kdbench.params import CLASS_LEVELS, Field
from kdbench.report import aggregate, markdown_table, mean_std
from kdbench.students import make_student
from kdbench.studies import read_section
from kdbench.tasks import Prepared, Task

SCHEMA = {
    "tasks": Field(list, doc="label-scoring tasks the study runs on"),
    "seeds": Field(list, doc="seeds (each the pipeline's split of that seed)"),
    "momentum": Field(list, doc="EMA momenta of the thresholds (llkd.momentum)"),
    "class_level": Field(list, doc="class-level forms of the teacher threshold "
                                   "(llkd.class_level)"),
    "pool_fractions": Field(list, doc="fractions of the pseudolabeled pool, each trained for "
                                      "epochs / fraction epochs"),
}


def read_study(path: str | Path) -> dict:
    """studies/params.yaml's `llkd_usage`, validated."""
    study = read_section(path, "llkd_usage", SCHEMA)
    for key, low, high in (("momentum", 0.0, 1.0), ("pool_fractions", 0.0, 1.0)):
        values = study[key]
        if not values or any(isinstance(v, bool) or not isinstance(v, int | float)
                             or not low < v <= high for v in values):
            raise KDBenchError(f"params: llkd_usage.{key} = {values}; expected numbers in "
                               f"({low}, {high}]")
    forms = study["class_level"]
    if not forms or any(form not in CLASS_LEVELS for form in forms) \
            or len(set(forms)) != len(forms):
        raise KDBenchError(f"params: llkd_usage.class_level = {forms}; expected distinct names "
                           f"from {', '.join(CLASS_LEVELS)}")
    return study


def epochs_for(fraction: float, epochs: int) -> int:
    """Epochs over a pool of this fraction that keep the full pool's number of steps."""
    scaled = epochs / fraction
    if abs(scaled - round(scaled)) > 1e-6:
        raise KDBenchError(f"params: llkd_usage.pool_fractions has {fraction}: student.epochs "
                           f"({epochs}) / fraction must be a whole number of epochs")
    return round(scaled)


def subsample(pool: list[dict], fraction: float, seed: int) -> list[dict]:
    """A seeded random share of the pool, in the pool's order."""
    n = max(1, round(len(pool) * fraction))
    keep = np.sort(np.random.default_rng(seed).permutation(len(pool))[:n])
    return [pool[i] for i in keep]


def measure(task: Task, student: dict, llkd: dict, study: dict, prepared: Prepared,
            pool: list[dict], seed: int) -> list[dict]:
    """One row per pool fraction, class-level form and momentum: LLKD's usage both ways, steps
    trained, and the student's test metrics."""
    if task.teacher_kind != "scoring":
        raise KDBenchError(f"LLKD selects on label distributions: task {task.name} is not a "
                           "label-scoring task")
    labels = prepared.meta["labels"]
    rows = []
    for fraction in study["pool_fractions"]:
        epochs = epochs_for(fraction, student["epochs"])
        rows_used = subsample(pool, fraction, seed)
        for form in study["class_level"]:
            for momentum in study["momentum"]:
                selector = LLKDSelector(np.array([r["probs"] for r in rows_used]),
                                        np.array([labels.index(r["label"]) for r in rows_used]),
                                        {**llkd, "momentum": momentum, "class_level": form})
                fitted = make_student(task, student, prepared.meta, seed).fit(
                    rows_used, epochs, weighter=selector)
                score = task.score_predictions(fitted.predict(prepared.test), prepared.test,
                                               prepared.meta)
                rows.append({
                    "name": f"pool {fraction:g} x{len(rows_used)}, {form}, momentum {momentum:g}",
                    "pool_fraction": fraction, "pool": len(rows_used), "class_level": form,
                    "momentum": momentum, "epochs": epochs, "steps": len(selector.log),
                    **data_usage(selector.log, len(rows_used)),
                    "full_pool_fraction": round(
                        len({i for s in selector.log for i in s["selected_rows"]}) / len(pool), 4),
                    **{m: score[m] for m in task.metrics}})
    return rows


COLUMNS = [("unique_selected_fraction", "unique selected"),
           ("mean_step_fraction", "per step"), ("full_pool_fraction", "of the full pool")]


def table(per_seed: list[list[dict]], metrics: tuple[str, ...]) -> tuple[list[dict], str]:
    """Rows by pool fraction, class level and momentum, mean ± std over seeds, and their markdown
    table."""
    rows = aggregate(per_seed)
    shown = [{"pool": f"{r['pool_fraction']:g} ({r['pool']:.0f})",
              "class_level": r["class_level"], "momentum": r["momentum"],
              "epochs": int(r["epochs"]), "steps": f"{r['steps']:.0f}",
              **{k: mean_std(r, k) for k, _ in COLUMNS},
              **{m: mean_std(r, m) for m in metrics}} for r in rows]
    columns = [("pool", "pool share (size)"), ("class_level", "class level"),
               ("momentum", "momentum"), ("epochs", "epochs"),
               ("steps", "steps"), *COLUMNS, *[(m, f"test {m.replace('_', ' ')}")
                                               for m in metrics]]
    return rows, markdown_table(shown, columns)
