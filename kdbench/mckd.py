"""MCKD's partitions and cross-labeling schedule (Zhao et al., ACL 2024), as pure functions.

The pseudolabeled pool is split once into K disjoint partitions, reused at every stage. At a pair
stage the student of partition k trains on k and labels every partition it did not see; the new
labels replace the old ones. With K > 2 a partition is labeled by K-1 students: their class
probabilities are averaged (classification), or the output with the highest confidence is kept
(sequences); both are choices of this project, the paper has K = 2.
"""

import random
from collections.abc import Callable
from typing import Any

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


def chain(labels: str, pair_stages: list[dict]) -> list[dict]:
    """The pair stages behind a labels path, latest first, walked back to the teacher's labels."""
    by_labels = {f"mckd/{s['id']}/labels.jsonl": s for s in pair_stages}
    stages = []
    while labels in by_labels:
        if by_labels[labels] in stages:
            raise KDBenchError(f"MCKD pair stages form a cycle at {labels!r}")
        stages.append(by_labels[labels])
        labels = by_labels[labels]["labels"]
    return stages


def combine_relabels(partitions: list[list[str]], predictions: dict[int, list[dict]],
                     combine: Callable[[list[dict]], Any]) -> dict[str, Any]:
    """New label for every id, combined from the students that did not train on it.

    Raises if any student predicted on its own partition: that would leak its training labels.
    """
    owner = {i: k for k, members in enumerate(partitions) for i in members}
    outside: dict[str, list[dict]] = {}
    for part, rows in predictions.items():
        for row in rows:
            if owner.get(row["id"]) == part:
                raise KDBenchError(f"student {part} predicted {row['id']!r}, which it trained on")
            outside.setdefault(row["id"], []).append(row)
    missing = sorted(set(owner) - set(outside))
    if missing:
        raise KDBenchError(f"{len(missing)} examples got no new label, e.g. {missing[0]!r}")
    expected = len(partitions) - 1
    short = [i for i, rows in outside.items() if len(rows) != expected]
    if short:
        raise KDBenchError(f"{short[0]!r} was labeled by {len(outside[short[0]])} students, "
                           f"expected {expected}")
    return {i: combine(outside[i]) for i in owner}
