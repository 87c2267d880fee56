"""Text classification (LLKD's setting): BBC News by default, or a user's CSV, JSONL or hub set.

Rows {id, text, label}; the teacher scores every label's verbalizer after a few-shot prompt and
gives a full distribution (optionally calibrated on a content-free input); the student is a
pretrained encoder with a classification head; metrics accuracy and macro-F1.
"""

from collections.abc import Sequence

import numpy as np

from kdbench.data import clean, load_rows, split
from kdbench.demonstrations import per_class
from kdbench.io import read_labeled
from kdbench.metrics import classification_scores
from kdbench.params import STUDENT, TEACHER, Field, flag, integer, number, text
from kdbench.tasks import Prepared, Task


class Classification(Task):
    name = "classification"
    metrics = ("accuracy", "macro_f1")
    target = "label"
    output = "label"
    methods = frozenset({"conf_filter", "llkd", "label_budget"})
    teacher_kind = "scoring"
    schema = {
        "data": {
            "source": text(choices=("bbc", "jsonl", "csv", "hub"),
                           doc="bbc (packaged BBC News) | jsonl | csv | hub (needs network)"),
            "path": text(optional=True, doc="file for jsonl/csv; data set name for hub"),
            "hub_split": text(doc="split of a hub data set"),
            "text_field": text(doc="field (jsonl, hub) or column (csv) of the text"),
            "label_field": text(doc="field or column of the label"),
            "labels": Field(list, optional=True, doc="label set and order; null = sorted found"),
            "dedup": flag("drop repeated texts before splitting"),
            "n_labeled": integer(1, doc="gold pool: demonstrations and the SFT baseline"),
            "n_unlabeled": integer(1, doc="pool the teacher labels (gold kept aside)"),
            "n_test": integer(1, doc="gold test split"),
        },
        "teacher": {
            **TEACHER,
            "shots": integer(0, doc="demonstrations per label"),
            "backend": text(choices=("transformers", "vllm", "openai"),
                            doc="vllm: GPU, optional extra; openai: a served model (server)"),
            "instruction": text(doc="optional first line, may name {labels}"),
            "input_name": text(doc="the prompt's name for an input (`Article: ...`)"),
            "label_name": text(doc="the prompt's name for a label (`Topic: ...`)"),
            "verbalizers": Field(dict, optional=True, doc="{label: word}; null = label names"),
            "shot_words": integer(1, doc="words of each demonstration"),
            "input_words": integer(1, doc="words of each input scored"),
            "calibrate": flag("divide by the label prior on a content-free input"),
            "batch_size": integer(1, doc="inputs scored together (transformers backend)"),
            "tensor_parallel_size": integer(1, doc="vllm only"),
            "gpu_memory_utilization": number(0.05, 1.0, doc="vllm only"),
        },
        "student": {**STUDENT, "kind": text(choices=("classifier",),
                                            doc="an encoder with a classification head")},
    }

    def check(self, block: dict) -> None:
        from kdbench.errors import KDBenchError

        data = block["data"]
        if data["source"] in ("jsonl", "csv", "hub") and not data["path"]:
            raise KDBenchError(f"params: classification.data.path is required when "
                               f"classification.data.source is {data['source']!r}")

    def prepare(self, data: dict, seed: int) -> Prepared:
        rows, labels, report = clean(load_rows(data), data["labels"], data["dedup"])
        splits = split(rows, labels, data["n_labeled"], data["n_unlabeled"], data["n_test"], seed)
        report.update(splits.report)
        if report["test_texts_also_in_training"]:
            print(f"prepare: warning: {report['test_texts_also_in_training']} test texts also "
                  "occur in the labeled or unlabeled pool (data.dedup is off): test accuracy is "
                  "inflated")
        return Prepared(splits.labeled, splits.unlabeled, splits.test,
                        {"labels": labels, **report})

    def demonstrations(self, teacher, labeled, meta, seed):
        return per_class(labeled, meta["labels"], teacher["shots"], seed)

    def read_rows(self, path: str, meta: dict) -> list[dict]:
        return read_labeled(path, meta["labels"])

    def score(self, outputs: Sequence[str], gold: Sequence[dict], meta: dict) -> dict:
        return classification_scores([r["label"] for r in gold], list(outputs), meta["labels"])

    def confidence(self, prediction: dict) -> float:
        return max(prediction["probs"])

    def combine(self, predictions: list[dict], meta: dict) -> dict:
        # The outside students' mean class distribution: a choice of this project for K > 2.
        probs = np.mean([np.asarray(p["probs"]) for p in predictions], axis=0)
        return {"id": predictions[0]["id"], "label": meta["labels"][int(probs.argmax())],
                "probs": [round(float(p), 6) for p in probs]}

    def trainset_row(self, row: dict, prediction: dict) -> dict:
        return {"id": row["id"], "text": row["text"], "label": prediction["label"],
                "probs": prediction["probs"]}

    def teacher_row(self, info: dict) -> dict:
        dev = info["dev_accuracy_calibrated" if info["calibrated"] else "dev_accuracy_uncalibrated"]
        return {"dev_accuracy": dev, "majority_label_fraction": info["majority_label_fraction"],
                "collapsed": int(info["collapsed"])}

    def describe(self, setup: dict, teacher: dict) -> str:
        from kdbench.report import mean_std

        return (f"Per seed: {setup['labeled']} labeled, {setup['unlabeled']} unlabeled, "
                f"{setup['test']} test; student {setup['student']}; "
                f"{setup.get('dropped_duplicates', 0)} duplicate texts dropped before splitting. "
                f"Teacher accuracy on the labeled pool minus its demonstrations (dev): "
                f"{mean_std(teacher, 'dev_accuracy')}.")


TASK = Classification()
