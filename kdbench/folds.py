"""k-fold splits of the labeled pool for the studies that judge settings on it (teacher and
student selection): every labeled example is judged once, by a setting fitted without it."""

import numpy as np

from kdbench.errors import KDBenchError


def folds(rows: list[dict], k: int, seed: int, key: str | None = None,
          param: str = "folds") -> list[list[dict]]:
    """k disjoint folds covering `rows` (seeded); with `key`, each value spread evenly. `param`
    names the setting in the error when there are fewer rows than folds."""
    if len(rows) < k:
        raise KDBenchError(f"{param} = {k} but the labeled pool has {len(rows)} examples")
    rng = np.random.default_rng(seed)
    order = [rows[i] for i in rng.permutation(len(rows))]
    if key is not None:
        order.sort(key=lambda r: r[key])  # stable: shuffled within each value
    return [order[i::k] for i in range(k)]
