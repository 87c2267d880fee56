"""Every task through the same checks: what it declares is consistent with the registries, and
its own rows go through prepare, demonstrations, scoring, relabeling and the trainset format."""

from pathlib import Path

import pytest
import yaml

from kdbench.params import TASK_NAMES, validate_block
from kdbench.students import KINDS as STUDENT_KINDS
from kdbench.tasks import get_task, pool_gold
from kdbench.teachers import KINDS as TEACHER_KINDS

REPO_PARAMS = Path(__file__).resolve().parents[1] / "params.yaml"

SMALL = {"n_labeled": 15, "n_unlabeled": 12, "n_test": 10}


@pytest.fixture(scope="module")
def params() -> dict:
    return yaml.safe_load(REPO_PARAMS.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", TASK_NAMES)
def test_every_task_keeps_the_contract(name, params):
    task = get_task(name)
    assert task.name == name and task.metrics and task.target and task.output
    assert task.teacher_kind in TEACHER_KINDS
    assert set(task.schema["student"]["kind"].choices) <= set(STUDENT_KINDS)
    assert task.methods <= {"conf_filter", "llkd", "label_budget"}
    assert set(task.schema) == {"data", "teacher", "student"}
    validate_block({**params, "tasks": [name]}, name)  # its default block is valid

    data = {**params[name]["data"], **SMALL}
    prepared = task.prepare(data, seed=0)
    assert [len(prepared.labeled), len(prepared.unlabeled), len(prepared.test)] == [15, 12, 10]
    assert all("gold" in r and task.target not in r for r in prepared.unlabeled)
    assert task.prepare(data, seed=0) == prepared  # seeded
    demos = task.demonstrations({"shots": 1}, prepared.labeled, prepared.meta, seed=0)
    assert demos and all(d in prepared.labeled for d in demos)

    # Gold outputs score perfectly, and nothing scores as unreadable.
    test = prepared.test
    perfect = task.score([r[task.target] for r in test], test, prepared.meta)
    assert perfect[task.metrics[0]] == 1.0 and perfect.get("unreadable", 0) == 0
    assert all(task.correct(r[task.target], r) for r in test)
    # A prediction made from gold becomes a trainset row with the same target, and a single
    # outside student's prediction is kept as it is.
    pool = pool_gold(task, prepared.unlabeled)
    for row in pool:
        prediction = {"id": row["id"], task.output: row[task.target],
                      **({"probs": [1.0 if label == row["label"] else 0.0
                                    for label in prepared.meta["labels"]]}
                         if "labels" in prepared.meta else {"confidence": 1.0})}
        assert task.combine([prediction], prepared.meta) == prediction
        trained = task.trainset_row(row, prediction)
        assert trained[task.target] == row[task.target] and trained["id"] == row["id"]
        assert task.confidence(prediction) == 1.0
    assert task.score_predictions(
        [{"id": r["id"], task.output: r[task.target]} for r in test], test,
        prepared.meta)[task.metrics[0]] == 1.0
