"""LLKD: train the student on the samples where the teacher is confident and the student is
uncertain (class-wise adaptive thresholds, weighted loss), logging the selection every step."""

import argparse

import numpy as np

from kdbench.errors import report_errors
from kdbench.io import read_json, read_jsonl, read_labeled, write_json, write_jsonl
from kdbench.llkd import LLKDSelector, data_usage
from kdbench.params import load_params
from kdbench.student import fit_and_predict


@report_errors
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--prepared", default="data/prepared")
    parser.add_argument("--teacher", default="data/teacher/unlabeled.jsonl")
    parser.add_argument("--out", default="data/students/llkd")
    args = parser.parse_args()
    params = load_params(args.params)
    labels = read_json(f"{args.prepared}/labels.json")["labels"]
    pool = read_labeled(args.teacher, labels)
    test = read_jsonl(f"{args.prepared}/test.jsonl")
    selector = LLKDSelector(np.array([r["probs"] for r in pool]),
                            np.array([labels.index(r["label"]) for r in pool]), params["llkd"])
    predictions, info = fit_and_predict(pool, labels, params["student"],
                                        params["student"]["epochs"], params["seed"],
                                        {"test": test}, weighter=selector)
    usage = data_usage(selector.log, len(pool))
    selected = sorted({pool[i]["id"] for step in selector.log for i in step["selected_rows"]})
    write_jsonl(f"{args.out}/predictions.jsonl", predictions["test"])
    log_rows = [{key: value for key, value in step.items() if key != "selected_rows"}
                | {"selected": [pool[i]["id"] for i in step["selected_rows"]]}
                for step in selector.log]
    write_jsonl(f"{args.out}/selection_log.jsonl", log_rows)
    write_json(f"{args.out}/info.json", {"trainset": args.teacher, **info, **usage,
                                         "selected_ids": selected})
    print(f"select_llkd: {info}; data usage {usage}")


if __name__ == "__main__":
    main()
