"""The files passed between stages: JSON and JSONL, written atomically.

Row formats: see kdbench.tasks (a task's gold, trainset and prediction rows); a classification
prediction is {"id", "label", "probs"} (`prediction_rows`), a sequence one {"id", "output",
"confidence"}.
"""

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from kdbench.errors import KDBenchError


def _atomic_write(path: Path, text: str) -> None:
    # Write beside the target then rename: a killed stage never leaves a half-written output.
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: str | Path, text: str) -> None:
    _atomic_write(Path(path), text)


def write_json(path: str | Path, obj: Any) -> None:
    _atomic_write(Path(path), json.dumps(obj, indent=2, sort_keys=False) + "\n")


def write_jsonl(path: str | Path, rows: Iterable[dict]) -> None:
    _atomic_write(Path(path), "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


def read_json(path: str | Path) -> Any:
    path = Path(path)
    if not path.is_file():
        raise KDBenchError(f"missing file {path}: run the stage that writes it first (dvc repro)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise KDBenchError(f"{path} is not valid JSON: {err}") from None


def read_jsonl(path: str | Path) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        raise KDBenchError(f"missing file {path}: run the stage that writes it first (dvc repro)")
    rows = []
    number = 0
    try:
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                number += 1
                if line.strip():
                    rows.append(json.loads(line))
    except json.JSONDecodeError as err:
        raise KDBenchError(f"{path} line {number} is not valid JSON: {err}") from None
    except UnicodeDecodeError as err:
        raise KDBenchError(f"{path} is not UTF-8 ({err.reason} near line {number + 1})") from None
    return rows


def read_labeled(path: str | Path, labels: list[str], label_field: str = "label") -> list[dict]:
    """Read a trainset or predictions file and check every label is in the label set."""
    rows = read_jsonl(path)
    allowed = set(labels)
    for number, row in enumerate(rows, start=1):
        if label_field not in row:
            raise KDBenchError(f"{path} row {number} has no '{label_field}' field")
        if row[label_field] not in allowed:
            raise KDBenchError(
                f"{path} row {number}: label {row[label_field]!r} is not in the label set {labels}"
            )
    return rows


def prediction_rows(ids: list[str], probs: np.ndarray, labels: list[str]) -> list[dict]:
    """Rows of the predictions format: id, argmax label, full distribution."""
    return [{"id": i, "label": labels[int(p.argmax())], "probs": [round(float(x), 6) for x in p]}
            for i, p in zip(ids, probs, strict=True)]


def write_subset(folder: str, name: str, subset: list[dict], pool: int, rule: str) -> None:
    """A baseline's subset of the pseudolabeled pool: trainsets/<name>.jsonl, and beside it
    <name>.info.json saying how it was chosen."""
    write_jsonl(f"{folder}/trainsets/{name}.jsonl", subset)
    write_json(f"{folder}/trainsets/{name}.info.json",
               {"rule": rule, "size": len(subset), "pool": pool})
    print(f"{name}: {rule}: {len(subset)} of {pool}")
