"""The student-settings study (studies/dvc.yaml): which student settings train best and at what
cost, judged on the labeled pool only, never on test.

Each setting (a named set of overrides of the task's student block) trains two students whose
every prediction on the labeled pool is of an example they never trained on: SFT by k-fold over
the labeled pool (each fold predicted by a student trained on the other folds for `sft_epochs`),
and vanilla KD on the teacher's pseudolabels of the unlabeled pool (the pipeline's
trainsets/vanilla_kd.jsonl, `epochs`), predicting the whole labeled pool. Their training and
prediction seconds are the setting's cost, measured in the same run as the other settings'.
"""

from pathlib import Path

from kdbench.errors import KDBenchError
from kdbench.params import Field, _validate, integer
from kdbench.report import aggregate, markdown_table, mean_std
from kdbench.students import make_student
from kdbench.studies import read_section
from kdbench.tasks import Prepared, Task, get_task
from kdbench.teacher_selection import folds

SCHEMA = {
    "tasks": Field(list, doc="tasks the study runs on; each has its settings under configs"),
    "seeds": Field(list, doc="seeds (each the pipeline's split and teacher of that seed)"),
    "folds": integer(2, doc="k of the k-fold over the labeled pool (the SFT student)"),
    "configs": Field(dict, doc="per task: setting name -> overrides of <task>.student"),
}
STUDENTS = ("sft", "vanilla_kd")


def read_study(path: str | Path, task: str, student: dict) -> dict:
    """studies/params.yaml's `student_selection`, with each of the task's settings checked as a
    student block (the pipeline's `student` with the setting's overrides)."""
    study = read_section(path, "student_selection", SCHEMA)
    configs = study["configs"].get(task)
    if task not in study["tasks"] or not isinstance(configs, dict) or not configs:
        raise KDBenchError(f"params: student_selection needs {task!r} in tasks and a non-empty "
                           f"mapping configs.{task} (setting name: student overrides)")
    schema = get_task(task).schema["student"]
    for name, overrides in configs.items():
        if not isinstance(overrides, dict):
            raise KDBenchError(f"params: student_selection.configs.{task}.{name} = "
                               f"{overrides!r}; expected a mapping of {task}.student keys")
        _validate({**student, **overrides}, schema, f"student_selection.configs.{task}.{name}.")
    return study


def _trained(task: Task, student: dict, prepared: Prepared, rows: list[dict], epochs: int,
             seed: int, predict: list[dict]) -> tuple[list[dict], float, float]:
    fitted = make_student(task, student, prepared.meta, seed).fit(rows, epochs)
    predictions = fitted.predict(predict)
    return predictions, fitted.info["train_wall_s"], fitted.info["predict_wall_s"]


def measure(task: Task, student: dict, configs: dict, k: int, prepared: Prepared,
            pool: list[dict], seed: int) -> list[dict]:
    """One row per setting: both students' metrics on the labeled pool and their seconds."""
    labeled = prepared.labeled
    if len(labeled) < k:
        raise KDBenchError(f"student_selection.folds = {k} but the labeled pool has "
                           f"{len(labeled)} examples")
    parts = folds(labeled, k, seed, key=task.target if task.teacher_kind == "scoring" else None)
    rows = []
    for name, overrides in configs.items():
        params = {**student, **overrides}
        row = {"name": name, "overrides": overrides}
        predictions, train_s, predict_s = [], 0.0, 0.0
        for i, held_out in enumerate(parts):
            rest = [r for j, part in enumerate(parts) if j != i for r in part]
            fold, train, predict = _trained(task, params, prepared, rest, params["sft_epochs"],
                                            seed, held_out)
            predictions += fold
            train_s, predict_s = train_s + train, predict_s + predict
        runs = {"sft": (predictions, train_s, predict_s),
                "vanilla_kd": _trained(task, params, prepared, pool, params["epochs"], seed,
                                       labeled)}
        for method, (predicted, train, predict) in runs.items():
            score = task.score_predictions(predicted, labeled, prepared.meta)
            row |= {f"{method}_{m}": score[m] for m in task.metrics}
            row |= {f"{method}_train_s": round(train, 2), f"{method}_predict_s": round(predict, 2)}
        rows.append(row)
    return rows


def table(task: Task, per_seed: list[list[dict]], student: dict) -> tuple[list[dict], str]:
    """Each setting's mean ± std over seeds, the pipeline's own setting marked, and the markdown
    table."""
    rows = aggregate(per_seed)
    for row in rows:
        row["default"] = all(student.get(k) == v for k, v in row["overrides"].items())
    headline = task.metrics[0]
    shown = [{"name": r["name"],
              **{f"{s}_{headline}": mean_std(r, f"{s}_{headline}") for s in STUDENTS},
              **{f"{s}_s": f"{r[f'{s}_train_s'] + r[f'{s}_predict_s']:.0f}" for s in STUDENTS},
              "note": "pipeline default" if r["default"] else ""} for r in rows]
    columns = [("name", "student setting")]
    columns += [(f"{s}_{headline}", f"{s.replace('_', ' ')} {headline} (dev)") for s in STUDENTS]
    columns += [(f"{s}_s", f"{s.replace('_', ' ')} s") for s in STUDENTS]
    return rows, markdown_table(shown, columns + [("note", "")])
