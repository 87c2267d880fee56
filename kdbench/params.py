"""Load params.yaml and validate it against one schema, before any stage does work.

Every key a user can tune is declared here once, with the values it allows. An unknown key,
a value of the wrong type or out of range stops the stage with one line naming the key.
"""

import argparse
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kdbench.errors import KDBenchError


@dataclass(frozen=True)
class Field:
    kind: type | tuple[type, ...]
    lo: float | None = None
    hi: float | None = None
    choices: tuple | None = None
    optional: bool = False

    def check(self, key: str, value: Any) -> None:
        if value is None:
            if self.optional:
                return
            raise KDBenchError(f"params: {key} is missing or null; expected {self.describe()}")
        kinds = self.kind if isinstance(self.kind, tuple) else (self.kind,)
        # bool is an int in Python; a threshold of `true` is a mistake, not 1.
        if isinstance(value, bool) and bool not in kinds:
            ok = False
        else:
            ok = isinstance(value, kinds) or (float in kinds and isinstance(value, int))
        if ok and isinstance(value, float) and math.isnan(value):
            ok = False
        if not ok or (self.choices is not None and value not in self.choices):
            raise KDBenchError(f"params: {key} = {value!r}; expected {self.describe()}")
        if self.lo is not None and value < self.lo or self.hi is not None and value > self.hi:
            raise KDBenchError(f"params: {key} = {value!r}; expected {self.describe()}")

    def describe(self) -> str:
        if self.choices is not None:
            text = "one of " + ", ".join(repr(c) for c in self.choices)
        else:
            kinds = self.kind if isinstance(self.kind, tuple) else (self.kind,)
            text = " or ".join(k.__name__ for k in kinds)
            if self.lo is not None and self.hi is not None:
                text += f" in [{self.lo}, {self.hi}]"
            elif self.lo is not None:
                text += f" >= {self.lo}"
        return text + (" (or null)" if self.optional else "")


def _int(lo: int = 0, hi: int | None = None, optional: bool = False) -> Field:
    return Field(int, lo, hi, optional=optional)


def _float(lo: float = 0.0, hi: float | None = None, optional: bool = False) -> Field:
    return Field(float, lo, hi, optional=optional)


def _str(optional: bool = False, choices: tuple | None = None) -> Field:
    return Field(str, choices=choices, optional=optional)


BENCHMARKS = ("classification", "sequence")
# structured: a pretrained encoder with a span (parsing) or tag head; causal_lm: a decoder-only
# LM that writes the output under the task's grammar.
SEQUENCE_STUDENTS = ("structured", "causal_lm")

STAGE_ITEM = {"id": _str(), "labels": _str()}

STUDENT = {
    "model": _str(),
    "max_length": _int(8),
    "batch_size": _int(1),
    "eval_batch_size": _int(1),
    "epochs": _int(1),
    "lr": _float(1e-8, 1.0),
    "weight_decay": _float(0.0, 1.0),
    "warmup_ratio": _float(0.0, 1.0),
    "length_bucketing": Field(bool),
}

MCKD = {"parts": Field(list), "pair_stages": Field(list), "finals": Field(list)}

SCHEMA: dict[str, Any] = {
    "seeds": Field(list),
    "data": {
        "source": _str(choices=("bbc", "jsonl", "csv", "hub")),
        "path": _str(optional=True),
        "hub_split": _str(),
        "text_field": _str(),
        "label_field": _str(),
        "labels": Field(list, optional=True),
        "dedup": Field(bool),
        "n_labeled": _int(1),
        "n_unlabeled": _int(1),
        "n_test": _int(1),
    },
    "teacher": {
        "backend": _str(choices=("transformers", "vllm")),
        "model": _str(),
        "instruction": _str(),
        "input_name": _str(),
        "label_name": _str(),
        "verbalizers": Field(dict, optional=True),
        "shots_per_class": _int(0),
        "shot_words": _int(1),
        "input_words": _int(1),
        "calibrate": Field(bool),
        "dtype": _str(choices=("float32", "bfloat16", "float16")),
        "tensor_parallel_size": _int(1),
        "gpu_memory_utilization": _float(0.05, 1.0),
    },
    "student": STUDENT,
    "sft": {"epochs": _int(1)},
    "conf_filter": {"threshold": _float(0.0, 1.0)},
    "llkd": {
        "momentum": _float(0.0, 1.0),
        "init": _float(0.0, 1.0, optional=True),
        "weight": _str(choices=("none", "confidence", "uncertainty", "product")),
        "use_teacher_threshold": Field(bool),
        "use_student_threshold": Field(bool),
    },
    "mckd": MCKD,
    "label_budget": {"sizes": Field(list)},
    "sequence": {
        "task": _str(choices=("constituency", "slot_tagging")),
        "source": _str(choices=("generated", "trees")),
        "path": _str(optional=True),
        "min_words": _int(1),
        "max_words": _int(1),
        "n_labeled": _int(1),
        "n_unlabeled": _int(2),
        "n_test": _int(1),
        "teacher": {
            "model": _str(),
            "shots": _int(0),
            "constrained": Field(bool),
            "unary": Field(bool),
            "dtype": _str(choices=("float32", "bfloat16", "float16")),
            "batch_size": _int(1),
        },
        "student": {**STUDENT, "kind": _str(choices=SEQUENCE_STUDENTS)},
        "sft_epochs": _int(1),
        "mckd": MCKD,
    },
}


def _validate(node: dict, schema: dict, prefix: str) -> None:
    if not isinstance(node, dict):
        raise KDBenchError(f"params: {prefix.rstrip('.') or 'params.yaml'} must be a mapping")
    for key in node:
        if key not in schema:
            allowed = ", ".join(sorted(schema))
            raise KDBenchError(f"params: unknown key {prefix}{key}; allowed here: {allowed}")
    for key, spec in schema.items():
        if key not in node:
            raise KDBenchError(f"params: missing key {prefix}{key}")
        if isinstance(spec, dict):
            _validate(node[key], spec, f"{prefix}{key}.")
        else:
            spec.check(f"{prefix}{key}", node[key])


def _validate_mckd(mckd: dict, key: str) -> None:
    parts = mckd["parts"]
    if (len(parts) < 2 or parts != list(range(len(parts)))
            or any(isinstance(p, bool) for p in parts)):
        raise KDBenchError(f"params: {key}.parts = {parts}; expected [0, 1, ..., K-1] with K >= 2")
    for group in ("pair_stages", "finals"):
        for index, item in enumerate(mckd[group]):
            _validate(item, STAGE_ITEM, f"{key}.{group}[{index}].")
    ids = [item["id"] for item in mckd["pair_stages"] + mckd["finals"]]
    if len(set(ids)) != len(ids):
        raise KDBenchError(f"params: {key} stage ids must be unique, got {ids}")


def _validate_seeds(seeds: list) -> None:
    if (not seeds or any(isinstance(x, bool) or not isinstance(x, int) or x < 0 for x in seeds)
            or len(set(seeds)) != len(seeds)):
        raise KDBenchError(f"params: seeds = {seeds}; expected a non-empty list of distinct "
                           "integers >= 0, e.g. [0, 1, 2]")


def _validate_budget(sizes: list) -> None:
    if (not sizes or any(isinstance(x, bool) or not isinstance(x, int) or x < 1 for x in sizes)
            or sizes != sorted(set(sizes))):
        raise KDBenchError(f"params: label_budget.sizes = {sizes}; expected increasing distinct "
                           "integers >= 1 (numbers of gold labels), e.g. [15, 25, 50, 100, 200]")


def stage_parser(description: str) -> argparse.ArgumentParser:
    """The arguments every per-seed stage takes; its other paths are inside --dir."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--seed", type=int, required=True, help="one of params.yaml's seeds")
    parser.add_argument("--dir", required=True, help="this seed's data folder, e.g. data/seed0")
    parser.add_argument("--benchmark", choices=BENCHMARKS, default="classification",
                        help="classification (params: data, teacher, student, ...) or sequence "
                        "(params: sequence)")
    return parser


def load_params(path: str | Path = "params.yaml") -> dict:
    """Read and validate params.yaml; returns the nested mapping as written."""
    path = Path(path)
    if not path.is_file():
        raise KDBenchError(f"missing params file {path}")
    try:
        params = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise KDBenchError(f"{path} is not valid YAML: {err}".replace("\n", " ")) from None
    _validate(params, SCHEMA, "")
    data = params["data"]
    if data["source"] in ("jsonl", "csv", "hub") and not data["path"]:
        raise KDBenchError(f"params: data.path is required when data.source is {data['source']!r}")
    _validate_seeds(params["seeds"])
    _validate_mckd(params["mckd"], "mckd")
    _validate_budget(params["label_budget"]["sizes"])
    sequence = params["sequence"]
    _validate_mckd(sequence["mckd"], "sequence.mckd")
    if sequence["source"] == "trees" and sequence["task"] != "constituency":
        raise KDBenchError("params: sequence.source 'trees' (Penn treebank files) needs "
                           "sequence.task 'constituency'; slot_tagging has source 'generated'")
    if sequence["source"] == "trees" and not sequence["path"]:
        raise KDBenchError("params: sequence.path (a directory of Penn .tree files) is required "
                           "when sequence.source is 'trees'")
    if sequence["min_words"] > sequence["max_words"]:
        raise KDBenchError(f"params: sequence.min_words ({sequence['min_words']}) is above "
                           f"sequence.max_words ({sequence['max_words']})")
    return params
