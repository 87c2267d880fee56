import pytest

from kdbench.bio import chunk_f1, chunks, read_tags
from kdbench.errors import KDBenchError


def test_b_and_i_tags_make_chunks_ended_by_o_or_b():
    assert chunks(["B-a", "I-a", "O", "B-b"]) == {("a", 0, 2), ("b", 3, 4)}
    # A B- right after a chunk of the same type starts a new chunk.
    assert chunks(["B-a", "B-a", "I-a"]) == {("a", 0, 1), ("a", 1, 3)}
    assert chunks(["O", "O"]) == set()
    assert chunks([]) == set()


def test_i_after_o_or_at_the_start_begins_a_chunk():
    assert chunks(["O", "I-a", "I-a", "O"]) == {("a", 1, 3)}
    assert chunks(["I-a", "O"]) == {("a", 0, 1)}


def test_type_switch_inside_an_i_run_splits_the_chunk():
    assert chunks(["B-a", "I-a", "I-b", "I-b"]) == {("a", 0, 2), ("b", 2, 4)}


def test_tag_names_are_kept_whole():
    tags = ["B-fromloc.city_name", "I-fromloc.city_name", "O", "B-round-trip"]
    assert chunks(tags) == {("fromloc.city_name", 0, 2), ("round-trip", 3, 4)}
    # The types share their first characters but differ whole, so the I- starts a new chunk.
    assert chunks(["B-fromloc.city_name", "I-fromloc.airport"]) == {
        ("fromloc.city_name", 0, 1), ("fromloc.airport", 1, 2)}


@pytest.mark.parametrize("bad", ["X", "B-", "b-a", "B_a", ""])
def test_chunks_reject_non_bio_tags(bad):
    with pytest.raises(KDBenchError, match="not a BIO tag"):
        chunks(["O", bad])


def test_read_tags():
    assert read_tags("O B-a.b  I-a.b\n", 3) == ["O", "B-a.b", "I-a.b"]
    assert read_tags("O B-a I-a", 2) is None
    assert read_tags("O B-a", 3) is None
    assert read_tags("O X I-a", 3) is None
    assert read_tags("O B- O", 3) is None
    assert read_tags("", 0) == []


def test_chunk_f1_on_a_small_corpus():
    golds = [
        ["B-from", "I-from", "O", "B-to"],  # from(0,2), to(3,4)
        ["O", "B-date", "I-date"],  # date(1,3)
        ["B-a", "O"],  # a(0,1)
        ["O", "O"],  # none
    ]
    preds = [
        ["B-from", "O", "O", "B-to"],  # from(0,1) wrong, to(3,4) right: 1 of 2
        ["O", "B-date", "I-date"],  # exact: 1 of 1
        None,  # unreadable: 0 predicted, its gold chunk still counts
        ["O", "O"],  # exact, no chunks
    ]
    # Matched 1+1+0+0 = 2, predicted 2+1+0+0 = 3, gold 2+1+1+0 = 4.
    # P 2/3, R 1/2, F1 = 2 * (2/3) * (1/2) / (2/3 + 1/2) = (2/3) / (7/6) = 4/7.
    # Exact: sentences 2 and 4 of 4.
    result = chunk_f1(preds, golds)
    assert result == pytest.approx({"precision": 2 / 3, "recall": 0.5, "f1": 4 / 7,
                                    "exact_match": 0.5, "unreadable": 1})


def test_exact_match_compares_tag_sequences_not_chunk_sets():
    # conlleval reads I-a at the start as a chunk: same chunks, different tags.
    result = chunk_f1([["I-a", "O"]], [["B-a", "O"]])
    assert result["f1"] == 1.0
    assert result["exact_match"] == 0.0


def test_chunk_f1_with_no_readable_prediction_is_zero():
    result = chunk_f1([None, None], [["B-a"], ["O"]])
    assert result == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "exact_match": 0.0,
                      "unreadable": 2}


def test_chunk_f1_rejects_mismatched_input():
    with pytest.raises(KDBenchError, match="1 predictions for 2 gold"):
        chunk_f1([["O"]], [["O"], ["O"]])
    with pytest.raises(KDBenchError, match="prediction 0 has 2 tags for 1 words"):
        chunk_f1([["O", "O"]], [["O"]])
    with pytest.raises(KDBenchError, match="no sentences"):
        chunk_f1([], [])
