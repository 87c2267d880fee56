"""The sequence teacher and task definitions: prompts, readable outputs, unreadable ones kept."""

import pytest

from kdbench.demonstrations import sampled
from kdbench.errors import KDBenchError
from kdbench.seq_teacher import label_rows, prefix, prompt
from kdbench.tasks import get_task

ROWS = [{"id": "a", "words": ["the", "dog", "barked", "."],
         "target": "( ( ( the ) ( dog ) ) ( barked ) ( . ) )"},
        {"id": "b", "words": ["cats", "sleep"], "target": "( ( cats ) ( sleep ) )"}]


def test_prompt_and_prefix_put_each_demonstration_before_the_query():
    task = get_task("constituency")
    assert prompt(task, ["a", "b"]) == "Sentence: a b\nTree:"
    assert prefix(task, ROWS[:1]) == ("Sentence: the dog barked .\n"
                                      "Tree: ( ( ( the ) ( dog ) ) ( barked ) ( . ) )\n\n")
    assert prompt(get_task("slot_tagging"), ["to", "boston"]) == "Sentence: to boston\nTags:"


def test_shots_are_seeded_and_bounded_by_the_pool():
    pool = [{"id": str(i)} for i in range(20)]
    assert sampled(pool, 5, 1) == sampled(pool, 5, 1) != sampled(pool, 5, 2)
    with pytest.raises(KDBenchError, match="teacher.shots = 21"):
        sampled(pool, 21, 0)


@pytest.mark.parametrize("task_name", ["constituency", "slot_tagging"])
def test_constrained_outputs_are_all_readable(tiny_causal_lm, tokenizer, task_name):
    task = get_task(task_name)
    tags = ["O", "B-city", "I-city"]
    rows = [{"id": str(i), "words": ["to", "new", "york", "now"][: i + 1]} for i in range(4)]
    shots = [{"words": ["to", "boston"],
              "target": "( ( to ) ( boston ) )" if task_name == "constituency" else "O B-city"}]
    out, info = label_rows(task, tiny_causal_lm, tokenizer, shots, rows, tags, constrained=True,
                           unary=True, batch_size=3)
    assert [r["id"] for r in out] == ["0", "1", "2", "3"]
    assert info["device"] == "cpu"
    assert all(r["readable"] and r["output"] == r["raw"] and 0 < r["confidence"] <= 1
               for r in out)
    assert info["unreadable"] == 0 and info["generated"] == 4
    with pytest.raises(KDBenchError, match="batch_size = 0"):  # it reaches the decoder
        label_rows(task, tiny_causal_lm, tokenizer, shots, rows, tags, constrained=True,
                   unary=True, batch_size=0)


def test_unconstrained_unreadable_outputs_are_kept_and_counted(tiny_causal_lm, tokenizer):
    # A random tiny model writes free text: it keeps the raw text, marks it and counts it.
    task = get_task("constituency")
    rows = [{"id": str(i), "words": ["the", "dog", "barked"]} for i in range(2)]
    out, info = label_rows(task, tiny_causal_lm, tokenizer, ROWS, rows, [], constrained=False,
                           unary=True)
    assert info["unreadable"] == sum(not r["readable"] for r in out)
    for row in out:
        assert isinstance(row["raw"], str) and "\n" not in row["raw"]
        assert row["readable"] == task.readable(row["raw"], ["the", "dog", "barked"], [])
        assert row["output"] == (row["raw"] if row["readable"] else None)


def test_task_scores_count_unreadable_outputs_as_zero():
    task = get_task("constituency")
    gold = [{"words": ["a", "b", "c"], "tree": "(S (NP (DT a) (NN b)) (VP (VBD c)))"}]
    assert task.score(["( ( ( a ) ( b ) ) ( c ) )"], gold, {})["sentence_f1"] == 1.0
    # Repaired, readable, partly right.
    assert task.score(["( a b"], gold, {})["sentence_f1"] < 1.0
    bad = task.score(["a b c"], gold, {})
    assert bad["sentence_f1"] == 0.0 and bad["unreadable"] == 1
    assert task.score([None], gold, {})["unreadable"] == 1  # no output at all
    ((name, _, outputs),) = task.baselines(gold)
    assert name == "baseline" and task.score(outputs, gold, {})["sentence_f1"] == pytest.approx(0.5)
    tagging = get_task("slot_tagging")
    tag_gold = [{"words": ["to", "new", "york"], "target": "O B-city I-city"}]
    assert tagging.score(["O B-city I-city"], tag_gold, {}) == {
        "chunk_f1": 1.0, "exact_match": 1.0, "unreadable": 0}
    assert tagging.score(["O B-city"], tag_gold, {})["unreadable"] == 1
    assert not tagging.readable("O B-town I-town", ["to", "new", "york"], ["O", "B-city"])


def test_unknown_task_lists_the_tasks():
    with pytest.raises(KDBenchError, match="constituency"):
        get_task("ner")


@pytest.mark.parametrize("task", ["constituency", "slot_tagging"])
def test_generated_rows_fit_the_requested_split_and_word_limits(task):
    data = {"source": "generated", "path": None, "min_words": 4, "max_words": 9,
            "n_labeled": 10, "n_unlabeled": 20, "n_test": 20}
    rows, _ = get_task(task).load(data, seed=3)
    assert len(rows) >= 50 and get_task(task).load(data, seed=3)[0] == rows
    for row in rows:
        assert len(row["target"].split()) >= len(row["words"])
    if task == "slot_tagging":
        assert all(4 <= len(r["words"]) <= 9 for r in rows)
