import numpy as np
import pytest
import torch

from kdbench.demonstrations import per_class
from kdbench.errors import KDBenchError
from kdbench.teacher import (
    PromptSpec,
    TransformersScorer,
    calibrate,
    label_examples,
    normalise,
)

LABELS = ["business", "sport", "tech"]
SPEC = PromptSpec("Topics: {labels}.", "Article", "Topic",
                  {"business": "business", "sport": "sport", "tech": "technology news"}, 3, 4)
LABELED = [{"id": f"{label}{i}", "text": f"{label} story number {i} with words", "label": label}
           for label in LABELS for i in range(3)]


def manual_scores(model, tokenizer, prefix, queries, continuations):
    """The definition: log-softmax over the full sequence, no cache, summed over the label."""
    scores = np.zeros((len(queries), len(continuations)))
    prefix_ids = tokenizer(prefix)["input_ids"]
    for row, query in enumerate(queries):
        base = prefix_ids + tokenizer(query, add_special_tokens=False)["input_ids"]
        for col, cont in enumerate(continuations):
            ids = tokenizer(cont, add_special_tokens=False)["input_ids"]
            with torch.no_grad():
                logits = model(torch.tensor([base + ids])).logits[0]
            logprobs = torch.log_softmax(logits.double(), dim=-1)
            scores[row, col] = sum(logprobs[len(base) + i - 1, tok].item()
                                   for i, tok in enumerate(ids))
    return scores


@pytest.mark.parametrize("batch_size", [1, 3])
@pytest.mark.parametrize("model_fixture", ["tiny_causal_lm", "tiny_sliding_lm"])
def test_cached_scoring_equals_manual_log_softmax(request, model_fixture, tokenizer, batch_size):
    """Batches of right-padded queries of different lengths after the cached prefix score
    exactly what the whole prompt scores alone."""
    model = request.getfixturevalue(model_fixture)
    scorer = TransformersScorer("unused", model=model, tokenizer=tokenizer,
                                batch_size=batch_size)
    demos = per_class(LABELED, LABELS, 2, seed=0)
    prefix = SPEC.prefix(demos)
    assert len(tokenizer(prefix)["input_ids"]) > 8  # longer than the sliding window
    queries = [SPEC.query("markets fell sharply today"), SPEC.query("the match ended in a draw"),
               SPEC.query("new"), SPEC.query("chips")]
    # "technology news" is several tokens: exercises the multi-token branch.
    assert len(tokenizer(" technology news", add_special_tokens=False)["input_ids"]) > 1
    got = scorer.score(prefix, queries, SPEC.continuations())
    want = manual_scores(model, tokenizer, prefix, queries, SPEC.continuations())
    np.testing.assert_allclose(got, want, atol=1e-4)
    # The stage's info says where the teacher ran.
    assert scorer.info["device"] == "cpu"


def test_prompt_format_and_continuations():
    demos = [{"id": "a", "text": "one two three four five", "label": "tech"}]
    prefix = SPEC.prefix(demos)
    assert prefix == ("Topics: business, sport, technology news.\n\n"
                      "Article: one two three\nTopic: technology news\n\n")
    assert SPEC.query("a b c d e f") == "Article: a b c d\nTopic:"
    assert SPEC.continuations() == [" business", " sport", " technology news"]


def test_demonstrations_cover_every_class_interleaved():
    demos = per_class(LABELED, LABELS, 2, seed=1)
    assert [d["label"] for d in demos] == LABELS * 2
    assert len({d["id"] for d in demos}) == 6
    assert demos == per_class(LABELED, LABELS, 2, seed=1)


def test_too_many_shots_is_a_clear_error():
    with pytest.raises(KDBenchError, match="shots = 4 per label.*only 3 example"):
        per_class(LABELED, LABELS, 4, seed=0)


def test_unknown_verbalizer_label_is_rejected():
    teacher = {"instruction": "x", "input_name": "A", "label_name": "B",
               "verbalizers": {"sports": "sport"}, "shot_words": 3, "input_words": 3}
    with pytest.raises(KDBenchError, match="verbalizers"):
        PromptSpec.from_params(teacher, LABELS)


def test_normalise_is_softmax_over_labels():
    scores = np.log(np.array([[0.1, 0.3, 0.1]]))  # unnormalised over the vocabulary
    np.testing.assert_allclose(normalise(scores), [[0.2, 0.6, 0.2]])


def test_calibration_removes_a_label_prior():
    prior = np.array([0.6, 0.2, 0.2])
    probs = np.array([[0.5, 0.3, 0.2]])  # argmax follows the prior before calibration
    calibrated = calibrate(probs, prior)
    np.testing.assert_allclose(calibrated.sum(), 1.0)
    assert calibrated.argmax() == 1


class FixedScorer:
    """Scores that depend only on the query text, to test the labeling wrapper."""

    info = {}

    def score(self, prefix, queries, continuations, show_progress=False):
        return np.array([[0.0, 1.0, 0.0] if "N/A" in q else [2.0, 1.0, 0.0] for q in queries])


def test_label_examples_returns_raw_distribution_and_content_free_prior():
    demos = per_class(LABELED, LABELS, 1, seed=0)
    raw, prior, info = label_examples(FixedScorer(), SPEC, demos, ["x", "y"])
    assert raw.argmax(axis=1).tolist() == [0, 0]
    np.testing.assert_allclose(raw, normalise(np.array([[2.0, 1.0, 0.0]] * 2)))
    np.testing.assert_allclose(prior, normalise(np.array([0.0, 1.0, 0.0])))
    assert info["content_free_prior"] == pytest.approx(prior.tolist(), abs=1e-4)
    assert info["n_scored"] == 2


def test_empty_instruction_means_no_header_line():
    spec = PromptSpec("", "Article", "Topic", {"tech": "tech"}, 3, 4)
    demos = [{"id": "a", "text": "one two", "label": "tech"}]
    assert spec.prefix(demos) == "Article: one two\nTopic: tech\n\n"


def test_majority_fraction_flags_a_collapsed_teacher():
    from kdbench.teacher import COLLAPSE_FRACTION, majority_fraction

    assert majority_fraction({"a": 95, "b": 5, "c": 0}) == 0.95 > COLLAPSE_FRACTION
    assert majority_fraction({"a": 40, "b": 30, "c": 30}) == 0.4
    assert majority_fraction({"a": 0}) == 0.0


def test_teach_labels_the_pool_and_test_and_records_the_dev_set(tiny_teacher_dir):
    """The scoring teacher as the stage runs it: a distribution per pool and test example, the
    pool as a trainset, and its record (dev accuracy, collapse, pool quality)."""
    from kdbench.tasks import Prepared, get_task
    from kdbench.teachers import assemble, label

    task = get_task("classification")
    unlabeled = [{"id": f"u{i}", "text": f"sport story {i}", "gold": "sport"} for i in range(3)]
    test = [{"id": "t0", "text": "tech things", "label": "tech"}]
    prepared = Prepared(LABELED, unlabeled, test, {"labels": LABELS})
    params = {"backend": "transformers", "model": str(tiny_teacher_dir), "dtype": "float32",
              "device": "cpu", "batch_size": 2, "instruction": "", "input_name": "Article",
              "label_name": "Topic", "verbalizers": None, "shot_words": 3, "input_words": 4,
              "calibrate": True, "shots": 1}
    demos = per_class(LABELED, LABELS, 1, seed=0)
    taught = assemble(task, params, prepared, demos, [label(task, params, prepared, demos, 0, 1)])
    assert [r["id"] for r in taught.predictions["pool"]] == ["u0", "u1", "u2"]
    assert [r["id"] for r in taught.predictions["test"]] == ["t0"]
    assert [r["id"] for r in taught.trainset] == ["u0", "u1", "u2"]
    for row in taught.trainset:
        assert row["label"] in LABELS and sum(row["probs"]) == pytest.approx(1.0, abs=1e-4)
    info = taught.info
    assert info["dev_examples"] == len(LABELED) - len(demos)
    assert info["collapsed"] == (info["majority_label_fraction"] > 0.9)
    assert set(info["pool_quality"]) == {"accuracy", "macro_f1"}
