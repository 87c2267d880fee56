"""Baseline subsets of the pseudolabeled pool: a fixed teacher-confidence filter, or a random
subset as large as LLKD's (unique samples it ever selected)."""

import argparse
import random

from kdbench.errors import KDBenchError, report_errors
from kdbench.io import read_json, read_labeled, write_json, write_jsonl
from kdbench.params import load_params


@report_errors
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--prepared", default="data/prepared")
    parser.add_argument("--teacher", default="data/teacher/unlabeled.jsonl")
    parser.add_argument("--kind", choices=("confidence", "random"), required=True)
    parser.add_argument("--llkd-info", default="data/students/llkd/info.json",
                        help="for --kind random: LLKD's info.json, whose size is matched")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    params = load_params(args.params)
    labels = read_json(f"{args.prepared}/labels.json")["labels"]
    pool = read_labeled(args.teacher, labels)
    if args.kind == "confidence":
        threshold = params["conf_filter"]["threshold"]
        subset = [r for r in pool if max(r["probs"]) >= threshold]
        rule = f"teacher confidence >= {threshold}"
    else:
        size = read_json(args.llkd_info)["unique_selected"]
        if size > len(pool):
            raise KDBenchError(f"LLKD selected {size} samples but the pool has {len(pool)}")
        subset = random.Random(params["seed"]).sample(pool, size)
        rule = f"uniform random, size of LLKD's unique selection ({size})"
    write_jsonl(args.out, subset)
    write_json(args.out.removesuffix(".jsonl") + ".info.json",
               {"rule": rule, "size": len(subset), "pool": len(pool)})
    print(f"make_subset: {rule}: {len(subset)} of {len(pool)}")


if __name__ == "__main__":
    main()
