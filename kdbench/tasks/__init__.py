"""Tasks, the benchmark's one axis: each module here declares what varies between benchmarks.

A task says how its rows are loaded and split, which kind of teacher labels them (label scoring
or constrained generation, kdbench.teachers), which student kinds its params allow
(kdbench.students), how outputs are scored and combined, and which optional methods apply. Stage
scripts take `--task` and ask the task; they never branch on its name. A task module imports no
teacher or student code, so a stage that only scores does not depend on them.

Rows (JSONL, see kdbench.io): every row has an "id". A gold or trainset row carries the task's
input fields and its `target` field; a prediction carries `output` (and a confidence: `probs`
for classification, `confidence` for sequences). The unlabeled pool keeps its gold under "gold"
instead of `target`, so nothing trains on it by accident.

Adding a task: a module here with a `TASK` object (a subclass of `Task`), its name in
kdbench.params.TASK_NAMES and a block of that name in params.yaml.
"""

import importlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kdbench.errors import KDBenchError
from kdbench.io import read_json, read_jsonl, write_json, write_jsonl
from kdbench.params import TASK_NAMES


@dataclass
class Prepared:
    """One seed's splits; `meta` (prepared/meta.json) holds what students and the teacher need
    besides rows (the label set, the tag set) and what loading dropped."""

    labeled: list[dict]
    unlabeled: list[dict]
    test: list[dict]
    meta: dict


@dataclass
class Taught:
    """The teacher's work on one seed: its predictions per split (teacher/<split>.jsonl), the
    pseudolabeled trainset (trainsets/vanilla_kd.jsonl) and its info record."""

    predictions: dict[str, list[dict]]
    trainset: list[dict]
    info: dict = field(default_factory=dict)


def summed(infos: list[dict]) -> dict:
    """The info records of a teacher's shards as one: counts and seconds added up, the peak
    memory the largest, anything else (threads, names, the content-free prior) the first's."""
    def merged(key: str, first):
        if key == "peak_memory_gib":
            return max(i[key] for i in infos)
        if key == "threads" or not isinstance(first, int | float) or isinstance(first, bool):
            return first
        return round(sum(i[key] for i in infos), 4)

    return {key: merged(key, value) for key, value in infos[0].items()}


class Task:
    """What a task declares. Subclasses set the class attributes and implement the methods."""

    name: str
    metrics: tuple[str, ...]  # the first is the headline metric
    target: str  # field of a gold or trainset row holding the output
    output: str  # field of a prediction row holding the output
    methods: frozenset[str]  # optional methods that apply: conf_filter, llkd, label_budget
    teacher_kind: str  # scoring | generation (kdbench.teachers)
    schema: dict  # this task's params block: data, teacher, student

    def check(self, block: dict) -> None:
        """Checks across keys of the block (the schema checks each key alone)."""

    def prepare(self, data: dict, seed: int) -> Prepared:
        raise NotImplementedError

    def demonstrations(self, teacher: dict, labeled: list[dict], meta: dict,
                       seed: int) -> list[dict]:
        raise NotImplementedError

    def read_rows(self, path: str, meta: dict) -> list[dict]:
        """A trainset or predictions file, checked against the task's output vocabulary."""
        raise NotImplementedError

    def score(self, outputs: Sequence[Any], gold: Sequence[dict], meta: dict) -> dict:
        """The task's metrics of outputs (None = no output) against gold rows."""
        raise NotImplementedError

    def score_predictions(self, predictions: list[dict], gold: list[dict], meta: dict) -> dict:
        """`score` of prediction rows matched to the gold rows by id."""
        by_id = {p["id"]: p[self.output] for p in predictions}
        missing = [r["id"] for r in gold if r["id"] not in by_id]
        if missing:
            raise KDBenchError(f"{len(missing)} gold rows have no prediction, e.g. {missing[0]!r}")
        return self.score([by_id[r["id"]] for r in gold], gold, meta)

    def confidence(self, prediction: dict) -> float:
        raise NotImplementedError

    def correct(self, output: Any, gold: dict) -> bool:
        """Whether one output is exactly right (the teacher's reliability curve)."""
        return output == gold[self.target]

    def combine(self, predictions: list[dict], meta: dict) -> dict:
        """MCKD: one prediction from the K - 1 outside students' predictions of one example."""
        raise NotImplementedError

    def trainset_row(self, row: dict, prediction: dict) -> dict:
        """A trainset row: the input fields of `row` with `prediction` as its label."""
        raise NotImplementedError

    def teacher_row(self, info: dict) -> dict:
        """The teacher's extra fields in the results table, from its info record."""
        return {}

    def baselines(self, test: list[dict]) -> list[tuple[str, str, list[Any]]]:
        """(name, description, outputs on test) of trivial baselines the table shows."""
        return []

    def describe(self, setup: dict, teacher: dict) -> str:
        """One paragraph under the table: the setting, from evaluate's setup record."""
        raise NotImplementedError


def get_task(name: str) -> Task:
    """The task of that name; only its own module is imported."""
    if name not in TASK_NAMES:
        raise KDBenchError(f"unknown task {name!r}; expected one of {', '.join(TASK_NAMES)}")
    return importlib.import_module(f"kdbench.tasks.{name}").TASK


SPLITS = ("labeled", "unlabeled", "test")


def write_prepared(prepared: Prepared, folder: str) -> None:
    for name in SPLITS:
        write_jsonl(f"{folder}/prepared/{name}.jsonl", getattr(prepared, name))
    write_json(f"{folder}/prepared/meta.json", prepared.meta)


def read_prepared(folder: str) -> Prepared:
    return Prepared(*(read_jsonl(f"{folder}/prepared/{name}.jsonl") for name in SPLITS),
                    read_json(f"{folder}/prepared/meta.json"))


def pool_gold(task: Task, unlabeled: list[dict]) -> list[dict]:
    """The unlabeled pool with its kept-aside gold as targets (analysis, never training)."""
    return [{**{k: v for k, v in r.items() if k != "gold"}, task.target: r["gold"]}
            for r in unlabeled]
