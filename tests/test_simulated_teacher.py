"""The simulated teacher: flips at the set rate and kind, confidences in their ranges, seeded;
MCKD's per-stage pool accuracy and LLKD's selection on its labels; its params and docs."""

from pathlib import Path

import numpy as np
import pytest

from kdbench import simulated_teacher
from kdbench.errors import KDBenchError
from kdbench.simulated_teacher import check_study, simulate, table
from kdbench.tasks import Prepared, get_task

LABELS = ["business", "sport", "tech"]
CONFIDENCE = {"kept": [0.6, 1.0], "flipped": [0.3, 0.5]}
STUDY = {"tasks": ["classification"], "seeds": [0], "noise": [0.0, 0.4], "flips": "uniform",
         "confidence": CONFIDENCE, "mckd_stages": 2}


def pool(n: int) -> list[dict]:
    return [{"id": f"u{i}", "text": f"{LABELS[i % 3]} news item {i}", "gold": LABELS[i % 3]}
            for i in range(n)]


def test_flips_at_the_set_rate_with_confidences_in_their_ranges():
    rows = pool(3000)
    out, correct = simulate(rows, LABELS, 0.3, "uniform", CONFIDENCE, seed=0)
    assert abs(1 - correct.mean() - 0.3) < 0.03
    for row, right, source in zip(out, correct, rows, strict=True):
        assert (row["label"] == source["gold"]) == right
        own = row["probs"][LABELS.index(row["label"])]
        low, high = CONFIDENCE["kept" if right else "flipped"]
        assert low - 1e-6 <= own <= high + 1e-6 and own == max(row["probs"])
        assert sum(row["probs"]) == pytest.approx(1.0, abs=1e-5)
    # Uniform flips reach every other label.
    wrong = {(s["gold"], r["label"]) for r, s, ok in zip(out, rows, correct, strict=True)
             if not ok}
    assert len(wrong) == 6
    assert simulate(rows, LABELS, 0.3, "uniform", CONFIDENCE, seed=0)[0] == out
    assert simulate(rows, LABELS, 0.3, "uniform", CONFIDENCE, seed=1)[0] != out


def test_class_conditional_flips_go_to_the_next_label_and_no_noise_is_the_gold():
    rows = pool(300)
    out, correct = simulate(rows, LABELS, 0.5, "class_conditional", CONFIDENCE, seed=0)
    for row, source, right in zip(out, rows, correct, strict=True):
        expected = source["gold"] if right else LABELS[(LABELS.index(source["gold"]) + 1) % 3]
        assert row["label"] == expected
    clean, correct = simulate(rows, LABELS, 0.0, "uniform", CONFIDENCE, seed=0)
    assert correct.all() and [r["label"] for r in clean] == [r["gold"] for r in rows]


@pytest.mark.parametrize("change, message", [
    ({"noise": [1.0]}, "simulated_teacher.noise"),
    ({"confidence": {"kept": [0.9, 0.1], "flipped": [0.3, 0.5]}}, "confidence.kept"),
    ({"flips": "random"}, "simulated_teacher.flips"),
    ({"rate": 0.1}, "unknown key simulated_teacher.rate"),
])
def test_bad_study_params_are_one_line_naming_the_key(change, message):
    assert check_study(dict(STUDY)) == STUDY
    with pytest.raises(KDBenchError, match=message):
        check_study({**STUDY, **change})


def test_mckd_and_llkd_diagnostics_on_simulated_labels(student_params):
    task = get_task("classification")
    unlabeled = pool(24)
    test = [{"id": f"t{i}", "text": f"{LABELS[i % 3]} story {i}", "label": LABELS[i % 3]}
            for i in range(6)]
    prepared = Prepared([], unlabeled, test, {"labels": LABELS})
    llkd = {"momentum": 0.9, "init": None, "weight": "product", "use_teacher_threshold": True,
            "use_student_threshold": True, "class_level": "pseudolabel_mean"}
    rows = simulated_teacher.diagnose(task, {**student_params, "kind": "classifier"}, llkd, 2,
                                      STUDY, prepared, seed=0)
    assert [r["noise"] for r in rows] == [0.0, 0.4]
    clean, noisy = rows
    assert clean["pool_label_accuracy"] == 1.0
    _, correct = simulate(unlabeled, LABELS, 0.4, "uniform", CONFIDENCE, seed=0)
    assert noisy["pool_label_accuracy"] == pytest.approx(correct.mean(), abs=1e-4)
    for row in rows:
        assert {"mckd_s1_label_accuracy", "mckd_s2_label_accuracy"} <= set(row)
        assert 0.0 <= row["llkd_unique_selected_fraction"] <= 1.0
        assert 0.0 <= row["llkd_accuracy"] <= 1.0
    # With no noise, whatever LLKD selects is right.
    assert clean["llkd_selected_correct"] in (None, 1.0)
    markdown = table([rows])[1]
    assert "uniform flips, p = 0.4" in markdown and "after MCKD s2" in markdown


def test_a_sequence_task_is_refused():
    with pytest.raises(KDBenchError, match="not a label-scoring task"):
        simulated_teacher.diagnose(get_task("constituency"), {}, {}, 2, STUDY,
                                   Prepared([], [], [], {}), seed=0)


def test_every_study_key_is_documented():
    text = (Path(__file__).resolve().parents[1] / "docs" / "experiments.md").read_text()
    for key, spec in simulated_teacher.SCHEMA.items():
        names = [f"{key}.{k}" for k in spec] if isinstance(spec, dict) else [key]
        for name in names:
            assert f"| `simulated_teacher.{name}` |" in text, name
    repo = simulated_teacher.read_study(Path(__file__).resolve().parents[1] / "studies"
                                        / "params.yaml")
    assert repo["tasks"] == ["classification"]
    assert np.all(np.diff(repo["noise"]) > 0)
