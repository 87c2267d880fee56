from collections import Counter
from pathlib import Path

import pytest

from kdbench.bio import chunks
from kdbench.errors import KDBenchError
from kdbench.seqdata import (
    generate_slot_tagging,
    generate_treebank,
    load_treebank,
    split_by_article,
    tag_set,
    tree_to_penn,
)
from kdbench.trees import PUNCT_TAGS, Tree, parse_tree, read_unlabeled, to_unlabeled

TRACED = ("( (S (NP-SBJ-1 (DT The) (NN cell)) (VP (VBD was) (VP (VBN stained) (NP-1 (-NONE- *))"
          " (PP-LOC (IN in) (NP (NN vitro))))) (. .)) )")
HEADING = "( (HEADING (NP (NN Results) (CC and) (NN Discussion))) )"
ONE_WORD = "( (NP (NN Methods) (. .)) )"
PUNCT_ONLY = "( (FRAG (: :)) )"
TRACE_ONLY = "( (S (-NONE- *PRO*)) )"
LONG = ("( (S (NP (DT The) (JJ small) (NN mouse)) (VP (VBD ran) (PP (IN into) (NP (DT the) (JJ old)"
        " (NN house))) (PP (IN after) (NP (DT the) (JJ long) (NN night)))) (. .)) )")


def content_words(row):
    return sum(tag not in PUNCT_TAGS for tag in row["tags"])


@pytest.fixture
def treebank_dir(tmp_path):
    (tmp_path / "doc1.tree").write_text(
        "\n".join([HEADING, TRACED, ONE_WORD, PUNCT_ONLY, TRACE_ONLY]) + "\n", encoding="utf-8")
    (tmp_path / "doc0.tree").write_text(LONG + "\n", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not a tree", encoding="utf-8")
    return tmp_path


def test_tree_to_penn_reads_back():
    tree = parse_tree(LONG)
    assert parse_tree(tree_to_penn(tree)) == tree
    assert tree_to_penn(Tree("NP", (Tree("NN", word="x"),))) == "(NP (NN x))"
    # A bracket inside a word is written as its Penn escape, as to_unlabeled writes it.
    odd = Tree("NP", (Tree("NN", word="a(b)"), Tree("NN", word="c")))
    assert tree_to_penn(odd) == "(NP (NN a-LRB-b-RRB-) (NN c))"
    with pytest.raises(KDBenchError, match="whitespace"):
        tree_to_penn(Tree("NP", (Tree("NN", word="a b"),)))


def test_load_treebank_cleans_and_filters(treebank_dir):
    counts: dict[str, int] = {}
    rows = load_treebank(treebank_dir, min_words=2, max_words=40, counts=counts)
    assert [row["id"] for row in rows] == ["doc0-1", "doc1-2"]
    traced = rows[1]
    assert traced["words"] == ["The", "cell", "was", "stained", "in", "vitro", "."]
    assert traced["tags"] == ["DT", "NN", "VBD", "VBN", "IN", "NN", "."]
    assert traced["article"] == "doc1"
    assert "-NONE-" not in traced["tree"] and "SBJ" not in traced["tree"]
    assert traced["tree"] == ("(S (NP (DT The) (NN cell)) (VP (VBD was) (VP (VBN stained)"
                              " (PP (IN in) (NP (NN vitro))))) (. .))")
    assert traced["target"] == to_unlabeled(parse_tree(TRACED))
    assert counts == {"files": 2, "trees": 6, "dropped_empty": 1, "dropped_CIT": 0,
                      "dropped_HEADING": 1, "dropped_TITLE": 0, "dropped_short": 2,
                      "dropped_long": 0, "kept": 2}


def test_load_treebank_word_limits_and_root_choice(treebank_dir):
    # LONG has 13 words, 12 without its period: the bound counts non-punctuation words.
    counts: dict[str, int] = {}
    rows = load_treebank(treebank_dir, min_words=5, max_words=11, counts=counts)
    assert [row["id"] for row in rows] == ["doc1-2"]
    assert counts["dropped_long"] == 1 and counts["dropped_short"] == 2
    assert [r["id"] for r in load_treebank(treebank_dir, 5, 12)] == ["doc0-1", "doc1-2"]
    # Headings are dropped by choice, not because they are short: keeping them is one argument.
    kept = load_treebank(treebank_dir, min_words=1, drop_roots=())
    assert [row["id"] for row in kept] == ["doc0-1", "doc1-1", "doc1-2", "doc1-3"]
    assert kept[1]["tree"].startswith("(HEADING ")


@pytest.mark.parametrize("make, match", [
    (lambda p: p / "missing", "does not exist"),
    (lambda p: p, "no .tree files"),
])
def test_load_treebank_missing_input(tmp_path, make, match):
    with pytest.raises(KDBenchError, match=match) as err:
        load_treebank(make(tmp_path))
    assert str(tmp_path) in str(err.value) and "\n" not in str(err.value)


def test_load_treebank_nothing_left(treebank_dir):
    with pytest.raises(KDBenchError, match="no tree of .* is left after filtering"):
        load_treebank(treebank_dir, min_words=30)
    with pytest.raises(KDBenchError, match="max_words"):
        load_treebank(treebank_dir, min_words=5, max_words=4)
    with pytest.raises(KDBenchError, match="min_words"):
        load_treebank(treebank_dir, min_words=0)


def test_load_treebank_on_craft_slice(tmp_path, craft_trees):
    names = sorted(p.name for p in craft_trees.glob("*.tree"))[:2]
    for name in names:
        (tmp_path / name).symlink_to(craft_trees / name)
    counts: dict[str, int] = {}
    rows = load_treebank(tmp_path, min_words=2, max_words=40, counts=counts)
    dropped = sum(v for k, v in counts.items() if k.startswith("dropped_"))
    assert counts["trees"] == dropped + counts["kept"] and counts["kept"] == len(rows)
    assert counts["dropped_HEADING"] > 0 and counts["dropped_TITLE"] == 2
    assert {row["article"] for row in rows} == {Path(name).stem for name in names}
    assert len({row["id"] for row in rows}) == len(rows)
    for row in rows:
        tree = parse_tree(row["tree"])
        assert tree.label not in ("TITLE", "HEADING")
        assert 2 <= content_words(row) <= 40
        assert row["target"] == to_unlabeled(tree)
        assert read_unlabeled(row["target"]).words == row["words"]
        assert "-NONE-" not in row["tree"]


def article_rows(n_articles, per_article):
    return [{"id": f"a{a}-{i}", "article": f"a{a}", "words": ["w"], "target": "( w )"}
            for a in range(n_articles) for i in range(per_article)]


def test_split_by_article_holds_out_articles():
    rows = article_rows(30, 7)
    labeled, unlabeled, test = split_by_article(rows, 10, 60, 25, seed=3)
    assert (len(labeled), len(unlabeled), len(test)) == (10, 60, 25)
    ids = [[row["id"] for row in part] for part in (labeled, unlabeled, test)]
    assert len(set().union(*ids)) == 95
    test_articles = {row["article"] for row in test}
    assert len(test_articles) == 4  # 25 sentences need 4 articles of 7
    assert test_articles.isdisjoint(row["article"] for row in labeled + unlabeled)
    assert split_by_article(rows, 10, 60, 25, seed=3) == (labeled, unlabeled, test)
    assert split_by_article(rows, 10, 60, 25, seed=4) != (labeled, unlabeled, test)


def test_split_by_article_without_articles_is_random():
    rows = [{"id": str(i), "words": ["w"], "target": "O"} for i in range(50)]
    labeled, unlabeled, test = split_by_article(rows, 5, 20, 25, seed=0)
    ids = {row["id"] for row in labeled + unlabeled + test}
    assert len(ids) == 50


def test_split_by_article_too_few():
    rows = article_rows(3, 10)
    with pytest.raises(KDBenchError, match="30 sentences, too few"):
        split_by_article(rows, 10, 15, 6, seed=0)
    # 11 test sentences take two whole articles, leaving 10 for 15 labeled + unlabeled.
    with pytest.raises(KDBenchError, match="2 articles held out .* leave 10 sentences"):
        split_by_article(rows, 5, 10, 11, seed=0)
    with pytest.raises(KDBenchError, match="n_test is -1"):
        split_by_article(rows, 1, 1, -1, seed=0)


@pytest.fixture(scope="module")
def treebank():
    return generate_treebank(600, seed=0)


def test_generated_treebank_rows(treebank):
    assert len(treebank) == 600
    for row in treebank:
        tree = parse_tree(row["tree"])
        assert row["target"] == to_unlabeled(tree)
        assert read_unlabeled(row["target"]).words == row["words"]
        assert len(row["tags"]) == len(row["words"])
        assert 4 <= content_words(row) <= 20
        assert row["words"][-1] == "." and row["tags"][-1] == "."
    assert len({" ".join(row["words"]) for row in treebank}) == 600
    assert len({row["id"] for row in treebank}) == 600
    assert Counter(row["article"] for row in treebank) == {f"gen{d:05d}": 20 for d in range(30)}


def test_generated_treebank_deterministic():
    first = generate_treebank(50, seed=7)
    assert generate_treebank(50, seed=7) == first
    assert generate_treebank(50, seed=8) != first


def test_generated_treebank_short_sentences_distinct():
    # Few short sentences exist, so repeats would be drawn here if they were not rejected.
    rows = generate_treebank(400, seed=1, min_words=3, max_words=3)
    assert all(content_words(row) == 3 for row in rows)
    assert len({" ".join(row["words"]) for row in rows}) == 400


def attachments(tree, parent=""):
    """Labels of what PPs attach to after a verb's object: 'VP' (sister of the object) or
    'NP' (inside the object)."""
    found = []
    labels = [kid.label for kid in tree.children]
    # PPs headed by TO (`gave it to her`) are never ambiguous, so they do not count.
    after_object = tree.children[labels.index("NP"):] if "NP" in labels else ()
    if tree.label == "VP" and any(kid.label == "PP" and kid.children[0].label == "IN"
                                  for kid in after_object):
        found.append("VP")
    if tree.label == "NP" and parent == "VP" and labels[:2] == ["NP", "PP"]:
        found.append("NP")
    for kid in tree.children:
        found.extend(attachments(kid, tree.label))
    return found


def test_generated_treebank_has_attachment_ambiguity(treebank):
    kinds = Counter(k for row in treebank for k in attachments(parse_tree(row["tree"])))
    assert kinds["VP"] >= 30 and kinds["NP"] >= 30
    # The ambiguity is real: one tag sequence, two bracketings.
    targets: dict[tuple[str, ...], set[str]] = {}
    for row in treebank:
        brackets = " ".join(t if t in "()" else "x" for t in row["target"].split())
        targets.setdefault(tuple(row["tags"]), set()).add(brackets)
    assert any(len(brackets) > 1 for brackets in targets.values())


def test_generate_treebank_impossible_request():
    with pytest.raises(KDBenchError, match="distinct sentences"):
        generate_treebank(5, seed=0, min_words=1, max_words=1)


@pytest.fixture(scope="module")
def slots():
    return generate_slot_tagging(500, seed=0)


def test_slot_tagging_rows(slots):
    assert len(slots) == 500
    assert len({" ".join(row["words"]) for row in slots}) == 500
    n_chunks = Counter()
    for row in slots:
        bio = row["target"].split()
        assert len(bio) == len(row["words"])
        for before, tag in zip(["O"] + bio, bio, strict=False):
            if tag.startswith("I-"):
                assert before in ("B-" + tag[2:], tag), row
        for kind, start, end in chunks(bio):
            n_chunks[kind, end - start > 1] += 1
    assert n_chunks["fromloc.city_name", True] > 0 and n_chunks["toloc.city_name", False] > 0
    assert sum(n_chunks.values()) >= len(slots)


def test_slot_tagging_deterministic():
    assert generate_slot_tagging(40, seed=1) == generate_slot_tagging(40, seed=1)
    assert generate_slot_tagging(40, seed=1) != generate_slot_tagging(40, seed=2)


def test_tag_set(slots):
    found = tag_set(slots)
    assert found == sorted(found) and "O" in found
    assert {"B-fromloc.city_name", "I-fromloc.city_name", "B-airline_name"} <= set(found)
    assert tag_set([{"target": "B-a I-a O"}, {"target": "O B-b"}]) == ["B-a", "B-b", "I-a", "O"]
