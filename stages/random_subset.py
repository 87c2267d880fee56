"""LLKD's control: a uniform random subset of the pseudolabeled pool as large as LLKD's unique
selection (trainsets/random_subset.jsonl)."""

import random

from kdbench.errors import KDBenchError, report_errors
from kdbench.io import read_json, read_jsonl, write_subset
from kdbench.params import load_params, stage_parser

PARAMS = ()


@report_errors
def main() -> None:
    args = stage_parser(__doc__).parse_args()
    load_params(args.params, args.task, PARAMS)  # a bad params.yaml stops every stage early
    pool = read_jsonl(f"{args.dir}/trainsets/vanilla_kd.jsonl")
    size = read_json(f"{args.dir}/students/llkd/info.json")["unique_selected"]
    if size > len(pool):
        raise KDBenchError(f"LLKD selected {size} samples but the pool has {len(pool)}")
    subset = random.Random(args.seed).sample(pool, size)
    write_subset(args.dir, "random_subset", subset, len(pool),
                 f"uniform random, size of LLKD's unique selection ({size})")


if __name__ == "__main__":
    main()
