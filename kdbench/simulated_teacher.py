"""A simulated teacher, to test the methods as designed (studies/dvc.yaml): the pool's gold
label flipped with a set probability, and a confidence from a stated model. Every number it
leads to is marked simulated.

Flips are `uniform` (to any other label, equally likely) or `class_conditional` (label c to the
next label of the label set, c + 1, a systematic confusion). Confidence: the simulated teacher
gives its label a probability drawn uniformly from `confidence.kept` where the label is right
and from `confidence.flipped` where it is wrong (so kept labels are more confident on average
when the first range lies higher), and spreads the rest evenly over the other labels.

Diagnostics, on one seed's pool: does MCKD's relabeling raise the pool's label accuracy stage by
stage (the pipeline's students, partitions and combination), and does LLKD's selection keep a
larger share of correct labels than the pool has (which is what a random subset of LLKD's size
keeps on average)?
"""

from pathlib import Path

import numpy as np
import yaml

from kdbench.errors import KDBenchError
from kdbench.llkd import LLKDSelector, data_usage
from kdbench.mckd import combine_relabels, make_partitions, unseen_ids
from kdbench.params import Field, _validate, integer
from kdbench.report import aggregate, markdown_table, mean_std
from kdbench.students import make_student
from kdbench.tasks import Prepared, Task

FLIPS = ("uniform", "class_conditional")
SCHEMA = {
    "tasks": Field(list, doc="tasks the study runs on (label-scoring tasks only)"),
    "seeds": Field(list, doc="seeds (each the pipeline's split of that seed)"),
    "noise": Field(list, doc="probabilities that a pool label is flipped"),
    "flips": Field(str, choices=FLIPS, doc="uniform (to any other label) | class_conditional "
                                           "(label c to label c + 1)"),
    "confidence": {
        "kept": Field(list, doc="[low, high]: confidence of a right label, uniform in it"),
        "flipped": Field(list, doc="[low, high]: confidence of a wrong label"),
    },
    "mckd_stages": integer(1, doc="MCKD relabeling stages measured"),
}


def check_study(study: dict) -> dict:
    """The `simulated_teacher` section, validated: one line naming a wrong key."""
    _validate(study, SCHEMA, "simulated_teacher.")
    if not study["noise"] or any(isinstance(p, bool) or not isinstance(p, int | float)
                                 or not 0.0 <= p < 1.0 for p in study["noise"]):
        raise KDBenchError(f"params: simulated_teacher.noise = {study['noise']}; expected "
                           "probabilities in [0, 1)")
    for key in ("kept", "flipped"):
        value = study["confidence"][key]
        if (len(value) != 2 or any(isinstance(v, bool) or not isinstance(v, int | float)
                                   for v in value) or not 0.0 <= value[0] <= value[1] <= 1.0):
            raise KDBenchError(f"params: simulated_teacher.confidence.{key} = {value}; "
                               "expected [low, high] with 0 <= low <= high <= 1")
    return study


def simulate(rows: list[dict], labels: list[str], noise: float, flips: str,
             confidence: dict, seed: int) -> tuple[list[dict], np.ndarray]:
    """Pseudolabeled rows {id, text, label, probs} of the pool's `rows` (which keep their gold
    under "gold"), and whether each label is right."""
    if len(labels) < 2:
        raise KDBenchError("a simulated teacher needs at least two labels")
    rng = np.random.default_rng(seed)
    gold = np.array([labels.index(r["gold"]) for r in rows])
    flipped = rng.random(len(rows)) < noise
    if flips == "uniform":
        other = (gold + rng.integers(1, len(labels), len(rows))) % len(labels)
    else:
        other = (gold + 1) % len(labels)
    given = np.where(flipped, other, gold)
    low = np.where(flipped, confidence["flipped"][0], confidence["kept"][0])
    high = np.where(flipped, confidence["flipped"][1], confidence["kept"][1])
    # Confidence at least 1 / labels keeps the given label the distribution's argmax.
    own = np.maximum(low + (high - low) * rng.random(len(rows)), 1.0 / len(labels))
    probs = np.repeat(((1.0 - own) / (len(labels) - 1))[:, None], len(labels), axis=1)
    probs[np.arange(len(rows)), given] = own
    out = [{"id": r["id"], "text": r["text"], "label": labels[g],
            "probs": [round(float(p), 6) for p in row]}
           for r, g, row in zip(rows, given, probs, strict=True)]
    return out, given == gold


def mckd_label_accuracy(task: Task, student: dict, prepared: Prepared, trainset: list[dict],
                        parts: int, stages: int, seed: int) -> list[float]:
    """The pool's label accuracy against its gold before MCKD and after each relabeling stage:
    K students per stage, each on its own partition, label what they did not see."""
    meta = prepared.meta
    gold = {r["id"]: r["gold"] for r in prepared.unlabeled}
    labels = {r["id"]: r for r in trainset}
    partitions = make_partitions(sorted(labels), parts, seed)

    def accuracy() -> float:
        return round(float(np.mean([labels[i]["label"] == gold[i] for i in labels])), 4)

    history = [accuracy()]
    for _ in range(stages):
        predictions = {}
        for k, members in enumerate(partitions):
            fitted = make_student(task, student, meta, seed).fit([labels[i] for i in members],
                                                                 student["epochs"])
            predictions[k] = fitted.predict([labels[i] for i in unseen_ids(partitions, k)])
        new = combine_relabels(partitions, predictions, lambda rows: task.combine(rows, meta))
        labels = {i: task.trainset_row(row, new[i]) for i, row in labels.items()}
        history.append(accuracy())
    return history


def llkd_selection(task: Task, student: dict, llkd: dict, prepared: Prepared,
                   trainset: list[dict], correct: np.ndarray, seed: int) -> dict:
    """LLKD on the simulated labels: the share of right labels among the samples it ever
    selected and among its per-step selections, its data usage and its student's test score."""
    labels = prepared.meta["labels"]
    selector = LLKDSelector(np.array([r["probs"] for r in trainset]),
                            np.array([labels.index(r["label"]) for r in trainset]), llkd)
    fitted = make_student(task, student, prepared.meta, seed).fit(trainset, student["epochs"],
                                                                  weighter=selector)
    unique = sorted({i for step in selector.log for i in step["selected_rows"]})
    per_step = [i for step in selector.log for i in step["selected_rows"]]
    score = task.score_predictions(fitted.predict(prepared.test), prepared.test, prepared.meta)
    return {"llkd_selected_correct": round(float(correct[unique].mean()), 4) if unique else None,
            "llkd_step_selected_correct": (round(float(correct[per_step].mean()), 4)
                                           if per_step else None),
            **{f"llkd_{k}": v for k, v in data_usage(selector.log, len(trainset)).items()},
            **{f"llkd_{m}": score[m] for m in task.metrics}}


def diagnose(task: Task, student: dict, llkd: dict, parts: int, study: dict,
             prepared: Prepared, seed: int) -> list[dict]:
    """One row per noise level: the simulated pool's accuracy, MCKD's per stage, LLKD's."""
    if task.teacher_kind != "scoring":
        raise KDBenchError(f"the simulated teacher gives label distributions: task {task.name} "
                           "is not a label-scoring task")
    rows = []
    for noise in study["noise"]:
        trainset, correct = simulate(prepared.unlabeled, prepared.meta["labels"], noise,
                                     study["flips"], study["confidence"], seed)
        history = mckd_label_accuracy(task, student, prepared, trainset, parts,
                                      study["mckd_stages"], seed)
        row = {"noise": noise, "flips": study["flips"], "pool_label_accuracy": history[0],
               **{f"mckd_s{k}_label_accuracy": a for k, a in enumerate(history[1:], 1)},
               **llkd_selection(task, student, llkd, prepared, trainset, correct, seed)}
        print(f"simulated_teacher: {task.name} seed {seed} {row}")
        rows.append(row)
    return rows


def read_study(path: str | Path) -> dict:
    """studies/params.yaml's `simulated_teacher`, validated."""
    path = Path(path)
    if not path.is_file():
        raise KDBenchError(f"missing study params file {path}")
    study = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("simulated_teacher")
    if not isinstance(study, dict):
        raise KDBenchError(f"{path}: expected a mapping simulated_teacher")
    return check_study(study)


LLKD_COLUMNS = [("llkd_selected_correct", "LLKD selected: right"),
                ("llkd_step_selected_correct", "per step: right"),
                ("llkd_unique_selected_fraction", "LLKD pool used"),
                ("llkd_accuracy", "LLKD test accuracy")]


def table(per_seed: list[list[dict]]) -> tuple[list[dict], str]:
    """Rows by noise level, mean ± std over seeds, and their markdown table."""
    rows = aggregate([[{"name": f"{r['flips']} flips, p = {r['noise']}", **r} for r in seed]
                      for seed in per_seed])
    stages = sorted(int(k[len("mckd_s"):-len("_label_accuracy")]) for k in rows[0]
                    if k.startswith("mckd_s") and k.endswith("_label_accuracy"))
    columns = [("pool_label_accuracy", "pool label accuracy"),
               *[(f"mckd_s{k}_label_accuracy", f"after MCKD s{k}") for k in stages],
               *LLKD_COLUMNS]
    shown = [{"name": r["name"], **{k: mean_std(r, k) for k, _ in columns}} for r in rows]
    return rows, markdown_table(shown, [("name", "simulated teacher"), *columns])
