"""Train one student on a trainset (gold, pseudolabeled or a subset) and predict the test split."""

import argparse

from kdbench.errors import report_errors
from kdbench.io import read_json, read_jsonl, read_labeled, write_json, write_jsonl
from kdbench.params import load_params
from kdbench.student import fit_and_predict


@report_errors
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--prepared", default="data/prepared")
    parser.add_argument("--trainset", required=True, help="JSONL rows {id, text, label}")
    parser.add_argument("--epochs", type=int, required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    params = load_params(args.params)
    labels = read_json(f"{args.prepared}/labels.json")["labels"]
    train_rows = read_labeled(args.trainset, labels)
    test = read_jsonl(f"{args.prepared}/test.jsonl")
    predictions, info = fit_and_predict(train_rows, labels, params["student"], args.epochs,
                                        params["seed"], {"test": test})
    write_jsonl(f"{args.out}/predictions.jsonl", predictions["test"])
    write_json(f"{args.out}/info.json", {"trainset": args.trainset, **info})
    print(f"train_student: {args.out}: {info}")


if __name__ == "__main__":
    main()
