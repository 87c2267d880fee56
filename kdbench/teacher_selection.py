"""The teacher-selection study (studies/dvc.yaml): which teacher settings label best, judged on
the labeled pool only, never on test.

k-fold over the labeled pool: each fold's rows are labeled by a teacher whose demonstrations come
from the other folds, so every labeled example is labeled once by a teacher that has not seen it.
Compared per task, as a grid: the model, the shots, and demonstrations drawn at random (as the
pipeline's teacher draws them) or the input's nearest labeled examples (kdbench.retrieval); for
label scoring, calibration on and off, both from the same scores. Random demonstrations share a
prefix per fold (its KV cache computed once); nearest ones differ for every input, so every input
pays for its own prefix: the study records seconds per example for each setting.
"""

import itertools
import time
from pathlib import Path

import numpy as np
import yaml

from kdbench import retrieval, seq_teacher, teacher
from kdbench.demonstrations import per_class, sampled
from kdbench.errors import KDBenchError
from kdbench.lm import load_causal_lm
from kdbench.params import TASK_NAMES, Field, integer, text
from kdbench.report import aggregate, markdown_table, mean_std
from kdbench.tasks import Prepared, Task

DEMONSTRATIONS = ("random", "nearest")
GRID = {
    "models": Field(list, doc="teacher models (packaged names, model dirs or .gguf files)"),
    "shots": Field(list, doc="shots to compare (per label for classification)"),
    "demonstrations": Field(list, doc="random | nearest (the input's nearest labeled examples)"),
}
SCHEMA = {
    "tasks": Field(list, doc="tasks the study runs on; each has a grid under grids"),
    "seeds": Field(list, doc="seeds (each its own split of the pipeline's prepare stage)"),
    "folds": integer(2, doc="k of the k-fold over the labeled pool"),
    "retriever": text(doc="sentence encoder of the nearest demonstrations"),
}


def read_study(path: str | Path) -> dict:
    """studies/params.yaml's `teacher_selection`, validated: one line naming a wrong key."""
    path = Path(path)
    if not path.is_file():
        raise KDBenchError(f"missing study params file {path}")
    study = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("teacher_selection")
    if not isinstance(study, dict):
        raise KDBenchError(f"{path}: expected a mapping teacher_selection")
    allowed = {*SCHEMA, "grids"}
    unknown = sorted(set(study) - allowed)
    if unknown:
        raise KDBenchError(f"params: unknown key teacher_selection.{unknown[0]}; allowed here: "
                           f"{', '.join(sorted(allowed))}")
    for key, field in SCHEMA.items():
        field.check(f"teacher_selection.{key}", study.get(key))
    grids = study.get("grids")
    if not isinstance(grids, dict) or any(t not in TASK_NAMES for t in grids):
        raise KDBenchError(f"params: teacher_selection.grids must map task names "
                           f"({', '.join(TASK_NAMES)}) to grids")
    for task in study["tasks"]:
        if task not in grids:
            raise KDBenchError(f"params: teacher_selection.tasks has {task!r} but "
                               f"teacher_selection.grids has no grid for it")
        check_grid(grids[task], f"teacher_selection.grids.{task}")
    return study


def check_grid(grid: dict, prefix: str) -> None:
    if not isinstance(grid, dict) or set(grid) != set(GRID):
        raise KDBenchError(f"params: {prefix} must have exactly the keys {', '.join(GRID)}")
    for key, field in GRID.items():
        field.check(f"{prefix}.{key}", grid[key])
        if not grid[key]:
            raise KDBenchError(f"params: {prefix}.{key} is empty; give at least one value")
    if any(not isinstance(s, int) or isinstance(s, bool) or s < 1 for s in grid["shots"]):
        raise KDBenchError(f"params: {prefix}.shots = {grid['shots']}; expected integers >= 1")
    if any(d not in DEMONSTRATIONS for d in grid["demonstrations"]):
        raise KDBenchError(f"params: {prefix}.demonstrations = {grid['demonstrations']}; "
                           f"expected values from {', '.join(DEMONSTRATIONS)}")


def folds(rows: list[dict], k: int, seed: int, key: str | None = None) -> list[list[dict]]:
    """k disjoint folds covering `rows` (seeded); with `key`, each value spread evenly."""
    if len(rows) < k:
        raise KDBenchError(f"teacher_selection.folds = {k} but the labeled pool has "
                           f"{len(rows)} examples")
    rng = np.random.default_rng(seed)
    order = [rows[i] for i in rng.permutation(len(rows))]
    if key is not None:
        order.sort(key=lambda r: r[key])  # stable: shuffled within each value
    return [order[i::k] for i in range(k)]


def _text(row: dict) -> str:
    return row["text"] if "text" in row else " ".join(row["words"])


def nearest_demonstrations(vector: np.ndarray, pool: list[dict], vectors: np.ndarray,
                           shots: int, labels: list[str] | None) -> list[dict]:
    """The input's nearest pool examples, the most similar last (next to the input). With
    `labels`, `shots` of each label, ranks interleaved across labels as `per_class` does."""
    if labels is None:
        if shots > len(pool):
            raise KDBenchError(f"shots = {shots} but a fold's demonstration pool has "
                               f"{len(pool)} examples; lower the shots or the folds")
        return [pool[i] for i in reversed(retrieval.nearest(vector, vectors, shots))]
    ranked = []
    for label in labels:
        members = [i for i, r in enumerate(pool) if r["label"] == label]
        if len(members) < shots:
            raise KDBenchError(f"shots = {shots} per label but a fold's demonstration pool has "
                               f"{len(members)} of {label!r}; lower the shots or the folds")
        ranked.append([members[j] for j in retrieval.nearest(vector, vectors[members], shots)])
    return [pool[group[rank]] for rank in reversed(range(shots)) for group in ranked]


def configs(grid: dict) -> list[dict]:
    return [{"model": m, "shots": s, "demonstrations": d}
            for m, s, d in itertools.product(grid["models"], grid["shots"],
                                             grid["demonstrations"])]


def _random_demonstrations(task: Task, pool: list[dict], shots: int, meta: dict,
                           seed: int) -> list[dict]:
    if task.teacher_kind == "scoring":
        return per_class(pool, meta["labels"], shots, seed)
    return sampled(pool, shots, seed)


def _score_labels(scorer, spec: teacher.PromptSpec, shots_of, rows: list[dict], nearest: bool
                  ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Raw distributions and content-free priors by row id: one prefix per call."""
    raw, prior = {}, {}
    continuations = spec.continuations()
    groups = [[r] for r in rows] if nearest else [rows]
    for group in groups:
        prefix = spec.prefix(shots_of(group[0]))
        queries = [spec.query(r["text"]) for r in group] + [spec.query(teacher.CONTENT_FREE_INPUT)]
        probs = teacher.normalise(scorer.score(prefix, queries, continuations))
        for row, p in zip(group, probs[:-1], strict=True):
            raw[row["id"]], prior[row["id"]] = p, probs[-1]
    return raw, prior


def evaluate(task: Task, teacher_params: dict, study: dict, grid: dict, prepared: Prepared,
             seed: int) -> list[dict]:
    """One row per setting of the grid: the task's metrics on the labeled pool (every row
    labeled by a teacher that did not see it) and seconds per example."""
    labeled, meta = prepared.labeled, prepared.meta
    scoring = task.teacher_kind == "scoring"
    parts = folds(labeled, study["folds"], seed, key="label" if scoring else None)
    vectors = None
    if "nearest" in grid["demonstrations"]:
        vectors = dict(zip([r["id"] for r in labeled],
                           retrieval.embed([_text(r) for r in labeled], study["retriever"]),
                           strict=True))
    gold = [r for part in parts for r in part]
    rows = []
    for model_name in grid["models"]:
        settings = {**teacher_params, "model": model_name}
        if scoring:
            scorer = teacher.make_scorer({**settings, "backend": "transformers"})
            spec = teacher.PromptSpec.from_params(settings, meta["labels"])
        else:
            model, tokenizer = load_causal_lm(model_name, settings["dtype"], settings["device"])
        for config in (c for c in configs(grid) if c["model"] == model_name):
            nearest = config["demonstrations"] == "nearest"
            start = time.time()
            raw, prior, outputs = {}, {}, {}
            for index, part in enumerate(parts):
                pool = [r for other in parts if other is not part for r in other]
                pool_vectors = np.stack([vectors[r["id"]] for r in pool]) if nearest else None

                def shots_of(row: dict, pool=pool, pool_vectors=pool_vectors, index=index,
                             config=config, nearest=nearest) -> list[dict]:
                    if not nearest:
                        return _random_demonstrations(task, pool, config["shots"], meta,
                                                      seed * 1000 + index)
                    return nearest_demonstrations(vectors[row["id"]], pool, pool_vectors,
                                                  config["shots"],
                                                  meta["labels"] if scoring else None)

                if scoring:
                    part_raw, part_prior = _score_labels(scorer, spec, shots_of, part, nearest)
                    raw.update(part_raw)
                    prior.update(part_prior)
                    continue
                for group in ([r] for r in part) if nearest else [part]:
                    labeled_rows, _ = seq_teacher.label_rows(
                        task, model, tokenizer, shots_of(group[0]), group, meta["tags"],
                        settings["constrained"], settings["unary"],
                        1 if nearest else settings["batch_size"])
                    outputs.update({o["id"]: o["output"] for o in labeled_rows})
            seconds = round((time.time() - start) / len(labeled), 3)
            if scoring:
                for calibrated in (False, True):
                    probs = [teacher.calibrate(raw[r["id"]], prior[r["id"]]) if calibrated
                             else raw[r["id"]] for r in gold]
                    predicted = [meta["labels"][int(np.argmax(p))] for p in probs]
                    rows.append({**config, "calibrate": calibrated,
                                 **task.score(predicted, gold, meta),
                                 "seconds_per_example": seconds})
            else:
                rows.append({**config, **task.score([outputs[r["id"]] for r in gold], gold,
                                                    meta),
                             "seconds_per_example": seconds})
            print(f"select_teacher: {task.name} seed {seed} {rows[-1]}")
    return rows


def name(row: dict) -> str:
    """A setting's label in the tables, e.g. `gemma3-270m, 3 shots, nearest, calibrated`."""
    parts = [row["model"], f"{row['shots']} shots", row["demonstrations"]]
    if "calibrate" in row:
        parts.append("calibrated" if row["calibrate"] else "uncalibrated")
    return ", ".join(parts)


def summary(task: Task, per_seed: list[list[dict]], default: dict) -> dict:
    """Each setting's mean and std over seeds, the best by the headline metric's mean (ties:
    the earlier setting) and which one is the pipeline's default teacher."""
    headline = task.metrics[0]
    rows = aggregate([[{"name": name(r), **r} for r in seed_rows] for seed_rows in per_seed])
    best = max(range(len(rows)), key=lambda i: (rows[i][headline], -i))
    default_name = name({**default, "demonstrations": "random"})
    for i, row in enumerate(rows):
        row["best"] = i == best
        row["default"] = row["name"] == default_name
    return {"headline": headline, "best": rows[best]["name"], "default": default_name,
            "rows": rows}


def table(task: Task, result: dict) -> str:
    rows = [{"name": r["name"], **{m: mean_std(r, m) for m in task.metrics},
             "seconds_per_example": r["seconds_per_example"],
             "note": ", ".join(n for n, on in (("best", r["best"]),
                                               ("pipeline default", r["default"])) if on)}
            for r in result["rows"]]
    columns = [("name", "teacher setting")]
    columns += [(m, f"{m.replace('_', ' ')} (dev)") for m in task.metrics]
    columns += [("seconds_per_example", "s / example"), ("note", "")]
    return markdown_table(rows, columns)
