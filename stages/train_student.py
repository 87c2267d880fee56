"""Train one student on a method's trainset (gold, pseudolabeled or a subset) and predict the test
split. The trainset is trainsets/<method>.jsonl in the seed's folder, unless --trainset names one
(MCKD's final students train on a pair stage's labels)."""

from kdbench.benchmarks import epochs, fit_and_predict_any, read_trainset
from kdbench.errors import peak_memory_gib, report_errors
from kdbench.io import read_jsonl, write_json, write_jsonl
from kdbench.params import load_params, stage_parser


@report_errors
def main() -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--method", required=True, help="the student's name: students/<method>")
    parser.add_argument("--trainset", help="JSONL trainset inside --dir: rows {id, text, label} "
                        "(classification) or {id, words, target} (sequence)")
    args = parser.parse_args()
    params = load_params(args.params)
    trainset = args.trainset or f"trainsets/{args.method}.jsonl"
    train_rows = read_trainset(args.benchmark, args.dir, trainset)
    test = read_jsonl(f"{args.dir}/prepared/test.jsonl")
    n_epochs = epochs(params, args.benchmark, args.method)
    predictions, info = fit_and_predict_any(params, args.benchmark, args.dir, train_rows, n_epochs,
                                            args.seed, {"test": test})
    out = f"{args.dir}/students/{args.method}"
    write_jsonl(f"{out}/predictions.jsonl", predictions["test"])
    write_json(f"{out}/info.json", {"trainset": trainset, **info,
                                     "peak_memory_gib": peak_memory_gib()})
    print(f"train_student: {out}: {info}")


if __name__ == "__main__":
    main()
