"""Accuracy and macro-F1 against hand-computed values and against scikit-learn."""

import random

import pytest
from sklearn.metrics import accuracy_score, f1_score

from kdbench.metrics import classification_scores


def f1(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0


def test_hand_computed_example():
    gold = ["a", "a", "b", "c"]
    pred = ["a", "b", "b", "c"]
    # a: tp 1, fp 0, fn 1 -> P 1, R 1/2 -> F1 2/3
    # b: tp 1, fp 1, fn 0 -> P 1/2, R 1 -> F1 2/3
    # c: tp 1, fp 0, fn 0 -> F1 1
    assert f1(1, 0, 1) == pytest.approx(2 / 3)
    assert f1(1, 1, 0) == pytest.approx(2 / 3)
    expected_macro = (2 / 3 + 2 / 3 + 1) / 3  # = 7/9
    scores = classification_scores(gold, pred, ["a", "b", "c"])
    assert scores["accuracy"] == pytest.approx(0.75)
    assert scores["macro_f1"] == pytest.approx(expected_macro)
    assert scores["macro_f1"] == pytest.approx(7 / 9)
    assert set(scores) == {"accuracy", "macro_f1"}
    assert all(type(v) is float for v in scores.values())  # JSON-serialisable plain floats


def test_absent_label_counts_as_zero_f1():
    # "d" is in the label set but never in gold nor predictions: it has tp = fp = fn = 0,
    # so its F1 is undefined; kdbench counts it as 0 (zero_division=0), which pulls the
    # macro average down from 7/9 to (2/3 + 2/3 + 1 + 0) / 4 = 7/12. Averaging only over
    # the labels present would give 7/9.
    gold = ["a", "a", "b", "c"]
    pred = ["a", "b", "b", "c"]
    scores = classification_scores(gold, pred, ["a", "b", "c", "d"])
    assert scores["macro_f1"] == pytest.approx((2 / 3 + 2 / 3 + 1 + 0) / 4)
    assert scores["macro_f1"] == pytest.approx(7 / 12)
    assert scores["accuracy"] == pytest.approx(0.75)  # accuracy ignores the label set


def test_label_never_predicted_counts_as_zero_f1():
    # "b" is in gold but never predicted: P undefined -> 0, R 0, F1 0.
    gold = ["a", "b", "b", "a"]
    pred = ["a", "a", "a", "a"]
    # a: tp 2, fp 2, fn 0 -> F1 4/6 = 2/3; b: F1 0
    scores = classification_scores(gold, pred, ["a", "b"])
    assert scores["accuracy"] == pytest.approx(0.5)
    assert scores["macro_f1"] == pytest.approx((2 / 3 + 0) / 2)


def test_perfect_and_all_wrong():
    labels = ["x", "y"]
    assert classification_scores(["x", "y"], ["x", "y"], labels) == {"accuracy": 1.0,
                                                                     "macro_f1": 1.0}
    assert classification_scores(["x", "y"], ["y", "x"], labels) == {"accuracy": 0.0,
                                                                     "macro_f1": 0.0}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_sklearn_and_hand_count_on_random_example(seed):
    rng = random.Random(seed)
    labels = ["p", "q", "r", "s", "t"]
    gold = [rng.choice(labels[:4]) for _ in range(200)]  # "t" never gold
    pred = [g if rng.random() < 0.6 else rng.choice(labels) for g in gold]
    scores = classification_scores(gold, pred, labels)

    assert scores["accuracy"] == pytest.approx(accuracy_score(gold, pred))
    assert scores["macro_f1"] == pytest.approx(
        f1_score(gold, pred, labels=labels, average="macro", zero_division=0))

    # The same by hand, so a change in sklearn's defaults would be caught too.
    per_label = []
    for label in labels:
        tp = sum(g == p == label for g, p in zip(gold, pred, strict=True))
        fp = sum(p == label != g for g, p in zip(gold, pred, strict=True))
        fn = sum(g == label != p for g, p in zip(gold, pred, strict=True))
        per_label.append(f1(tp, fp, fn))
    assert scores["macro_f1"] == pytest.approx(sum(per_label) / len(labels))
    assert scores["accuracy"] == pytest.approx(
        sum(g == p for g, p in zip(gold, pred, strict=True)) / len(gold))
