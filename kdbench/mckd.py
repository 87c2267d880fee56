"""MCKD's partitions and cross-labeling schedule (Zhao et al., ACL 2024), as pure functions.

The pseudolabeled pool is split once into K disjoint partitions, reused at every stage. At a pair
stage the student of partition k trains on k and labels every partition it did not see; the new
labels replace the old ones. With K > 2 a partition is labeled by K-1 students: their class
probabilities are averaged (a choice of this project; the paper has K = 2).
"""

import random

import numpy as np

from kdbench.errors import KDBenchError


def make_partitions(ids: list[str], k: int, seed: int) -> list[list[str]]:
    """K disjoint partitions of ids, sizes differing by at most one, seeded."""
    if k < 2:
        raise KDBenchError(f"MCKD needs K >= 2 partitions, got {k}")
    if len(ids) < k:
        raise KDBenchError(f"cannot split {len(ids)} examples into {k} partitions")
    shuffled = sorted(ids)
    random.Random(seed).shuffle(shuffled)
    return [sorted(shuffled[i::k]) for i in range(k)]


def unseen_ids(partitions: list[list[str]], part: int) -> list[str]:
    """The ids the student of `part` must label: every partition but its own."""
    return [i for k, members in enumerate(partitions) if k != part for i in members]


def combine_relabels(partitions: list[list[str]],
                     predictions: dict[int, list[dict]]) -> dict[str, np.ndarray]:
    """New label distribution for every id from the students that did not train on it.

    Raises if any student predicted on its own partition: that would leak its training labels.
    """
    owner = {i: k for k, members in enumerate(partitions) for i in members}
    sums: dict[str, np.ndarray] = {}
    counts: dict[str, int] = {}
    for part, rows in predictions.items():
        for row in rows:
            if owner.get(row["id"]) == part:
                raise KDBenchError(f"student {part} predicted {row['id']!r}, which it trained on")
            sums[row["id"]] = sums.get(row["id"], 0) + np.asarray(row["probs"])
            counts[row["id"]] = counts.get(row["id"], 0) + 1
    missing = sorted(set(owner) - set(sums))
    if missing:
        raise KDBenchError(f"{len(missing)} examples got no new label, e.g. {missing[0]!r}")
    expected = len(partitions) - 1
    short = [i for i, n in counts.items() if n != expected]
    if short:
        raise KDBenchError(f"{short[0]!r} was labeled by {counts[short[0]]} students, "
                           f"expected {expected}")
    return {i: sums[i] / counts[i] for i in owner}
