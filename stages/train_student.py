"""Train one student on a method's trainset (gold, pseudolabeled or a subset) and predict the test
split. The trainset is trainsets/<method>.jsonl in the seed's folder, unless --trainset names one
(MCKD's final students train on a pair stage's labels)."""

from kdbench.errors import report_errors
from kdbench.io import read_json, read_jsonl, read_labeled, write_json, write_jsonl
from kdbench.params import load_params, stage_parser
from kdbench.student import fit_and_predict


@report_errors
def main() -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--method", required=True, help="the student's name: students/<method>")
    parser.add_argument("--trainset", help="JSONL rows {id, text, label}, inside --dir")
    args = parser.parse_args()
    params = load_params(args.params)
    # The few-gold baseline sees 50 examples: it gets its own, larger number of passes.
    epochs = params["sft"]["epochs"] if args.method == "sft" else params["student"]["epochs"]
    trainset = args.trainset or f"trainsets/{args.method}.jsonl"
    labels = read_json(f"{args.dir}/prepared/labels.json")["labels"]
    train_rows = read_labeled(f"{args.dir}/{trainset}", labels)
    test = read_jsonl(f"{args.dir}/prepared/test.jsonl")
    predictions, info = fit_and_predict(train_rows, labels, params["student"], epochs, args.seed,
                                        {"test": test})
    out = f"{args.dir}/students/{args.method}"
    write_jsonl(f"{out}/predictions.jsonl", predictions["test"])
    write_json(f"{out}/info.json", {"trainset": trainset, **info})
    print(f"train_student: {out}: {info}")


if __name__ == "__main__":
    main()
