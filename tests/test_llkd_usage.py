"""LLKD's data-usage study: pools drawn at a share and trained for the same number of steps,
usage counted both ways and over the full pool, its params and docs."""

from pathlib import Path

import pytest
import yaml

from kdbench import llkd_usage
from kdbench.errors import KDBenchError
from kdbench.llkd_usage import epochs_for, measure, subsample, table
from kdbench.tasks import Prepared, get_task

LABELS = ["business", "sport", "tech"]
LLKD = {"momentum": 0.9, "init": None, "weight": "product", "use_teacher_threshold": True,
        "use_student_threshold": True, "class_level": "pseudolabel_mean"}
STUDY = {"tasks": ["classification"], "seeds": [0], "momentum": [0.9, 0.999],
         "class_level": ["pseudolabel_mean"], "pool_fractions": [0.5, 1.0]}


def pseudolabeled(n: int) -> list[dict]:
    rows = []
    for i in range(n):
        probs = [0.1] * 3
        probs[i % 3] = 0.8 if i % 2 else 0.6
        probs = [p / sum(probs) for p in probs]
        rows.append({"id": f"u{i}", "text": f"{LABELS[i % 3]} news item {i}",
                     "label": LABELS[i % 3], "probs": probs})
    return rows


def test_epochs_keep_the_full_pools_steps():
    assert epochs_for(1.0, 2) == 2 and epochs_for(0.25, 2) == 8 and epochs_for(0.5, 3) == 6
    with pytest.raises(KDBenchError, match="must be a whole number of epochs"):
        epochs_for(0.3, 2)


def test_subsample_is_seeded_and_keeps_the_pool_order():
    pool = pseudolabeled(40)
    part = subsample(pool, 0.25, seed=3)
    assert len(part) == 10 and part == subsample(pool, 0.25, seed=3)
    assert part != subsample(pool, 0.25, seed=4)
    order = [int(r["id"][1:]) for r in part]
    assert order == sorted(order)
    assert subsample(pool, 1.0, seed=0) == pool


def tiny_classification(student_params: dict, n_test: int) -> tuple:
    """The classification task, a prepared split of `n_test` test rows, a one-epoch student."""
    test = [{"id": f"t{i}", "text": f"{LABELS[i % 3]} story {i}", "label": LABELS[i % 3]}
            for i in range(n_test)]
    return (get_task("classification"), Prepared([], [], test, {"labels": LABELS}),
            {**student_params, "kind": "classifier", "epochs": 1})


def test_measure_trains_every_setting_for_the_same_steps(student_params):
    task, prepared, student = tiny_classification(student_params, 6)
    rows = measure(task, student, LLKD, STUDY, prepared, pseudolabeled(16), seed=0)
    assert [(r["pool_fraction"], r["momentum"]) for r in rows] == [
        (0.5, 0.9), (0.5, 0.999), (1.0, 0.9), (1.0, 0.999)]
    # 8 rows x 2 epochs and 16 rows x 1 epoch at batch 4: 4 steps each.
    assert [r["steps"] for r in rows] == [4, 4, 4, 4]
    assert [r["epochs"] for r in rows] == [2, 2, 1, 1]
    for row in rows:
        assert 0.0 <= row["mean_step_fraction"] <= 1.0
        # The full pool's share is the subsample's share scaled by its size.
        assert row["full_pool_fraction"] == pytest.approx(
            row["unique_selected"] / 16, abs=1e-4)
        assert 0.0 <= row["accuracy"] <= 1.0
    markdown = table([rows], task.metrics)[1]
    assert "0.5 (8)" in markdown and "of the full pool" in markdown


def test_measure_runs_each_class_level_form(student_params):
    task, prepared, student = tiny_classification(student_params, 3)
    study = {**STUDY, "momentum": [0.9], "pool_fractions": [1.0],
             "class_level": ["pseudolabel_mean", "probability_mass"]}
    rows = measure(task, student, LLKD, study, prepared, pseudolabeled(12), seed=0)
    assert [r["class_level"] for r in rows] == ["pseudolabel_mean", "probability_mass"]
    assert len({r["name"] for r in rows}) == 2
    assert "probability_mass" in table([rows], task.metrics)[1]


def test_a_sequence_task_is_refused():
    with pytest.raises(KDBenchError, match="not a label-scoring task"):
        measure(get_task("constituency"), {}, LLKD, STUDY, Prepared([], [], [], {}), [], seed=0)


@pytest.mark.parametrize("change, message", [
    ({"momentum": [1.5]}, "llkd_usage.momentum"),
    ({"pool_fractions": [0.0]}, "llkd_usage.pool_fractions"),
    ({"class_level": ["mass"]}, "llkd_usage.class_level"),
    ({"class_level": []}, "llkd_usage.class_level"),
    ({"steps": 10}, "unknown key llkd_usage.steps"),
])
def test_bad_study_params_are_one_line_naming_the_key(tmp_path, change, message):
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump({"llkd_usage": {**STUDY, **change}}))
    with pytest.raises(KDBenchError, match=message):
        llkd_usage.read_study(path)


def test_every_study_key_is_documented_and_the_committed_params_are_valid():
    root = Path(__file__).resolve().parents[1]
    text = (root / "docs" / "experiments.md").read_text()
    for key in llkd_usage.SCHEMA:
        assert f"| `llkd_usage.{key}` |" in text, key
    study = llkd_usage.read_study(root / "studies" / "params.yaml")
    for fraction in study["pool_fractions"]:
        epochs_for(fraction, 2)  # the pipeline's classification.student.epochs
