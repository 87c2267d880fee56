import numpy as np
import pytest

from kdbench.errors import KDBenchError
from kdbench.mckd import (
    chain,
    combine_relabels,
    make_partitions,
    unseen_ids,
)
from kdbench.tasks import get_task

IDS = [f"doc{i}" for i in range(11)]
LABELS = ["a", "b"]


@pytest.mark.parametrize("k", [2, 3, 4])
def test_partitions_are_disjoint_balanced_and_seeded(k):
    parts = make_partitions(IDS, k, seed=3)
    flat = [i for p in parts for i in p]
    assert sorted(flat) == sorted(IDS) and len(flat) == len(set(flat))
    assert max(map(len, parts)) - min(map(len, parts)) <= 1
    assert parts == make_partitions(list(reversed(IDS)), k, seed=3)
    assert parts != make_partitions(IDS, k, seed=4)


def test_partitions_reject_k_below_two_and_too_few_examples():
    with pytest.raises(KDBenchError, match="K >= 2"):
        make_partitions(IDS, 1, seed=0)
    with pytest.raises(KDBenchError, match="cannot split"):
        make_partitions(IDS[:2], 3, seed=0)


def test_a_student_labels_exactly_what_it_did_not_see():
    parts = make_partitions(IDS, 3, seed=0)
    for k in range(3):
        unseen = unseen_ids(parts, k)
        assert not set(unseen) & set(parts[k])
        assert set(unseen) | set(parts[k]) == set(IDS)


def average_probs(rows):
    return get_task("classification").combine(rows, {"labels": LABELS})


def most_confident(rows):
    return get_task("constituency").combine(rows, {})


def rows(ids, probs):
    return [{"id": i, "label": LABELS[int(np.argmax(probs))], "probs": probs} for i in ids]


def test_combine_two_partitions_swaps_labels():
    parts = make_partitions(IDS, 2, seed=0)
    new = combine_relabels(parts, {0: rows(parts[1], [0.9, 0.1]), 1: rows(parts[0], [0.2, 0.8])},
                           average_probs)
    assert all(new[i]["probs"] == [0.9, 0.1] and new[i]["label"] == LABELS[0] for i in parts[1])
    assert all(new[i]["probs"] == [0.2, 0.8] and new[i]["label"] == LABELS[1] for i in parts[0])


def test_combine_three_partitions_averages_the_two_outside_students():
    parts = make_partitions(IDS, 3, seed=0)
    preds = {0: rows(unseen_ids(parts, 0), [1.0, 0.0]), 1: rows(unseen_ids(parts, 1), [0.0, 1.0]),
             2: rows(unseen_ids(parts, 2), [0.5, 0.5])}
    new = combine_relabels(parts, preds, average_probs)
    assert new[parts[0][0]]["probs"] == pytest.approx([0.25, 0.75])  # students 1 and 2
    assert new[parts[2][0]]["probs"] == pytest.approx([0.5, 0.5])  # students 0 and 1


def test_a_student_predicting_its_own_partition_is_refused():
    parts = make_partitions(IDS, 2, seed=0)
    leaked = {0: rows(parts[1] + parts[0][:1], [0.9, 0.1]), 1: rows(parts[0], [0.2, 0.8])}
    with pytest.raises(KDBenchError, match="trained on"):
        combine_relabels(parts, leaked, average_probs)


def test_an_example_left_unlabeled_is_refused():
    parts = make_partitions(IDS, 2, seed=0)
    with pytest.raises(KDBenchError, match="no new label"):
        combine_relabels(parts, {0: rows(parts[1], [0.9, 0.1]), 1: rows(parts[0][1:], [0.2, 0.8])},
                         average_probs)


def outputs(ids, text, confidence):
    return [{"id": i, "output": text, "confidence": confidence} for i in ids]


def test_sequences_keep_the_most_confident_outside_students_output():
    parts = make_partitions(IDS, 3, seed=0)
    preds = {0: outputs(unseen_ids(parts, 0), "( a b )", 0.2),
             1: outputs(unseen_ids(parts, 1), "( ( a ) b )", 0.9),
             2: outputs(unseen_ids(parts, 2), "( a ( b ) )", 0.5)}
    new = combine_relabels(parts, preds, most_confident)
    assert new[parts[0][0]]["output"] == "( ( a ) b )"  # students 1 (0.9) and 2 (0.5)
    assert new[parts[1][0]]["output"] == "( a ( b ) )"  # students 0 (0.2) and 2 (0.5)
    assert new[parts[2][0]]["output"] == "( ( a ) b )"  # students 0 and 1


def test_chain_walks_back_to_the_teacher_and_refuses_a_cycle():
    stages = [{"id": "s1", "labels": "trainsets/vanilla_kd.jsonl"},
              {"id": "s2", "labels": "mckd/s1/labels.jsonl"}]
    assert [s["id"] for s in chain("mckd/s2/labels.jsonl", stages)] == ["s2", "s1"]
    assert chain("trainsets/vanilla_kd.jsonl", stages) == []
    looped = [{"id": "s1", "labels": "mckd/s2/labels.jsonl"},
              {"id": "s2", "labels": "mckd/s1/labels.jsonl"}]
    with pytest.raises(KDBenchError, match="cycle"):
        chain("mckd/s2/labels.jsonl", looped)
