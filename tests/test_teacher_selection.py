"""The teacher-selection study: folds, nearest demonstrations, no example labeled by a teacher
that has seen it, the study's params, and the summary that picks the best setting."""

from pathlib import Path

import numpy as np
import pytest
import yaml

from kdbench import teacher_selection
from kdbench.errors import KDBenchError
from kdbench.tasks import Prepared, get_task
from kdbench.teacher_selection import (
    folds,
    nearest_demonstrations,
    read_study,
    summary,
    table,
)

LABELS = ["business", "sport", "tech"]
LABELED = [{"id": f"l{i}", "text": f"{LABELS[i % 3]} story number {i}", "label": LABELS[i % 3]}
           for i in range(30)]
STUDY = {"tasks": ["classification"], "seeds": [0, 1], "folds": 5,
         "retriever": "all-minilm-l6-v2",
         "grids": {"classification": {"models": ["gemma3-270m"], "shots": [1, 3],
                                      "demonstrations": ["random", "nearest"]}}}


def test_folds_cover_every_row_once_and_spread_each_label():
    parts = folds(LABELED, 5, seed=0, key="label")
    ids = [r["id"] for part in parts for r in part]
    assert sorted(ids) == sorted(r["id"] for r in LABELED)
    for part in parts:
        assert sorted(r["label"] for r in part) == sorted(LABELS * 2)
    assert folds(LABELED, 5, seed=0, key="label") == parts
    assert folds(LABELED, 5, seed=1, key="label") != parts
    with pytest.raises(KDBenchError, match="folds = 40"):
        folds(LABELED, 40, seed=0)


def test_nearest_demonstrations_are_per_label_with_the_most_similar_last():
    pool = LABELED[:9]
    vectors = np.eye(9)
    query = np.zeros(9)
    query[[0, 3, 6]] = [0.2, 0.9, 0.5]  # three business rows (0, 3, 6), 3 the nearest
    query[[1, 4]] = [0.7, 0.1]  # sport: 1 nearer than 4
    picked = nearest_demonstrations(query, pool, vectors, 2, LABELS)
    # Rank 2 of every label first, then rank 1 (the nearest) next to the input.
    assert [r["id"] for r in picked[3:]] == ["l3", "l1", "l2"]
    assert [r["id"] for r in picked[:3]] == ["l6", "l4", "l5"]
    overall = nearest_demonstrations(query, pool, vectors, 3, None)
    assert [r["id"] for r in overall] == ["l6", "l1", "l3"]
    with pytest.raises(KDBenchError, match="shots = 4 per label"):
        nearest_demonstrations(query, pool, vectors, 4, LABELS)


class RecordingScorer:
    """Scores the label a query's text names, and records what each query was shown."""

    info = {}

    def __init__(self):
        self.seen = []

    def score(self, prefix, queries, continuations, show_progress=False):
        self.seen += [(prefix, q) for q in queries]
        return np.array([[5.0 if c.strip() in q else 0.0 for c in continuations]
                         for q in queries])


TEACHER = {"backend": "transformers", "model": "gemma3-270m", "dtype": "float32",
           "device": "cpu", "batch_size": 8, "instruction": "", "input_name": "Article",
           "label_name": "Topic", "verbalizers": None, "shot_words": 40, "input_words": 60,
           "calibrate": True, "shots": 3}


def test_every_example_is_labeled_by_a_teacher_that_has_not_seen_it(monkeypatch):
    scorer = RecordingScorer()
    monkeypatch.setattr(teacher_selection.teacher, "make_scorer", lambda params: scorer)
    monkeypatch.setattr(teacher_selection.retrieval, "embed",
                        lambda texts, model: np.eye(len(texts)))
    task = get_task("classification")
    prepared = Prepared(LABELED, [], [], {"labels": LABELS})
    rows = teacher_selection.evaluate(task, TEACHER, STUDY, STUDY["grids"]["classification"],
                                      prepared, seed=0)
    assert [(r["shots"], r["demonstrations"], r["calibrate"]) for r in rows] == [
        (s, d, c) for s in (1, 3) for d in ("random", "nearest") for c in (False, True)]
    # The fake teacher reads the label off the text: every setting is right on every row.
    assert all(r["accuracy"] == 1.0 for r in rows)
    for prefix, query in scorer.seen:
        if "N/A" not in query:
            assert query.split("\n")[0] + "\n" not in prefix
    scored = [q for _, q in scorer.seen if "N/A" not in q]
    assert len(scored) == 4 * len(LABELED)  # each setting labels each row once


def _write(tmp_path, study):
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump({"teacher_selection": study}), encoding="utf-8")
    return path


@pytest.mark.parametrize("change, message", [
    ({"budget": 3}, "unknown key teacher_selection.budget"),
    ({"folds": 1}, "teacher_selection.folds = 1"),
    ({"tasks": ["constituency"]}, "no grid for it"),
    ({"grids": {"classification": {**STUDY["grids"]["classification"],
                                   "demonstrations": ["similar"]}}}, "demonstrations"),
    ({"grids": {"classification": {**STUDY["grids"]["classification"], "shots": [0]}}},
     "shots = \\[0\\]"),
])
def test_bad_study_params_are_one_line_naming_the_key(tmp_path, change, message):
    assert read_study(_write(tmp_path, STUDY)) == STUDY
    with pytest.raises(KDBenchError, match=message):
        read_study(_write(tmp_path, {**STUDY, **change}))


def test_summary_picks_the_best_mean_and_marks_the_default():
    task = get_task("classification")

    def row(shots, demonstrations, accuracy):
        return {"model": "gemma3-270m", "shots": shots, "demonstrations": demonstrations,
                "calibrate": True, "accuracy": accuracy, "macro_f1": accuracy,
                "seconds_per_example": 0.5}

    per_seed = [[row(3, "random", 0.7), row(3, "nearest", 0.9)],
                [row(3, "random", 0.8), row(3, "nearest", 0.7)]]
    result = summary(task, per_seed, TEACHER)
    assert result["best"] == "gemma3-270m, 3 shots, nearest, calibrated"
    assert [r["accuracy"] for r in result["rows"]] == [0.75, 0.8]
    assert [r["default"] for r in result["rows"]] == [True, False]
    assert result["rows"][1]["accuracy_std"] == pytest.approx(np.std([0.9, 0.7], ddof=1),
                                                              abs=1e-4)
    text = table(task, result)
    assert "0.800 ± 0.141" in text and "pipeline default" in text and "best" in text


def test_nearest_neighbours_of_real_embeddings_share_the_topic():
    from kdbench.retrieval import embed, nearest

    vectors = embed(["the striker scored twice in the cup final",
                     "shares fell as the bank reported losses",
                     "the goalkeeper saved a penalty in the match"], "all-minilm-l6-v2")
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert nearest(vectors[0], vectors[1:], 1) == [1]


def test_every_study_key_is_documented():
    text = (Path(__file__).resolve().parents[1] / "docs" / "experiments.md").read_text()
    keys = [f"teacher_selection.{k}" for k in teacher_selection.SCHEMA]
    keys += [f"teacher_selection.grids.<task>.{k}" for k in teacher_selection.GRID]
    for key in keys:
        assert f"| `{key}` |" in text, key
    repo = read_study(Path(__file__).resolve().parents[1] / "studies" / "params.yaml")
    assert set(repo["grids"]) >= set(repo["tasks"])
