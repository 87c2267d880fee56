
import pytest

from kdbench.errors import KDBenchError
from kdbench.trees import (
    Tree,
    clean,
    corpus_f1,
    parse_tree,
    read_tree_file,
    read_unlabeled,
    right_branching,
    scored_spans,
    sentence_f1,
    tags,
    to_unlabeled,
    tree_spans,
    words,
)

# The worked example of docs/methods.md.
GOLD = ("(S (NP (DT The) (JJ little) (NN dog))"
        " (VP (VBD barked) (PP (IN at) (NP (DT the) (NN cat)))) (. .))")
GOLD_UNLABELED = ("( ( ( The ) ( little ) ( dog ) ) ( ( barked ) ( ( at ) ( ( the ) ( cat ) ) ) )"
                  " ( . ) )")
PRED = "( ( ( The ) ( little ) ( dog ) ) ( ( barked ) ( at ) ( ( the ) ( cat ) ) ) ( . ) )"
DOGS = "(S (NP (NNS Dogs)) (VP (VBP chase) (NP (NNS cats))))"


def test_worked_example_spans_and_scores():
    pred_spans, gold_spans = scored_spans(PRED, parse_tree(GOLD))
    assert pred_spans == {(0, 7), (0, 3), (3, 7), (5, 7)}
    assert gold_spans == {(0, 7), (0, 3), (3, 7), (4, 7), (5, 7)}
    # 4 of 4 predicted spans are gold, 4 of 5 gold spans found: F1 = 2 * 1 * 0.8 / 1.8 = 8/9.
    scores = sentence_f1(PRED, parse_tree(GOLD))
    assert scores == pytest.approx({"precision": 1.0, "recall": 0.8, "f1": 8 / 9})
    assert round(scores["f1"], 3) == 0.889


def test_conversion_of_the_worked_example():
    tree = parse_tree(GOLD)
    assert to_unlabeled(tree) == GOLD_UNLABELED
    assert words(tree) == ["The", "little", "dog", "barked", "at", "the", "cat", "."]
    assert tags(tree) == ["DT", "JJ", "NN", "VBD", "IN", "DT", "NN", "."]
    assert sentence_f1(GOLD_UNLABELED, tree) == {"precision": 1.0, "recall": 1.0, "f1": 1.0}


def test_parse_drops_the_unlabeled_root_and_spans_lines():
    tree = parse_tree("( (S (NP (NN x))\n   (VP (VBZ y))) )")
    assert tree.label == "S"
    assert [c.label for c in tree.children] == ["NP", "VP"]
    assert tree.children[0].children == (Tree("NN", word="x"),)


@pytest.mark.parametrize("text, message", [
    ("", "empty input"),
    ("   \n", "empty input"),
    ("(S (NP (NN a))", "1 '\\(' never closed"),
    ("(S (NN a)))", "without a matching"),
    ("(S (NN a)) (S (NN b))", "exactly one tree"),
    ("(NN a b)", "has 2 words"),
    ("(S (NN a) b)", "mixes words and subtrees"),
    ("(S ())", "empty brackets"),
    ("( a )", "'a' has no children"),
    ("word (S (NN a))", "outside brackets"),
])
def test_malformed_trees_say_what_is_wrong(text, message):
    with pytest.raises(KDBenchError, match=message):
        parse_tree(text)


def test_trace_disappears_with_its_empty_parent():
    tree = parse_tree("(S (NP-SBJ-1 (-NONE- *T*)) (VP (VBD left)) (. .))")
    assert clean(tree) == parse_tree("(S (VP (VBD left)) (. .))")
    assert words(clean(tree)) == ["left", "."]
    # Converting or scoring cleans first, so the trace is never a word.
    assert to_unlabeled(tree) == "( ( left ) ( . ) )"
    assert scored_spans("( ( left ) ( . ) )", tree) == (set(), set())


def test_nested_empty_elements_remove_a_whole_subtree():
    tree = parse_tree("(NP (NP (NNS genes))"
                      " (SBAR (WHNP-1 (-NONE- 0)) (S (NP-SBJ (-NONE- *T*-1)))))")
    assert clean(tree) == parse_tree("(NP (NP (NNS genes)))")
    assert clean(parse_tree("(S (NP-SBJ (-NONE- *PRO*)))")) is None
    with pytest.raises(KDBenchError, match="no words"):
        to_unlabeled(parse_tree("(S (NP-SBJ (-NONE- *PRO*)))"))


def test_function_tags_and_indices_are_stripped_but_dash_labels_kept():
    tree = parse_tree("(S-NOM (NP-SBJ=2 (PRP$ its) (NN-HL work)) (VP-TPC-1 (VBZ works))"
                      " (PRN (-LRB- -LRB-) (NP-1=3 (NN ok)) (-RRB- -RRB-)))")
    expected = parse_tree("(S (NP (PRP$ its) (NN work)) (VP (VBZ works))"
                          " (PRN (-LRB- -LRB-) (NP (NN ok)) (-RRB- -RRB-)))")
    assert clean(tree) == expected
    assert tags(clean(tree)) == ["PRP$", "NN", "VBZ", "-LRB-", "NN", "-RRB-"]


def test_unary_chains_collapse():
    assert to_unlabeled(parse_tree("(S (VP (VB Go)))")) == "( Go )"
    assert to_unlabeled(parse_tree("(S (NP (NP (NNS dogs))) (VP (VBP bark)))")) == \
        "( ( dogs ) ( bark ) )"
    # The unary S over "go home" and the unary NP over "home" add no brackets.
    tree = parse_tree("(S (NP (PRP We)) (VP (VBP want) (S (VP (VB go) (NP (NN home))))))")
    assert to_unlabeled(tree) == "( ( We ) ( ( want ) ( ( go ) ( home ) ) ) )"


def test_punctuation_in_the_middle_is_removed_by_gold_tag():
    gold = parse_tree("(S (NP (NP (NNP Paris)) (, ,) (NP (DT the) (NN capital)) (, ,))"
                      " (VP (VBZ shines)) (. .))")
    # Words: Paris0 ,1 the2 capital3 ,4 shines5 .6 -> kept: Paris the capital shines (0..3).
    assert tree_spans(gold) == {(0, 7), (0, 5), (2, 4)}
    # The prediction attaches the second comma elsewhere: different spans before removal ...
    pred = "( ( ( Paris ) ( , ) ( ( the ) ( capital ) ) ) ( ( , ) ( shines ) ( . ) ) )"
    assert read_unlabeled(pred).spans == {(0, 7), (0, 4), (2, 4), (4, 7)}
    # ... the same after: (0,5) and (0,4) both -> (0,3); (2,4) -> (1,3); (4,7) -> (3,4) is one
    # word and drops; (0,7) -> (0,4).
    assert scored_spans(pred, gold) == ({(0, 4), (0, 3), (1, 3)}, {(0, 4), (0, 3), (1, 3)})
    assert sentence_f1(pred, gold)["f1"] == 1.0


def test_a_word_with_a_bracket_is_written_as_its_penn_escape():
    tree = Tree("NP", (Tree("-LRB-", word="("), Tree("NN", word="f(x)"), Tree("-RRB-", word=")")))
    assert to_unlabeled(tree) == "( ( -LRB- ) ( f-LRB-x-RRB- ) ( -RRB- ) )"
    assert read_unlabeled(to_unlabeled(tree)).words == ["-LRB-", "f-LRB-x-RRB-", "-RRB-"]
    assert right_branching(["(", "b"]) == "( ( -LRB- ) ( b ) )"


def test_wrong_word_count_or_unreadable_scores_zero():
    gold = parse_tree(GOLD)
    zero = {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    seven_words = "( ( ( The ) ( little ) ( dog ) ) ( ( barked ) ( at ) ( ( the ) ( cat ) ) ) )"
    assert scored_spans(seven_words, gold)[0] is None
    assert sentence_f1(seven_words, gold) == zero
    for unreadable in ["", "The little dog barked at the cat .", "( ) ( )"]:
        assert read_unlabeled(unreadable) is None
        assert sentence_f1(unreadable, gold) == zero


def test_unclosed_brackets_are_closed_at_the_end():
    # A truncated generation: the last "( ." and the root are never closed.
    truncated = ("( ( ( The ) ( little ) ( dog ) ) ( ( barked ) ( ( at ) ( ( the ) ( cat ) ) ) )"
                 " ( .")
    read = read_unlabeled(truncated, n_words=8)
    assert read.words == ["The", "little", "dog", "barked", "at", "the", "cat", "."]
    assert read.spans == {(0, 8), (0, 3), (3, 7), (4, 7), (5, 7)}
    assert sentence_f1(truncated, parse_tree(GOLD))["f1"] == 1.0
    # Both unclosed '(' end after the last word: "b c" is (1,3), the root (0,3).
    assert read_unlabeled("( ( a ) ( ( b ) ( c )") == (["a", "b", "c"], {(0, 3), (1, 3)})


def test_unmatched_closing_brackets_are_dropped_and_the_sentence_is_a_span():
    # ") )" after Dogs closes the root early; the two later ')' match nothing and are dropped.
    # Spans over >1 word: only "chase cats" (1,3), plus the whole sentence (0,3).
    pred = "( ( Dogs ) ) ) ( ( chase ) ( cats ) ) )"
    assert read_unlabeled(pred) == (["Dogs", "chase", "cats"], {(0, 3), (1, 3)})
    assert sentence_f1(pred, parse_tree(DOGS))["f1"] == 1.0
    # A bracket around each word only (no phrase brackets) still yields the sentence span.
    assert read_unlabeled("( a ) ( b )").spans == {(0, 2)}


def test_corpus_f1_differs_from_mean_sentence_f1():
    golds = [parse_tree(GOLD), parse_tree(DOGS)]
    # Sentence 1: the worked example, matched 4, predicted 4, gold 5, F1 8/9.
    # Sentence 2: pred spans {(0,2),(0,3)}, gold {(0,3),(1,3)}: matched 1 of 2 and 2, F1 1/2.
    preds = [PRED, "( ( ( Dogs ) ( chase ) ) ( cats ) )"]
    result = corpus_f1(preds, golds)
    # Micro: matched 5, predicted 6, gold 7: P 5/6, R 5/7, F1 = 2PR/(P+R) = (50/42)/(65/42) = 10/13.
    assert result["precision"] == pytest.approx(5 / 6)
    assert result["recall"] == pytest.approx(5 / 7)
    assert result["f1"] == pytest.approx(10 / 13)
    # Mean of sentence F1: (8/9 + 1/2) / 2 = 25/36.
    assert result["mean_sentence_f1"] == pytest.approx(25 / 36)
    assert result["unreadable"] == 0
    assert result["sentences"] == 2


def test_corpus_f1_counts_gold_spans_of_unreadable_predictions():
    golds = [parse_tree(GOLD), parse_tree(DOGS)]
    # Sentence 2 has two words for three: unreadable, 0 predicted, its 2 gold spans still count.
    # Micro: matched 4, predicted 4, gold 7: P 1, R 4/7, F1 = (8/7)/(11/7) = 8/11.
    result = corpus_f1([PRED, "( ( Dogs ) ( chase ) )"], golds)
    assert result["precision"] == 1.0
    assert result["recall"] == pytest.approx(4 / 7)
    assert result["f1"] == pytest.approx(8 / 11)
    assert result["mean_sentence_f1"] == pytest.approx((8 / 9 + 0) / 2)
    assert result["unreadable"] == 1
    with pytest.raises(KDBenchError, match="1 predictions for 2 gold"):
        corpus_f1([PRED], golds)


def test_a_sentence_without_spans_scores_one_when_readable():
    # "Results ." keeps one word after punctuation removal: no span to find or miss.
    gold = parse_tree("(HEADING (NP (NNS Results)) (. .))")
    assert scored_spans("( ( Results ) ( . ) )", gold) == (set(), set())
    assert sentence_f1("( ( Results ) ( . ) )", gold)["f1"] == 1.0
    assert sentence_f1("( ( Results ) )", gold)["f1"] == 0.0


def test_right_branching_baseline():
    assert right_branching(["a", "b", "c"]) == "( ( a ) ( ( b ) ( c ) ) )"
    assert right_branching(["a"]) == "( a )"
    with pytest.raises(KDBenchError, match="at least one word"):
        right_branching([])
    gold = parse_tree(GOLD)
    pred = right_branching(words(gold))
    # Spans (i, 8) for i = 0..6; removing the final "." maps them to (i, 7), and (6, 7) drops:
    # {(0,7) .. (5,7)}, 6 spans. Gold {(0,7),(0,3),(3,7),(4,7),(5,7)}: matched 4.
    # P 4/6, R 4/5, F1 = 2 * (2/3) * (4/5) / (2/3 + 4/5) = (16/15) / (22/15) = 8/11.
    assert scored_spans(pred, gold)[0] == {(i, 7) for i in range(6)}
    assert sentence_f1(pred, gold) == pytest.approx(
        {"precision": 2 / 3, "recall": 0.8, "f1": 8 / 11})


def test_read_tree_file(tmp_path):
    path = tmp_path / "a.tree"
    path.write_text("( (S (NP (NN a))\n  (VP (VBZ b))) )\n\n( (NP (NN c)) )\n", encoding="utf-8")
    trees = read_tree_file(path)
    assert [words(t) for t in trees] == [["a", "b"], ["c"]]
    assert trees[1] == Tree("NP", (Tree("NN", word="c"),))


@pytest.mark.parametrize("content, message", [
    ("( (NP (NN c)) )\n( (S (NN a b)) )\n", "tree 2 \\(line 2\\): preterminal 'NN' has 2 words"),
    ("( (NP (NN c)) )\n\n( (S (NN a)\n", "tree 2 \\(line 3\\): unbalanced"),
    ("( (NP (NN c)) ))\n", "line 1, tree 2: '\\)' outside any tree"),
])
def test_read_tree_file_names_file_and_tree(tmp_path, content, message):
    path = tmp_path / "bad.tree"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(KDBenchError, match="bad.tree.*" + message):
        read_tree_file(path)


def test_read_tree_file_rejects_non_utf8_and_missing(tmp_path):
    path = tmp_path / "latin.tree"
    path.write_bytes("( (NP (NN caf\u00e9)) )\n".encode("latin-1"))
    with pytest.raises(KDBenchError, match="latin.tree: not UTF-8"):
        read_tree_file(path)
    with pytest.raises(KDBenchError, match="missing.tree: cannot read"):
        read_tree_file(tmp_path / "missing.tree")


def test_craft_trees_round_trip_through_the_unlabeled_format(craft_trees):
    path = sorted(craft_trees.glob("*.tree"))[0]
    trees = read_tree_file(path)
    # The README promises one tree per line.
    lines = [line for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]
    assert len(trees) == len(lines) > 0
    for number, tree in enumerate(trees, start=1):
        cleaned = clean(tree)
        assert "-NONE-" not in tags(cleaned), number
        read = read_unlabeled(to_unlabeled(tree), n_words=len(words(cleaned)))
        assert read is not None, number
        assert read.words == words(cleaned), number
        assert read.spans == tree_spans(tree), number
