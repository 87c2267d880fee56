"""The two bracket-F1 modes: the MCKD authors' scorer differs from the project's exactly where
docs/methods.md says (word tags outside the 36, Unicode spaces inside words, sentences without
spans) and agrees elsewhere; the study's re-scoring, treebank rows and params."""

import json
from pathlib import Path

import pytest

from kdbench import parsing_metrics
from kdbench.errors import KDBenchError
from kdbench.parsing_metrics import (
    REASONS,
    WORD_TAGS,
    differences,
    mckd_sentence_f1,
    rescore,
    score,
    table,
    treebank_rows,
)
from kdbench.tasks import Prepared, get_task, write_prepared
from kdbench.trees import corpus_f1, parse_tree, sentence_f1, to_unlabeled, words

# docs/methods.md's worked example: precision 1.0, recall 0.8, F1 0.889 in both modes.
GOLD = ("(S (NP (DT The) (JJ little) (NN dog)) (VP (VBD barked) (PP (IN at) (NP (DT the) "
        "(NN cat)))) (. .))")
PRED = "( ( ( The ) ( little ) ( dog ) ) ( ( barked ) ( at ) ( ( the ) ( cat ) ) ) ( . ) )"
DOLLAR = "(S (NP ($ $) (CD 5)) (VP (VBD rose)))"
HAIR = "(S (NP (NN Xpd\u200aTTD)) (VP (VBZ binds) (NN DNA)))"
SHORT = "(S (NP (NN Dogs)) (. .))"


def test_the_36_word_tags_of_the_penn_tag_set():
    assert len(WORD_TAGS) == 36
    assert {"PRP$", "WP$", "SYM", "LS"} <= WORD_TAGS
    assert not {"$", "#", "AFX", "HYPH", ",", "."} & WORD_TAGS


def test_both_modes_agree_on_the_worked_example():
    gold = parse_tree(GOLD)
    assert sentence_f1(PRED, gold)["f1"] == pytest.approx(0.8889, abs=1e-4)
    assert mckd_sentence_f1(PRED, gold) == pytest.approx(0.8889, abs=1e-4)
    assert differences(gold) == []


def test_a_tag_outside_the_36_is_not_a_word_for_mckd():
    gold = parse_tree(DOLLAR)
    right_branching = "( ( $ ) ( ( 5 ) ( rose ) ) )"
    # project: words $ 5 rose, gold spans {0-2, 0-3}, predicted {1-3, 0-3}
    assert sentence_f1(right_branching, gold)["f1"] == pytest.approx(0.5)
    # mckd: words 5 rose, both have only the whole sentence
    assert mckd_sentence_f1(right_branching, gold) == pytest.approx(1.0)
    assert differences(gold) == [REASONS[0]]


def test_unicode_space_inside_a_word_splits_it_for_mckd():
    gold = parse_tree(HAIR)
    copied = to_unlabeled(gold)  # the word written as it is, hair space inside
    assert sentence_f1(copied, gold)["f1"] == 1.0
    assert mckd_sentence_f1(copied, gold) == 1.0
    # Joined into one ASCII word: readable for the project, the wrong word count for mckd.
    joined = copied.replace("\u200a", "")
    assert sentence_f1(joined, gold)["f1"] == 1.0
    assert mckd_sentence_f1(joined, gold) == 0.0
    # The word's own brackets are a span over its two pieces for mckd.
    flat = "( ( Xpd\u200aTTD ) ( binds ) ( DNA ) )"
    assert mckd_sentence_f1(flat, gold) < 1.0
    assert differences(gold) == [REASONS[1]]


def test_a_sentence_without_spans_scores_0_for_mckd():
    gold = parse_tree(SHORT)
    assert sentence_f1("( ( Dogs ) ( . ) )", gold)["f1"] == 1.0
    assert mckd_sentence_f1("( ( Dogs ) ( . ) )", gold) == 0.0
    assert differences(gold) == [REASONS[2]]


def test_corpus_scores_by_mode():
    golds = [parse_tree(t) for t in (GOLD, DOLLAR, SHORT)]
    preds = [PRED, "( ( $ ) ( ( 5 ) ( rose ) ) )", "no tree"]
    assert score(preds, golds, "project") == corpus_f1(preds, golds)
    mckd = score(preds, golds, "mckd")
    assert mckd["unreadable"] == 1 and mckd["sentences"] == 3
    # 4 of 4 predicted spans and 5 gold (worked example), 1 of 1 (DOLLAR), none (SHORT).
    assert mckd["precision"] == pytest.approx(5 / 5)
    assert mckd["recall"] == pytest.approx(5 / 6)
    assert mckd["mean_sentence_f1"] == pytest.approx((8 / 9 + 1.0 + 0.0) / 3)
    with pytest.raises(KDBenchError, match="unknown parsing metric mode 'evalb'; allowed"):
        score(preds, golds, "evalb")


def write_seed(folder: Path) -> dict:
    """A constituency seed folder as the pipeline leaves it: prepared test, the teacher's and a
    student's predictions, and the evaluate stage's rows."""
    test = [{"id": f"t{i}", "tree": tree, "words": words(parse_tree(tree))}
            for i, tree in enumerate((GOLD, DOLLAR))]
    task = get_task("constituency")
    write_prepared(Prepared([], [], test, {"source": "generated"}), str(folder))
    outputs = {"teacher": [PRED, "( ( $ ) ( ( 5 ) ( rose ) ) )"],
               "sft": [to_unlabeled(parse_tree(GOLD)), "( $ 5 rose )"]}
    paths = {"teacher": folder / "teacher/test.jsonl",
             "sft": folder / "students/sft/predictions.jsonl"}
    for name, path in paths.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps({"id": r["id"], task.output: o}) + "\n"
                                for r, o in zip(test, outputs[name], strict=True)))
    return {"rows": [{"name": "teacher", "method": "teacher"},
                     {"name": "baseline", "method": "right-branching tree"},
                     {"name": "sft", "method": "SFT on the few gold labels"}]}


def test_rescore_reads_the_predictions_the_evaluate_stage_scored(tmp_path):
    rows = rescore(get_task("constituency"), tmp_path, write_seed(tmp_path))
    by_name = {r["name"]: r for r in rows}
    assert list(by_name) == ["teacher", "baseline", "sft"]
    teacher = by_name["teacher"]
    assert teacher["project_sentence_f1"] == pytest.approx(round((8 / 9 + 0.5) / 2, 4))
    assert teacher["mckd_sentence_f1"] == pytest.approx(round((8 / 9 + 1.0) / 2, 4))
    assert teacher["sentences_differ"] == 1 and teacher["sentences"] == 2
    # "( $ 5 rose )": the whole sentence only, so the project misses the gold's $-5 span.
    assert by_name["sft"]["project_sentence_f1"] == pytest.approx(round((1 + 2 / 3) / 2, 4))
    assert by_name["sft"]["mckd_sentence_f1"] == 1.0
    shown, markdown = table([rows, rows], None)
    assert shown["rows"][0]["project_sentence_f1_std"] == 0.0
    assert "| teacher" in markdown and "sentence F1 (mckd)" in markdown


def test_treebank_rows_count_the_differences(tmp_path):
    (tmp_path / "a.tree").write_text("\n".join((GOLD, DOLLAR, HAIR, SHORT)) + "\n")
    rows = treebank_rows(tmp_path, [2, 7])
    every, slice_ = rows
    assert every["sentences"] == 4 and every["no spans"] == 1
    assert every["word tag outside the 36"] == 1 and every["Unicode space inside a word"] == 1
    assert slice_["sentences"] == 3 and slice_["no spans"] == 0  # SHORT has one word
    assert every["sentences_differ"] >= 1


def test_treebank_rows_on_craft(craft_trees, tmp_path):
    # Two of the shared CRAFT files: every difference has a reason the module names.
    for path in sorted(craft_trees.glob("*.tree"))[:2]:
        (tmp_path / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    every = treebank_rows(tmp_path, [4, 20])[0]
    assert every["sentences"] > 100
    assert every["mckd_corpus_f1"] == pytest.approx(every["project_corpus_f1"], abs=0.01)


@pytest.mark.parametrize("text, message", [
    ("parsing_metrics: {seeds: [0], treebank: null, treebank_words: [5, 2]}",
     "parsing_metrics.treebank_words"),
    ("parsing_metrics: {seeds: [0], treebank: null, treebank_words: [4, 20], mode: x}",
     "unknown key parsing_metrics.mode"),
    ("other: {}", "parsing_metrics must be a mapping"),
])
def test_bad_study_params_are_one_line_naming_the_key(tmp_path, text, message):
    path = tmp_path / "params.yaml"
    path.write_text(text)
    with pytest.raises(KDBenchError, match=message):
        parsing_metrics.read_study(path)


def test_the_committed_study_params_are_valid():
    study = parsing_metrics.read_study(Path(__file__).parents[1] / "studies/params.yaml")
    assert study["seeds"]


def test_every_study_key_is_documented():
    text = (Path(__file__).resolve().parents[1] / "docs" / "experiments.md").read_text()
    for key in parsing_metrics.SCHEMA:
        assert f"| `parsing_metrics.{key}` |" in text, key
