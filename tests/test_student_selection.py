"""The student-settings study: no labeled example predicted by a student that trained on it, each
setting's overrides reach the students, its params and its table."""

import re

import pytest
import yaml

from kdbench import student_selection
from kdbench.errors import KDBenchError
from kdbench.student_selection import measure, read_study, table
from kdbench.tasks import Prepared, get_task

LABELS = ["business", "sport", "tech"]
LABELED = [{"id": f"l{i}", "text": f"{LABELS[i % 3]} story number {i}", "label": LABELS[i % 3]}
           for i in range(15)]
POOL = [{"id": f"u{i}", "text": f"{LABELS[i % 3]} item {i}", "label": LABELS[(i + 1) % 3],
         "probs": [1 / 3] * 3} for i in range(12)]
CONFIGS = {"long": {"max_length": 32}, "short": {"max_length": 8, "sft_epochs": 2}}


def prepared() -> Prepared:
    return Prepared(LABELED, [], [], {"labels": LABELS})


class Recorder:
    """A student that remembers what it trained on and predicts its training set's first
    label for every row."""

    fits: list[tuple[dict, set, int]] = []

    def __init__(self, params: dict):
        self.params = params

    def fit(self, rows, epochs):
        self.trained = {r["id"] for r in rows}
        self.label = rows[0]["label"]
        Recorder.fits.append((self.params, self.trained, epochs))
        self.info = {"train_wall_s": 1.5, "predict_wall_s": 0.0}
        return self

    def predict(self, rows):
        assert not self.trained & {r["id"] for r in rows}, "predicted a row it trained on"
        self.info["predict_wall_s"] += 0.25
        return [{"id": r["id"], "label": self.label, "probs": [1 / 3] * 3} for r in rows]


def test_no_labeled_example_is_predicted_by_a_student_that_trained_on_it(monkeypatch):
    Recorder.fits = []
    monkeypatch.setattr(student_selection, "make_student",
                        lambda task, params, meta, seed: Recorder(params))
    student = {"max_length": 128, "epochs": 2, "sft_epochs": 10}
    rows = measure(get_task("classification"), student, CONFIGS, 5, prepared(), POOL, seed=0)
    assert [r["name"] for r in rows] == ["long", "short"]
    # Per setting: 5 fold students on 12 labeled rows each, then one on the pool.
    assert len(Recorder.fits) == 12
    seen = [(p["max_length"], epochs, len(t)) for p, t, epochs in Recorder.fits]
    assert seen == [(32, 10, 12)] * 5 + [(32, 2, 12)] + [(8, 2, 12)] * 5 + [(8, 2, 12)]
    assert Recorder.fits[11][1] == {r["id"] for r in POOL}
    for row in rows:
        assert row["sft_train_s"] == 7.5 and row["sft_predict_s"] == 1.25
        assert row["vanilla_kd_train_s"] == 1.5 and row["vanilla_kd_predict_s"] == 0.25
        # The pool's labels are shifted by one class: the KD student predicts "sport" throughout.
        assert row["vanilla_kd_accuracy"] == pytest.approx(1 / 3)
        assert 0.0 <= row["sft_accuracy"] <= 1.0


def test_measure_trains_real_students(student_params):
    student = {**student_params, "kind": "classifier", "epochs": 1, "sft_epochs": 1}
    rows = measure(get_task("classification"), student, {"a": {}}, 3, prepared(), POOL, seed=0)
    assert rows[0]["sft_train_s"] > 0 and 0.0 <= rows[0]["vanilla_kd_macro_f1"] <= 1.0


def _write(tmp_path, study):
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump({"student_selection": study}), encoding="utf-8")
    return path


STUDY = {"tasks": ["classification"], "seeds": [0, 1], "folds": 5,
         "configs": {"classification": CONFIGS}}


@pytest.mark.parametrize("change, message", [
    ({"budget": 3}, "unknown key student_selection.budget"),
    ({"folds": 1}, "student_selection.folds"),
    ({"configs": {}}, "configs.classification"),
    ({"configs": {"classification": {"x": {"max_lenght": 64}}}},
     "unknown key student_selection.configs.classification.x.max_lenght"),
    ({"configs": {"classification": {"x": {"max_length": 2}}}},
     "student_selection.configs.classification.x.max_length"),
])
def test_bad_study_params_are_one_line_naming_the_key(tmp_path, student_params, change, message):
    student = {**student_params, "kind": "classifier", "sft_epochs": 1}
    assert read_study(_write(tmp_path, STUDY), "classification", student) == STUDY
    with pytest.raises(KDBenchError, match=message):
        read_study(_write(tmp_path, {**STUDY, **change}), "classification", student)


def test_table_averages_the_seeds_and_marks_the_pipelines_setting():
    def row(name, overrides, accuracy):
        return {"name": name, "overrides": overrides, "sft_accuracy": accuracy,
                "sft_macro_f1": accuracy, "vanilla_kd_accuracy": accuracy / 2,
                "vanilla_kd_macro_f1": accuracy / 2, "sft_train_s": 10.0, "sft_predict_s": 2.0,
                "vanilla_kd_train_s": 20.0, "vanilla_kd_predict_s": 4.0}

    per_seed = [[row("long", {"max_length": 128}, 0.8), row("short", {"max_length": 64}, 0.6)],
                [row("long", {"max_length": 128}, 0.6), row("short", {"max_length": 64}, 0.6)]]
    rows, markdown = table(get_task("classification"), per_seed, {"max_length": 64})
    assert [r["default"] for r in rows] == [False, True]
    assert rows[0]["sft_accuracy"] == 0.7 and rows[0]["sft_accuracy_std"] == pytest.approx(
        0.1414, abs=1e-4)
    assert "0.700 ± 0.141" in markdown and "pipeline default" in markdown
    assert re.search(r"\|\s+12\s+\|\s+24\s+\|", markdown)  # training + prediction seconds
