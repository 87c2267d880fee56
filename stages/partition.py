"""MCKD: split the pseudolabeled pool once into K disjoint partitions, reused at every stage."""

import argparse

from kdbench.errors import report_errors
from kdbench.io import read_jsonl, write_json
from kdbench.mckd import make_partitions
from kdbench.params import load_params


@report_errors
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--teacher", default="data/teacher/unlabeled.jsonl")
    parser.add_argument("--out", default="data/mckd/partitions.json")
    args = parser.parse_args()
    params = load_params(args.params)
    ids = [r["id"] for r in read_jsonl(args.teacher)]
    partitions = make_partitions(ids, len(params["mckd"]["parts"]), params["seed"])
    write_json(args.out, {"partitions": partitions})
    print(f"partition: {len(ids)} examples into sizes {[len(p) for p in partitions]}")


if __name__ == "__main__":
    main()
