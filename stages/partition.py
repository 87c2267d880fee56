"""MCKD: split the pseudolabeled pool once into K disjoint partitions, reused at every stage."""

from kdbench.errors import report_errors
from kdbench.io import read_jsonl, write_json
from kdbench.mckd import make_partitions
from kdbench.params import load_params, stage_parser

PARAMS = ("mckd.parts",)


@report_errors
def main() -> None:
    args = stage_parser(__doc__).parse_args()
    params = load_params(args.params, args.task, PARAMS)
    ids = [r["id"] for r in read_jsonl(f"{args.dir}/trainsets/vanilla_kd.jsonl")]
    partitions = make_partitions(ids, len(params["mckd"]["parts"]), args.seed)
    write_json(f"{args.dir}/mckd/partitions.json", {"partitions": partitions})
    print(f"partition: {len(ids)} examples into sizes {[len(p) for p in partitions]}")


if __name__ == "__main__":
    main()
