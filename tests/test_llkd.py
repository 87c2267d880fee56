from pathlib import Path

import numpy as np
import pytest
import torch

from kdbench.errors import KDBenchError
from kdbench.llkd import (
    AdaptiveThreshold,
    LLKDSelector,
    data_usage,
    normalised_entropy,
    pseudolabel_means,
)
from kdbench.params import read_params

LLKD = {"momentum": 0.5, "init": None, "class_level": "pseudolabel_mean", "weight": "product",
        "use_teacher_threshold": True, "use_student_threshold": True}


def test_threshold_follows_update_rule_on_hand_made_sequence():
    t = AdaptiveThreshold(num_classes=2, momentum=0.5)
    assert t.global_level == 0.5 and t.class_level.tolist() == [0.5, 0.5]
    # step 1: batch mean 0.7; class 0 mean 0.9, class 1 mean 0.5
    values = np.array([0.9, 0.9, 0.5, 0.5])
    t.update(values, pseudolabel_means(values, np.array([0, 0, 1, 1]), 2))
    assert t.global_level == pytest.approx(0.6)
    assert t.class_level.tolist() == pytest.approx([0.7, 0.5])
    assert t.thresholds().tolist() == pytest.approx([0.6, 0.6 * 0.5 / 0.7])
    # step 2: only class 1 present; class 0 keeps its level
    t.update(np.array([0.1]), pseudolabel_means(np.array([0.1]), np.array([1]), 2))
    assert t.global_level == pytest.approx(0.35)
    assert t.class_level.tolist() == pytest.approx([0.7, 0.3])
    assert t.thresholds().tolist() == pytest.approx([0.35, 0.35 * 0.3 / 0.7])


def test_explicit_init_and_momentum_one_freezes_thresholds():
    t = AdaptiveThreshold(num_classes=3, momentum=1.0, init=0.8)
    t.update(np.array([0.1, 0.2]), np.array([0.1, np.nan, 0.2]))
    assert t.thresholds().tolist() == pytest.approx([0.8, 0.8, 0.8])


def test_normalised_entropy_bounds():
    assert normalised_entropy(np.array([[1.0, 0.0, 0.0]]))[0] == pytest.approx(0.0, abs=1e-9)
    assert normalised_entropy(np.full((1, 4), 0.25))[0] == pytest.approx(1.0)


def test_selector_keeps_confident_teacher_and_uncertain_student():
    # pseudolabels 0,0,0,1,1,1; the student is uncertain on rows 0, 1, 4, 5
    teacher_probs = np.array([[0.95, 0.05], [0.55, 0.45], [0.9, 0.1],
                              [0.2, 0.8], [0.15, 0.85], [0.4, 0.6]])
    pseudo = teacher_probs.argmax(axis=1)
    logits = torch.tensor([[0.0, 0.0], [0.1, 0.0], [9.0, -9.0],
                           [-9.0, 9.0], [0.0, 0.0], [0.0, 0.1]])
    selector = LLKDSelector(teacher_probs, pseudo, {**LLKD, "momentum": 0.0})
    weights = selector(0, np.arange(6), logits)
    # momentum 0: levels are this batch's means. Teacher: global 0.775, class 0 mean 0.8,
    # class 1 mean 0.75, so thresholds [0.775, 0.775 * 0.75 / 0.8]; rows 1 and 5 fail.
    assert selector.teacher.thresholds().tolist() == pytest.approx([0.775, 0.775 * 0.75 / 0.8])
    # Student: both classes average ~0.666 uncertainty; rows 2 and 3 (certain) fail.
    assert (weights > 0).tolist() == [True, False, False, False, True, False]
    unc = normalised_entropy(torch.softmax(logits, -1).numpy())
    assert weights[0] == pytest.approx(0.95 * unc[0])
    assert weights[4] == pytest.approx(0.85 * unc[4])
    assert selector.log[0]["selected_rows"] == [0, 4]


@pytest.mark.parametrize("weight,expected", [("none", 1.0), ("confidence", 0.95)])
def test_weight_forms(weight, expected):
    selector = LLKDSelector(np.array([[0.95, 0.05]]), np.array([0]),
                            {**LLKD, "weight": weight, "use_teacher_threshold": False,
                             "use_student_threshold": False})
    assert selector(0, np.array([0]), torch.zeros(1, 2))[0] == pytest.approx(expected)


def test_data_usage_counts_unique_and_per_step():
    log = [{"batch": 4, "selected_rows": [0, 1]}, {"batch": 4, "selected_rows": [1]},
           {"batch": 2, "selected_rows": []}]
    usage = data_usage(log, pool_size=10)
    assert usage == {"unique_selected": 2, "unique_selected_fraction": 0.2,
                     "mean_step_fraction": pytest.approx((0.5 + 0.25 + 0.0) / 3, abs=1e-4)}


def test_pseudolabel_means_leave_absent_classes_nan():
    means = pseudolabel_means(np.array([0.2, 0.4, 0.9]), np.array([0, 0, 2]), 3)
    assert means[[0, 2]].tolist() == pytest.approx([0.3, 0.9])
    assert np.isnan(means[1])


def _skewed_stream(steps: int = 200, batch: int = 16):
    """Teacher distributions over 3 classes where class 2 is rare but confidently labeled."""
    rng = np.random.default_rng(0)
    probs = []
    for _ in range(steps * batch):
        label = rng.choice(3, p=[0.6, 0.36, 0.04])
        row = np.full(3, 0.05)
        row[label] = 0.9
        probs.append(row)
    return np.array(probs)


@pytest.mark.parametrize("form", ["pseudolabel_mean", "probability_mass"])
def test_class_level_forms_on_a_skewed_stream(form):
    probs = _skewed_stream()
    pseudo = probs.argmax(axis=1)
    selector = LLKDSelector(probs, pseudo, {**LLKD, "momentum": 0.9, "class_level": form,
                                            "use_student_threshold": False})
    for step, start in enumerate(range(0, len(probs), 16)):
        selector(step, np.arange(start, start + 16), torch.zeros(16, 3))
    level = selector.teacher.class_level
    if form == "pseudolabel_mean":
        # Every class's samples have confidence 0.9: all levels go to 0.9, the rare one too.
        assert level.tolist() == pytest.approx([0.9, 0.9, 0.9], abs=1e-3)
    else:
        # FreeMatch's mass: about 0.9 * share + 0.05 * (1 - share), so the rare class is low and
        # its threshold, scaled by the top class's level, lets its samples through more easily.
        expected = 0.9 * np.array([0.6, 0.36, 0.04]) + 0.05 * (1 - np.array([0.6, 0.36, 0.04]))
        assert level.tolist() == pytest.approx(expected.tolist(), abs=0.06)
        thresholds = selector.teacher.thresholds()
        assert thresholds[2] < 0.2 * thresholds[0]
    # The student threshold keeps the class-conditional form whatever the teacher's.
    assert selector.student.class_level.tolist() == pytest.approx([1.0, 1.0, 1.0], abs=1e-3)


def test_probability_mass_is_the_ema_of_the_batch_mean_distribution():
    probs = np.array([[0.7, 0.2, 0.1], [0.6, 0.3, 0.1], [0.1, 0.1, 0.8], [0.5, 0.4, 0.1]])
    selector = LLKDSelector(probs, probs.argmax(axis=1),
                            {**LLKD, "momentum": 0.5, "class_level": "probability_mass"})
    selector(0, np.array([0, 1]), torch.zeros(2, 3))
    selector(1, np.array([2, 3]), torch.zeros(2, 3))
    first = 0.5 / 3 + 0.5 * probs[[0, 1]].mean(axis=0)
    second = 0.5 * first + 0.5 * probs[[2, 3]].mean(axis=0)
    assert selector.teacher.class_level.tolist() == pytest.approx(second.tolist())
    # The global level is the batch-mean confidence, the same in both forms.
    assert selector.teacher.global_level == pytest.approx(
        0.5 * (0.5 / 3 + 0.5 * 0.65) + 0.5 * 0.65)


def test_params_refuse_an_unknown_class_level(tmp_path):
    text = Path("params.yaml").read_text().replace("class_level: pseudolabel_mean",
                                                   "class_level: mass")
    (tmp_path / "params.yaml").write_text(text)
    with pytest.raises(KDBenchError, match="llkd.class_level"):
        read_params(tmp_path / "params.yaml")
