"""Baseline subsets of the pseudolabeled pool: a fixed teacher-confidence filter, or a random
subset as large as LLKD's (unique samples it ever selected)."""

import random

from kdbench.errors import KDBenchError, report_errors
from kdbench.io import read_json, read_labeled, write_json, write_jsonl
from kdbench.params import load_params, stage_parser


@report_errors
def main() -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--kind", choices=("confidence", "random"), required=True,
                        help="confidence: trainsets/conf_filter.jsonl; random: "
                             "trainsets/random_subset.jsonl, the size of LLKD's selection")
    args = parser.parse_args()
    params = load_params(args.params)
    labels = read_json(f"{args.dir}/prepared/labels.json")["labels"]
    pool = read_labeled(f"{args.dir}/trainsets/vanilla_kd.jsonl", labels)
    if args.kind == "confidence":
        threshold = params["conf_filter"]["threshold"]
        subset = [r for r in pool if max(r["probs"]) >= threshold]
        rule = f"teacher confidence >= {threshold}"
        out = f"{args.dir}/trainsets/conf_filter"
    else:
        size = read_json(f"{args.dir}/students/llkd/info.json")["unique_selected"]
        if size > len(pool):
            raise KDBenchError(f"LLKD selected {size} samples but the pool has {len(pool)}")
        subset = random.Random(args.seed).sample(pool, size)
        rule = f"uniform random, size of LLKD's unique selection ({size})"
        out = f"{args.dir}/trainsets/random_subset"
    write_jsonl(f"{out}.jsonl", subset)
    write_json(f"{out}.info.json",
               {"rule": rule, "size": len(subset), "pool": len(pool)})
    print(f"make_subset: {rule}: {len(subset)} of {len(pool)}")


if __name__ == "__main__":
    main()
