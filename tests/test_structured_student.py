import itertools
import random

import numpy as np
import pytest
import torch

from kdbench.errors import KDBenchError
from kdbench.structured_student import (
    TASKS,
    StructuredStudent,
    bio_transitions,
    bracket_string,
    candidate_spans,
    decode_spans,
    decode_tags,
    decode_tree,
    encode_words,
)
from kdbench.trees import read_unlabeled, right_branching


def fit_and_predict_structured(task, rows, params, epochs, seed, predict_on, tags=None):
    student = StructuredStudent(params, seed, task, tags).fit(rows, epochs)
    return {name: student.predict(r) for name, r in predict_on.items()}, student.info

torch.set_num_threads(1)

VOCAB = ["the", "dog", "cat", "saw", "ran", "big", "red", "bird", "sat", "on"]


def _crossing(a, b) -> bool:
    return a[0] < b[0] < a[1] < b[1] or b[0] < a[0] < b[1] < a[1]


def _brute_force(weights: np.ndarray, n: int) -> tuple[float, set]:
    """Best weight over every laminar subset of candidate spans (ties: the smaller set)."""
    spans = candidate_spans(n)
    best, best_set = 0.0, set()
    for r in range(1, len(spans) + 1):
        for subset in itertools.combinations(spans, r):
            if any(_crossing(a, b) for a, b in itertools.combinations(subset, 2)):
                continue
            total = sum(weights[i, j] for i, j in subset)
            if total > best + 1e-12:
                best, best_set = total, set(subset)
    return best, best_set


@pytest.mark.parametrize("n", [3, 4, 5, 6])
def test_span_decoder_is_the_brute_force_optimum_and_reads_back(n):
    rng = np.random.default_rng(n)
    words = [f"w{k}" for k in range(n)]
    for _ in range(3 if n == 6 else 10):
        weights = rng.normal(size=(n + 1, n + 1))
        chosen = decode_spans(weights, n)
        best, best_set = _brute_force(weights, n)
        assert chosen == best_set
        assert sum(weights[i, j] for i, j in chosen) == pytest.approx(best)
        output, confidence = decode_tree(weights, words)
        read = read_unlabeled(output, n)
        assert read is not None and read.words == words
        assert read.spans == chosen | {(0, n)}
        assert 0 < confidence <= 1


def test_tree_strings_escape_words_and_trivial_sentences_are_certain():
    assert bracket_string(["The", "dog", "barked"], {(0, 2)}) == \
        "( ( ( The ) ( dog ) ) ( barked ) )"
    assert bracket_string(["(", "x"], set()) == "( ( -LRB- ) ( x ) )"
    assert decode_tree(np.full((3, 3), 5.0), ["a", "b"]) == ("( ( a ) ( b ) )", 1.0)
    assert decode_tree(np.zeros((2, 2)), ["a"]) == ("( a )", 1.0)
    # All spans negative: a flat tree, confident in proportion to how negative.
    flat, confidence = decode_tree(np.full((5, 5), -3.0), list("abcd"))
    assert flat == "( ( a ) ( b ) ( c ) ( d ) )"
    assert confidence == pytest.approx(1 / (1 + np.exp(-3.0)))


TAGS = ["O", "B-city", "I-city", "B-day", "I-day"]


def _valid(path: list[int], tags: list[str]) -> bool:
    previous = "O"
    for t in path:
        tag = tags[t]
        if tag.startswith("I-") and previous[2:] != tag[2:]:
            return False
        previous = tag
    return True


def test_viterbi_never_emits_invalid_bio_even_against_the_argmax():
    # The argmax alone would say I-city O I-day B-day I-city: three invalid I- tags.
    favourite = [2, 0, 4, 3, 2]
    log_probs = np.log(np.full((5, 5), 0.05))
    for position, t in enumerate(favourite):
        log_probs[position, t] = np.log(0.8)
    path = decode_tags(log_probs, TAGS)
    assert _valid(path, TAGS) and path != favourite
    start, allowed = bio_transitions(TAGS)
    assert start.tolist() == [True, True, False, True, False]
    assert allowed[1, 2] and allowed[2, 2] and not allowed[0, 2] and not allowed[3, 2]


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_viterbi_is_the_brute_force_best_valid_sequence(n):
    rng = np.random.default_rng(n)
    for _ in range(10):
        log_probs = torch.log_softmax(torch.tensor(rng.normal(size=(n, 5)) * 3), -1).numpy()
        path = decode_tags(log_probs, TAGS)
        valid = [p for p in itertools.product(range(5), repeat=n) if _valid(list(p), TAGS)]
        best = max(valid, key=lambda p: sum(log_probs[k, t] for k, t in enumerate(p)))
        assert _valid(path, TAGS) and path == list(best)


def test_words_past_max_length_borrow_the_last_kept_sub_token(tokenizer):
    encoded = encode_words(tokenizer, [["a", "dog", "unbelievably", "barked", "loudly"], ["x"]],
                           max_length=6)
    # [CLS] a dog un ##bel [SEP]: "unbelievably" is cut inside; the last two words are gone.
    assert encoded.word_index[0] == [1, 2, 3, 4, 4]
    assert encoded.word_index[1] == [1]
    assert encoded.truncated == 2


def _sentences(count: int, seed: int) -> list[list[str]]:
    rng = random.Random(seed)
    return [rng.choices(VOCAB, k=rng.randint(4, 7)) for _ in range(count)]


def _parse_rows(sentences: list[list[str]], prefix: str) -> list[dict]:
    return [{"id": f"{prefix}{k}", "words": words, "target": right_branching(words)}
            for k, words in enumerate(sentences)]


def test_span_student_learns_right_branching_trees(student_params):
    train_rows = _parse_rows(_sentences(32, 0), "t")
    new = [s for s in _sentences(40, 1) if s not in [r["words"] for r in train_rows]][:12]
    test_rows = _parse_rows(new, "n")
    student = {**student_params, "lr": 1e-2}
    before, _ = fit_and_predict_structured("constituency", train_rows, student, 0, 0,
                                           {"test": test_rows})
    after, info = fit_and_predict_structured("constituency", train_rows, student, 6, 0,
                                             {"test": test_rows})
    wanted = [r["target"] for r in test_rows]
    assert [r["output"] for r in before["test"]] != wanted  # the fresh head knows nothing
    assert [r["output"] for r in after["test"]] == wanted
    assert info["steps"] == 6 * 8 and info["final_loss"] < 0.2


def test_tag_student_learns_a_word_tag(student_params):
    def rows(sentences, prefix):
        return [{"id": f"{prefix}{k}", "words": words,
                 "target": " ".join("B-city" if w == "dog" else "O" for w in words)}
                for k, words in enumerate(sentences)]

    train_rows = rows([s + ["dog"] if k % 2 else ["dog"] + s
                       for k, s in enumerate(_sentences(32, 2))], "t")
    test_rows = rows([s[:2] + ["dog"] + s[2:] for s in _sentences(10, 3)], "n")
    student = {**student_params, "lr": 1e-2}
    before, _ = fit_and_predict_structured("slot_tagging", train_rows, student, 0, 0,
                                           {"test": test_rows}, tags=TAGS)
    after, _ = fit_and_predict_structured("slot_tagging", train_rows, student, 5, 0,
                                          {"test": test_rows}, tags=TAGS)
    wanted = [r["target"] for r in test_rows]
    assert [r["output"] for r in before["test"]] != wanted
    assert [r["output"] for r in after["test"]] == wanted


def test_same_seed_same_outputs_input_order_and_confidence(student_params):
    train_rows = _parse_rows(_sentences(8, 4), "t")
    test_rows = [{"id": "long", "words": ["the", "dog"] * 20},
                 {"id": "one", "words": ["dog"]},
                 {"id": "mid", "words": ["the", "big", "dog", "ran"]}]
    a, info = fit_and_predict_structured("constituency", train_rows, student_params, 2, 3,
                                         {"test": test_rows, "empty": []})
    b, _ = fit_and_predict_structured("constituency", train_rows, student_params, 2, 3,
                                      {"test": test_rows, "empty": []})
    assert a == b
    assert [r["id"] for r in a["test"]] == ["long", "one", "mid"] and a["empty"] == []
    assert all(0 < r["confidence"] <= 1 for r in a["test"])
    assert a["test"][1] == {"id": "one", "output": "( dog )", "confidence": 1.0}
    assert read_unlabeled(a["test"][0]["output"], 40) is not None  # past max_length 32
    assert info["truncated_words"] == 40 - 30
    assert set(info) == {"model", "device", "train_examples", "epochs", "steps", "examples_seen",
                         "train_wall_s", "predict_wall_s", "final_loss", "truncated_words"}
    assert info["train_examples"] == 8 and info["steps"] == 4 and info["examples_seen"] == 16


def test_no_training_rows_still_predicts(student_params):
    out, info = fit_and_predict_structured(
        "slot_tagging", [], student_params, 3, 0,
        {"test": [{"id": "q", "words": ["to", "boston"]}]}, tags=TAGS)
    assert info["steps"] == 0 and info["final_loss"] is None
    assert len(out["test"][0]["output"].split()) == 2


@pytest.mark.parametrize("task, target, tags, message", [
    ("constituency", "( ( a ) ( b ) )", None, "'r1'.*3 words"),
    ("constituency", "a b c", None, "'r1'.*unlabeled bracket string"),
    ("slot_tagging", "O O", TAGS, "'r1'.*2 tags for 3 words"),
    ("slot_tagging", "O B-town O", TAGS, "'r1'.*'B-town' is not in the tag list"),
    ("slot_tagging", "O O O", None, "needs the tag list"),
    ("slot_tagging", "O O O", ["O", "city"], "not a BIO tag"),
])
def test_bad_targets_name_the_row_and_what_is_expected(student_params, task, target, tags,
                                                       message):
    rows = [{"id": "r0", "words": ["a", "b", "c"], "target": right_branching(["a", "b", "c"])
             if task == "constituency" else "O O O"},
            {"id": "r1", "words": ["a", "b", "c"], "target": target}]
    with pytest.raises(KDBenchError, match=message):
        fit_and_predict_structured(task, rows, student_params, 1, 0, {}, tags=tags)


def test_unknown_task_lists_the_tasks(student_params):
    with pytest.raises(KDBenchError, match=", ".join(TASKS)):
        fit_and_predict_structured("ner", [], student_params, 1, 0, {})
