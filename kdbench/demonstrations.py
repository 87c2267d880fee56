"""The teacher's few-shot demonstrations, drawn from the labeled pool (seeded): the one place
that picks them, so the teacher and the label-budget sweep see the same ones."""

import random

from kdbench.errors import KDBenchError


def per_class(labeled: list[dict], labels: list[str], shots: int, seed: int) -> list[dict]:
    """`shots` examples of each label, classes interleaved."""
    rng = random.Random(seed)
    groups = []
    for label in labels:
        members = [row for row in labeled if row["label"] == label]
        if len(members) < shots:
            raise KDBenchError(
                f"teacher.shots = {shots} per label but the labeled pool has only "
                f"{len(members)} example(s) of {label!r}; lower it or raise data.n_labeled")
        groups.append(rng.sample(members, shots))
    # Round-robin order: a block of one class at the end of the prompt biases the next label.
    return [group[i] for i in range(shots) for group in groups]


def sampled(labeled: list[dict], shots: int, seed: int) -> list[dict]:
    """`shots` examples drawn from the whole labeled pool."""
    if shots > len(labeled):
        raise KDBenchError(f"teacher.shots = {shots} but the labeled pool has {len(labeled)} "
                           "examples; lower it or raise data.n_labeled")
    return random.Random(seed).sample(labeled, shots)
