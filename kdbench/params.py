"""Load params.yaml and validate it against one schema, before any stage does work.

The shared sections (seeds, threads, tasks, the methods' settings) are declared here; each task
declares the schema of its own block (data, teacher, student) in its module, built from the
shared fields below. An unknown key, a value of the wrong type or out of range stops the stage
with one line naming the key. A stage gets only the sections it declares (its `PARAMS`, the same
list as its `params:` in dvc.yaml), so a script cannot read a value DVC does not track for it.
"""

import argparse
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kdbench.devices import PATTERN as DEVICE_PATTERN
from kdbench.errors import KDBenchError


@dataclass(frozen=True)
class Field:
    kind: type | tuple[type, ...]
    lo: float | None = None
    hi: float | None = None
    choices: tuple | None = None
    optional: bool = False
    doc: str = ""
    pattern: str | None = None  # a str must match this regular expression whole

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
        if ok and self.pattern is not None and not re.fullmatch(self.pattern, value):
            ok = False
        if not ok or (self.choices is not None and value not in self.choices):
            raise KDBenchError(f"params: {key} = {value!r}; expected {self.describe()}")
        if self.lo is not None and value < self.lo or self.hi is not None and value > self.hi:
            raise KDBenchError(f"params: {key} = {value!r}; expected {self.describe()}")

    def describe(self) -> str:
        if self.choices is not None:
            text = "one of " + ", ".join(repr(c) for c in self.choices)
        elif self.pattern is not None:
            text = f"a string matching {self.pattern}"
        else:
            kinds = self.kind if isinstance(self.kind, tuple) else (self.kind,)
            text = " or ".join(k.__name__ for k in kinds)
            if self.lo is not None and self.hi is not None:
                text += f" in [{self.lo}, {self.hi}]"
            elif self.lo is not None:
                text += f" >= {self.lo}"
        return text + (" (or null)" if self.optional else "")


def integer(lo: int = 0, hi: int | None = None, optional: bool = False, doc: str = "") -> Field:
    return Field(int, lo, hi, optional=optional, doc=doc)


def number(lo: float = 0.0, hi: float | None = None, optional: bool = False,
           doc: str = "") -> Field:
    return Field(float, lo, hi, optional=optional, doc=doc)


def text(optional: bool = False, choices: tuple | None = None, doc: str = "") -> Field:
    return Field(str, choices=choices, optional=optional, doc=doc)


def flag(doc: str = "") -> Field:
    return Field(bool, doc=doc)


DEVICE = Field(str, pattern=DEVICE_PATTERN,
               doc="auto (CUDA when there is one) | cpu | cuda | cuda:N")


TASK_NAMES = ("classification", "constituency", "slot_tagging")
DTYPES = ("float32", "bfloat16", "float16")

# The keys every task's student and teacher have; a task adds its own (see kdbench/tasks/).
STUDENT = {
    "model": text(doc="packaged name (all-minilm-l6-v2) or a model directory"),
    "max_length": integer(8, doc="sub-tokens per example"),
    "batch_size": integer(1, doc="training examples per step"),
    "eval_batch_size": integer(1, doc="examples per prediction batch"),
    "epochs": integer(1, doc="passes over a pseudolabeled trainset"),
    "sft_epochs": integer(1, doc="passes of the few-gold baseline (SFT), which sees few rows"),
    "lr": number(1e-8, 1.0, doc="AdamW learning rate, linear decay"),
    "weight_decay": number(0.0, 1.0, doc="AdamW weight decay"),
    "warmup_ratio": number(0.0, 1.0, doc="share of the steps with linear warm-up"),
    "length_bucketing": flag("batches of similar length (pads less)"),
    "device": DEVICE,
    "precision": text(choices=("fp32", "bf16"), doc="bf16: autocast, CUDA only"),
}

# An OpenAI-compatible completions endpoint (teacher.backend: openai; kdbench/served.py).
SERVER = {
    "base_url": text(optional=True, doc="endpoint, e.g. http://127.0.0.1:8080/v1 (openai backend)"),
    "api_key_env": text(doc="environment variable with the API key; unset: no key sent"),
    "logprobs": text(choices=("top", "prompt"),
                     doc="label scoring: top = the next token's top log-probs (first token of "
                         "each label); prompt = the echoed prompt's (every token; not all "
                         "servers)"),
    "top_logprobs": integer(1, doc="log-probs asked for per token in top mode"),
    "concurrency": integer(1, doc="requests in flight at once"),
    "timeout_s": number(1.0, doc="seconds before a request fails (and is retried)"),
    "retries": integer(0, doc="retries of a failed request, after 1, 2, 4, ... s"),
}

TEACHER = {
    "model": text(doc="gemma3-270m | smollm2-135m-instruct | a model dir | a .gguf file; "
                      "openai backend: the served model's name"),
    "shots": integer(0, doc="demonstrations from the labeled pool"),
    "dtype": text(choices=DTYPES, doc="weights' precision"),
    "device": DEVICE,
    "server": SERVER,
}

# LLKD's class level of the teacher threshold (kdbench.llkd).
CLASS_LEVELS = ("pseudolabel_mean", "probability_mass")

STAGE_ITEM = {"id": text(), "labels": text()}

SCHEMA: dict[str, Any] = {
    "seeds": Field(list, doc="one run of every method per seed (split, demonstrations, order)"),
    "threads": integer(1, doc="torch threads in every stage: results do not depend on the "
                              "caller's OMP_NUM_THREADS"),
    "tasks": Field(list, doc="the enabled tasks; each has a block of its name"),
    "teacher_shards": Field(list, doc="[0, ..., N-1]: the teacher labels each pool in N shards, "
                                      "each its own stage (prompt_teacher@<task>-<seed>-<shard>)"),
    "conf_filter": {
        "tasks": Field(list, doc="tasks the teacher-confidence filter runs on"),
        "threshold": number(0.0, 1.0, doc="keep pseudolabels whose teacher confidence >= this"),
    },
    "llkd": {
        "tasks": Field(list, doc="tasks LLKD (and its random-subset control) runs on"),
        "momentum": number(0.0, 1.0, doc="EMA momentum of the adaptive thresholds"),
        "init": number(0.0, 1.0, optional=True, doc="initial levels; null = 1 / classes"),
        "class_level": text(choices=CLASS_LEVELS,
                            doc="the teacher threshold's class level: pseudolabel_mean (mean "
                                "confidence of the class's samples) or probability_mass "
                                "(FreeMatch's: mean teacher probability of the class)"),
        "weight": text(choices=("none", "confidence", "uncertainty", "product"),
                       doc="loss weight of a selected sample (product: confidence x uncertainty)"),
        "use_teacher_threshold": flag("select only where the teacher is confident"),
        "use_student_threshold": flag("select only where the student is uncertain"),
    },
    "mckd": {
        "parts": Field(list, doc="K partitions, numbered 0..K-1 (K = 2 in the paper)"),
        "pair_stages": Field(list, doc="{id, labels}: K students on `labels` relabel the pool"),
        "finals": Field(list, doc="{id, labels}: one student on the whole pool"),
    },
    "label_budget": {
        "tasks": Field(list, doc="tasks the label-budget sweep runs on"),
        "sizes": Field(list, doc="gold budgets, increasing"),
    },
}


def _validate(node: Any, schema: dict, prefix: str) -> None:
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


def _validate_mckd(mckd: dict) -> None:
    parts = mckd["parts"]
    if (len(parts) < 2 or parts != list(range(len(parts)))
            or any(isinstance(p, bool) for p in parts)):
        raise KDBenchError(f"params: mckd.parts = {parts}; expected [0, 1, ..., K-1] with K >= 2")
    for group in ("pair_stages", "finals"):
        for index, item in enumerate(mckd[group]):
            _validate(item, STAGE_ITEM, f"mckd.{group}[{index}].")
    ids = [item["id"] for item in mckd["pair_stages"] + mckd["finals"]]
    if len(set(ids)) != len(ids):
        raise KDBenchError(f"params: mckd stage ids must be unique, got {ids}")


def _validate_ints(key: str, values: list, lo: int, example: str, increasing: bool) -> None:
    ok = bool(values) and all(isinstance(x, int) and not isinstance(x, bool) and x >= lo
                              for x in values) and len(set(values)) == len(values)
    if ok and increasing:
        ok = values == sorted(values)
    if not ok:
        order = "increasing " if increasing else ""
        raise KDBenchError(f"params: {key} = {values}; expected a non-empty list of {order}"
                           f"distinct integers >= {lo}, e.g. {example}")


def _validate_tasks(params: dict) -> None:
    tasks = params["tasks"]
    if not tasks or any(t not in TASK_NAMES for t in tasks) or len(set(tasks)) != len(tasks):
        raise KDBenchError(f"params: tasks = {tasks}; expected distinct names from "
                           f"{', '.join(TASK_NAMES)}")
    for method in ("conf_filter", "llkd", "label_budget"):
        outside = [t for t in params[method]["tasks"] if t not in tasks]
        if outside:
            raise KDBenchError(f"params: {method}.tasks has {outside}, which are not among the "
                               f"enabled tasks {tasks}")


def validate_block(params: dict, task: str) -> None:
    """A task's block against the schema its module declares, and the methods that need it."""
    from kdbench.tasks import get_task

    definition = get_task(task)
    if task not in params:
        raise KDBenchError(f"params: missing block {task} (task {task} is enabled)")
    _validate(params[task], definition.schema, f"{task}.")
    for method in ("conf_filter", "llkd", "label_budget"):
        if task in params[method]["tasks"] and method not in definition.methods:
            raise KDBenchError(f"params: {method}.tasks includes {task}, but {method} does not "
                               f"apply to it; the optional methods of {task} are "
                               f"{', '.join(sorted(definition.methods)) or 'none'}")
    definition.check(params[task])


def read_params(path: str | Path = "params.yaml") -> dict:
    """Read params.yaml and validate its shared sections (task blocks: `validate_block`)."""
    path = Path(path)
    if not path.is_file():
        raise KDBenchError(f"missing params file {path}")
    try:
        params = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise KDBenchError(f"{path} is not valid YAML: {err}".replace("\n", " ")) from None
    if not isinstance(params, dict):
        raise KDBenchError(f"{path} must be a mapping of sections")
    shared = {k: v for k, v in params.items() if k not in TASK_NAMES}
    _validate(shared, SCHEMA, "")
    _validate_ints("seeds", params["seeds"], 0, "[0, 1, 2]", increasing=False)
    shards = params["teacher_shards"]
    if shards != list(range(len(shards))) or not shards:
        raise KDBenchError(f"params: teacher_shards = {shards}; expected [0, 1, ..., N-1], "
                           "e.g. [0] (one stage per seed) or [0, 1, 2, 3]")
    _validate_tasks(params)
    _validate_mckd(params["mckd"])
    _validate_ints("label_budget.sizes", params["label_budget"]["sizes"], 1,
                   "[15, 50, 100, 200] (numbers of gold labels)", increasing=True)
    return params


def validate_all(path: str | Path = "params.yaml") -> dict:
    """The whole file: shared sections, every enabled task's block and any other block given."""
    params = read_params(path)
    for task in TASK_NAMES:
        if task in params["tasks"] or task in params:
            validate_block(params, task)
    return params


def load_params(path: str | Path, task: str | None, sections: tuple[str, ...]) -> dict:
    """The validated params a stage declared: only `sections` (dotted keys; `{task}` stands for
    the stage's task), nested as in params.yaml. Reading anything else is a KeyError."""
    params = read_params(path)
    if task is not None:
        if task not in params["tasks"]:
            raise KDBenchError(f"task {task!r} is not enabled in {path}: tasks = "
                               f"{params['tasks']}")
        validate_block(params, task)
    picked: dict = {}
    for dotted in sections:
        keys = dotted.format(task=task).split(".")
        source, target = params, picked
        for key in keys[:-1]:
            source = source[key]
            target = target.setdefault(key, {})
        target[keys[-1]] = source[keys[-1]]
    return picked


def stage_parser(description: str, seed: bool = True) -> argparse.ArgumentParser:
    """The arguments of a stage: params file and task; per-seed stages add --seed and --dir."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--task", required=True, choices=TASK_NAMES)
    if seed:
        parser.add_argument("--seed", type=int, required=True, help="one of params.yaml's seeds")
        parser.add_argument("--dir", required=True,
                            help="this task and seed's data folder, e.g. data/classification/seed0")
    return parser


def _rows(schema: dict, values: dict, prefix: str) -> list[tuple[str, str, str, str]]:
    rows = []
    for key, spec in schema.items():
        value = values.get(key) if isinstance(values, dict) else None
        if isinstance(spec, dict):
            rows += _rows(spec, value or {}, f"{prefix}{key}.")
        else:
            shown = yaml.safe_dump(value, default_flow_style=True, width=1000).strip()
            shown = shown.removesuffix("...").strip()
            rows.append((f"`{prefix}{key}`", spec.describe(), f"`{shown}`", spec.doc))
    return rows


def configuration_doc(path: str | Path = "params.yaml") -> str:
    """docs/configuration.md: every key of the schema with what it allows, its value in
    params.yaml and what it does (`python -m kdbench.params > docs/configuration.md`)."""
    from kdbench.tasks import get_task

    params = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    sections = [("Shared", SCHEMA, params, "")]
    sections += [(f"Task `{name}`", get_task(name).schema, params.get(name, {}), f"{name}.")
                 for name in TASK_NAMES]
    out = ["# Configuration", "",
           "Every key of params.yaml, as validated before any stage works (kdbench/params.py and "
           "each task's module in kdbench/tasks/). Generated by `python -m kdbench.params > "
           "docs/configuration.md`; a test fails when this file and the schema differ.", ""]
    for title, schema, values, prefix in sections:
        out += [f"## {title}", "", "| key | allowed | in params.yaml | what it does |",
                "|---|---|---|---|"]
        out += [f"| {' | '.join(cell.replace('|', '/') for cell in row)} |"
                for row in _rows(schema, values, prefix)]
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    print(configuration_doc(), end="")
