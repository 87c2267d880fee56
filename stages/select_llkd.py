"""LLKD: train the student on the samples where the teacher is confident and the student is
uncertain (class-wise adaptive thresholds, weighted loss), logging the selection every step."""

import numpy as np

from kdbench.errors import peak_memory_gib, report_errors
from kdbench.io import read_json, read_jsonl, read_labeled, write_json, write_jsonl
from kdbench.llkd import LLKDSelector, data_usage
from kdbench.params import load_params, stage_parser
from kdbench.student import fit_and_predict


@report_errors
def main() -> None:
    args = stage_parser(__doc__).parse_args()
    params = load_params(args.params)
    trainset = "trainsets/vanilla_kd.jsonl"
    labels = read_json(f"{args.dir}/prepared/labels.json")["labels"]
    pool = read_labeled(f"{args.dir}/{trainset}", labels)
    test = read_jsonl(f"{args.dir}/prepared/test.jsonl")
    selector = LLKDSelector(np.array([r["probs"] for r in pool]),
                            np.array([labels.index(r["label"]) for r in pool]), params["llkd"])
    predictions, info = fit_and_predict(pool, labels, params["student"],
                                        params["student"]["epochs"], args.seed,
                                        {"test": test}, weighter=selector)
    usage = data_usage(selector.log, len(pool))
    selected = sorted({pool[i]["id"] for step in selector.log for i in step["selected_rows"]})
    out = f"{args.dir}/students/llkd"
    write_jsonl(f"{out}/predictions.jsonl", predictions["test"])
    log_rows = [{key: value for key, value in step.items() if key != "selected_rows"}
                | {"selected": [pool[i]["id"] for i in step["selected_rows"]]}
                for step in selector.log]
    write_jsonl(f"{out}/selection_log.jsonl", log_rows)
    write_json(f"{out}/info.json", {"trainset": trainset, **info, **usage,
                                    "peak_memory_gib": peak_memory_gib(),
                                    "selected_ids": selected})
    print(f"select_llkd: {info}; data usage {usage}")


if __name__ == "__main__":
    main()
