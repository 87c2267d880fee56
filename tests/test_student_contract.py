"""Every student kind through the same checks, built as the stages build them (make_student)."""

import pytest

from kdbench.errors import KDBenchError
from kdbench.students import make_student
from kdbench.tasks import get_task

TREES = [{"id": "t1", "words": ["the", "dog", "barked"],
          "target": "( ( ( the ) ( dog ) ) ( barked ) )"},
         {"id": "t2", "words": ["cats", "sleep", "well", "."],
          "target": "( ( cats ) ( ( sleep ) ( well ) ) ( . ) )"}]
TAGS = ["O", "B-city", "I-city"]
TAGGED = [{"id": "s1", "words": ["to", "new", "york"], "target": "O B-city I-city"},
          {"id": "s2", "words": ["from", "boston"], "target": "O B-city"}]
TEXTS = [{"id": "c1", "text": "good great fine", "label": "pos"},
         {"id": "c2", "text": "bad awful poor", "label": "neg"}]

# (task, student kind, meta, training rows, rows to predict)
KINDS = [
    ("classification", "classifier", {"labels": ["neg", "pos"]}, TEXTS,
     [{"id": "x", "text": "good " * 50}, {"id": "y", "text": "poor"}]),
    ("constituency", "structured", {"tags": []}, TREES,
     [{"id": "x", "words": ["a", "big", "dog", "ran", "home"]}, {"id": "y", "words": ["yes"]}]),
    ("slot_tagging", "structured", {"tags": TAGS}, TAGGED,
     [{"id": "x", "words": ["to", "new", "york", "now"]}, {"id": "y", "words": ["boston"]}]),
    ("constituency", "causal_lm", {"tags": []}, TREES,
     [{"id": "x", "words": ["a", "dog", "ran"]}, {"id": "y", "words": ["yes"]}]),
    ("slot_tagging", "causal_lm", {"tags": TAGS}, TAGGED,
     [{"id": "x", "words": ["to", "boston"]}]),
    ("constituency", "seq2seq", {"tags": []}, TREES,
     [{"id": "x", "words": ["a", "dog", "ran"]}, {"id": "y", "words": ["yes"]}]),
    ("slot_tagging", "seq2seq", {"tags": TAGS}, TAGGED,
     [{"id": "x", "words": ["to", "boston"]}]),
]
SHARED_INFO = {"model", "train_examples", "epochs", "steps", "examples_seen", "train_wall_s",
               "predict_wall_s", "final_loss"}


def params_for(kind: str, student_params: dict, tiny_teacher_dir, tiny_seq2seq_dir) -> dict:
    params = {**student_params, "kind": kind, "sft_epochs": 1}
    if kind == "causal_lm":
        params.update(model=str(tiny_teacher_dir), max_length=64)
    if kind == "seq2seq":
        params.update(model=str(tiny_seq2seq_dir), max_length=64)
    return params


@pytest.mark.parametrize(("task_name", "kind", "meta", "train_rows", "rows"), KINDS,
                         ids=[f"{k[0]}-{k[1]}" for k in KINDS])
def test_every_student_kind_keeps_the_contract(task_name, kind, meta, train_rows, rows,
                                               student_params, tiny_teacher_dir,
                                               tiny_seq2seq_dir):
    task = get_task(task_name)
    params = params_for(kind, student_params, tiny_teacher_dir, tiny_seq2seq_dir)
    student = make_student(task, params, meta, seed=1)
    with pytest.raises(KDBenchError, match="before fit"):
        student.predict(rows)
    assert student.fit(train_rows, epochs=2) is student
    predictions = student.predict(rows)
    # One prediction per row, in input order, whose output the task can read and score.
    assert [p["id"] for p in predictions] == [r["id"] for r in rows]
    for row, prediction in zip(rows, predictions, strict=True):
        assert 0 < task.confidence(prediction) <= 1
        output = prediction[task.output]
        if task_name == "classification":
            assert output in meta["labels"]
        else:
            assert task.readable(output, row["words"], meta["tags"])
    assert SHARED_INFO <= set(student.info)
    assert student.info["train_examples"] == len(train_rows) and student.info["epochs"] == 2
    # The same seed gives the same student.
    again = make_student(task, params, meta, seed=1).fit(train_rows, epochs=2)
    assert again.predict(rows) == predictions


@pytest.mark.parametrize("task_name", ["constituency", "slot_tagging"])
def test_sequence_students_refuse_a_sample_weighter(task_name, student_params):
    task = get_task(task_name)
    student = make_student(task, {**student_params, "kind": "structured", "sft_epochs": 1},
                           {"tags": TAGS}, seed=0)
    rows = TREES if task_name == "constituency" else TAGGED
    with pytest.raises(KDBenchError, match="no sample weighter"):
        student.fit(rows, 1, weighter=lambda step, batch, logits: None)
