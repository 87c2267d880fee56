import numpy as np
import pytest
import torch

from kdbench.llkd import AdaptiveThreshold, LLKDSelector, data_usage, normalised_entropy

LLKD = {"momentum": 0.5, "init": None, "weight": "product",
        "use_teacher_threshold": True, "use_student_threshold": True}


def test_threshold_follows_update_rule_on_hand_made_sequence():
    t = AdaptiveThreshold(num_classes=2, momentum=0.5)
    assert t.global_level == 0.5 and t.class_level.tolist() == [0.5, 0.5]
    # step 1: batch mean 0.7; class 0 mean 0.9, class 1 mean 0.5
    t.update(np.array([0.9, 0.9, 0.5, 0.5]), np.array([0, 0, 1, 1]))
    assert t.global_level == pytest.approx(0.6)
    assert t.class_level.tolist() == pytest.approx([0.7, 0.5])
    assert t.thresholds().tolist() == pytest.approx([0.6, 0.6 * 0.5 / 0.7])
    # step 2: only class 1 present; class 0 keeps its level
    t.update(np.array([0.1]), np.array([1]))
    assert t.global_level == pytest.approx(0.35)
    assert t.class_level.tolist() == pytest.approx([0.7, 0.3])
    assert t.thresholds().tolist() == pytest.approx([0.35, 0.35 * 0.3 / 0.7])


def test_explicit_init_and_momentum_one_freezes_thresholds():
    t = AdaptiveThreshold(num_classes=3, momentum=1.0, init=0.8)
    t.update(np.array([0.1, 0.2]), np.array([0, 2]))
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
