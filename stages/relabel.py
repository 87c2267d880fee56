"""MCKD: the new labels of a stage, each example labeled by the students that did not train on
it; they replace the previous labels. Also scores them against the kept-aside gold (analysis)."""

import argparse

from kdbench.errors import report_errors
from kdbench.io import read_json, read_jsonl, read_labeled, write_json, write_jsonl
from kdbench.mckd import combine_relabels
from kdbench.params import load_params


@report_errors
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--prepared", default="data/prepared")
    parser.add_argument("--labels", required=True, help="trainset with the previous labels")
    parser.add_argument("--partitions", default="data/mckd/partitions.json")
    parser.add_argument("--students", required=True, help="folder of this stage's p<k> students")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    load_params(args.params)  # every stage refuses a bad params.yaml before doing any work
    labels = read_json(f"{args.prepared}/labels.json")["labels"]
    previous = read_labeled(args.labels, labels)
    partitions = read_json(args.partitions)["partitions"]
    predictions = {k: read_labeled(f"{args.students}/p{k}/predictions.jsonl", labels)
                   for k in range(len(partitions))}
    new = combine_relabels(partitions, predictions)
    rows = []
    for row in previous:
        probs = new[row["id"]]
        rows.append({"id": row["id"], "text": row["text"], "label": labels[int(probs.argmax())],
                     "probs": [round(float(p), 6) for p in probs]})
    gold = {r["id"]: r["gold"] for r in read_jsonl(f"{args.prepared}/unlabeled.jsonl")}
    students = [read_json(f"{args.students}/p{k}/info.json") for k in range(len(partitions))]
    info = {
        "label_accuracy": round(sum(r["label"] == gold[r["id"]] for r in rows) / len(rows), 4),
        "previous_label_accuracy": round(
            sum(r["label"] == gold[r["id"]] for r in previous) / len(previous), 4),
        "changed_fraction": round(
            sum(a["label"] != b["label"] for a, b in zip(rows, previous, strict=True))
            / len(rows), 4),
        "students_train_wall_s": round(sum(s["train_wall_s"] for s in students), 2),
    }
    write_jsonl(f"{args.out}/labels.jsonl", rows)
    write_json(f"{args.out}/info.json", info)
    print(f"relabel: {args.out}: {info}")


if __name__ == "__main__":
    main()
