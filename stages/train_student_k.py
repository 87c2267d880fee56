"""MCKD pair stage: train a fresh student on partition k's current labels, then label every
partition it did not see (and the test split, for the per-stage curve)."""

from kdbench.benchmarks import epochs, fit_and_predict_any, read_trainset
from kdbench.errors import peak_memory_gib, report_errors
from kdbench.io import read_json, read_jsonl, write_json, write_jsonl
from kdbench.mckd import unseen_ids
from kdbench.params import load_params, stage_parser


@report_errors
def main() -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--stage", required=True, help="the pair stage's id: mckd/<stage>/")
    parser.add_argument("--labels", required=True,
                        help="trainset with the previous stage's labels, inside --dir")
    parser.add_argument("--part", type=int, required=True)
    args = parser.parse_args()
    params = load_params(args.params)
    by_id = {r["id"]: r for r in read_trainset(args.benchmark, args.dir, args.labels)}
    partitions = read_json(f"{args.dir}/mckd/partitions.json")["partitions"]
    train_rows = [by_id[i] for i in partitions[args.part]]
    others = [by_id[i] for i in unseen_ids(partitions, args.part)]
    test = read_jsonl(f"{args.dir}/prepared/test.jsonl")
    predictions, info = fit_and_predict_any(params, args.benchmark, args.dir, train_rows,
                                            epochs(params, args.benchmark, "mckd"), args.seed,
                                            {"unseen": others, "test": test})
    out = f"{args.dir}/mckd/{args.stage}/students/p{args.part}"
    write_jsonl(f"{out}/predictions.jsonl", predictions["unseen"])
    write_jsonl(f"{out}/test_predictions.jsonl", predictions["test"])
    write_json(f"{out}/info.json", {"part": args.part, **info,
                                     "peak_memory_gib": peak_memory_gib()})
    print(f"train_student_k: part {args.part}: {info}")


if __name__ == "__main__":
    main()
