import numpy as np

from kdbench.student import (
    Classifier,
    classification_losses,
    encode,
    load_student,
    predict_proba,
    train,
    training_batches,
)

LABELS = ["neg", "pos"]
TEXTS = ["good great fine", "bad awful poor", "great good", "poor bad", "fine good", "awful bad"]
TARGETS = [1, 0, 1, 0, 1, 0]


def fit_and_predict(rows, labels, params, epochs, seed, predict_on, weighter=None):
    student = Classifier(params, seed, labels).fit(rows, epochs, weighter)
    return {name: student.predict(r) for name, r in predict_on.items()}, student.info


def test_training_fits_a_separable_toy_set(student_params):
    student = {**student_params, "lr": 1e-2}  # a random tiny encoder needs a large step
    model, tok = load_student(student["model"], 2, seed=0)
    ids = encode(tok, TEXTS * 4, student["max_length"])
    log = train(model, [len(x) for x in ids], classification_losses(model, tok, ids, TARGETS * 4),
                student, epochs=8, seed=0)
    probs = predict_proba(model, tok, TEXTS, student)
    assert log.steps == 8 * 6 and log.loss[-1] < log.loss[0]
    assert probs.argmax(axis=1).tolist() == TARGETS


def test_same_seed_same_predictions_and_order_kept(student_params):
    rows = [{"id": str(i), "text": t, "label": LABELS[y]}
            for i, (t, y) in enumerate(zip(TEXTS, TARGETS, strict=True))]
    test = [{"id": "long", "text": "good " * 20}, {"id": "short", "text": "bad"}]
    a, info = fit_and_predict(rows, LABELS, student_params, 2, 0, {"test": test})
    b, _ = fit_and_predict(rows, LABELS, student_params, 2, 0, {"test": test})
    assert [r["id"] for r in a["test"]] == ["long", "short"]  # input order despite length sort
    assert a == b
    assert info["train_examples"] == 6 and info["steps"] == 4
    assert all(abs(sum(r["probs"]) - 1) < 1e-4 for r in a["test"])


def test_weighter_zero_weights_skip_updates(student_params):
    model, tok = load_student(student_params["model"], 2, seed=0)
    before = [p.detach().clone() for p in model.parameters()]
    seen = []

    def select_nothing(step, rows, logits):
        seen.append((step, len(rows), tuple(logits.shape)))
        return np.zeros(len(rows))

    ids = encode(tok, TEXTS, student_params["max_length"])
    losses = classification_losses(model, tok, ids, TARGETS, weighter=select_nothing)
    log = train(model, [len(x) for x in ids], losses, student_params, epochs=1, seed=0)
    assert seen == [(0, 4, (4, 2)), (1, 2, (2, 2))]
    assert log.examples_seen == 0 and log.loss == []
    assert all((a == b).all() for a, b in zip(before, model.parameters(), strict=True))


def test_a_student_that_cannot_fit_memory_stops_before_loading(student_params, monkeypatch):
    import pytest

    from kdbench import resources
    from kdbench.errors import KDBenchError

    monkeypatch.setattr(resources, "available_bytes", lambda: 1024)
    rows = [{"id": "0", "text": "good", "label": "pos"}]
    expected = r"needs about .* GiB of memory but 0.0 GiB is available; lower student.batch_size"
    with pytest.raises(KDBenchError, match=expected):
        fit_and_predict(rows, LABELS, student_params, 1, 0, {"test": rows})


def test_length_bucketing_covers_every_row_once_and_pads_less():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 200, size=1000).tolist()

    def epoch(bucketing):
        return list(training_batches(lengths, 8, bucketing, np.random.default_rng(1)))

    def padding(batches):
        return sum(max(lengths[i] for i in b) * len(b) - sum(lengths[i] for i in b)
                   for b in batches)

    plain, bucketed = epoch(False), epoch(True)
    for batches in (plain, bucketed):
        assert sorted(np.concatenate(batches).tolist()) == list(range(1000))
        assert all(len(b) <= 8 for b in batches)
    assert padding(bucketed) < padding(plain) / 5
    # Batches come in random order: not globally sorted by length.
    firsts = [lengths[b[0]] for b in bucketed]
    assert firsts != sorted(firsts)
    assert [b.tolist() for b in bucketed] == [b.tolist() for b in epoch(True)]
