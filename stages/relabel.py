"""MCKD: the new labels of a stage, each example labeled by the students that did not train on
it; they replace the previous labels. Also scores them against the kept-aside gold (analysis)."""

from kdbench.errors import report_errors
from kdbench.io import read_json, read_jsonl, read_labeled, write_json, write_jsonl
from kdbench.mckd import combine_relabels
from kdbench.params import load_params, stage_parser


@report_errors
def main() -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--stage", required=True, help="the pair stage's id: mckd/<stage>/")
    parser.add_argument("--labels", required=True,
                        help="trainset with the previous labels, inside --dir")
    args = parser.parse_args()
    load_params(args.params)  # every stage refuses a bad params.yaml before doing any work
    labels = read_json(f"{args.dir}/prepared/labels.json")["labels"]
    previous = read_labeled(f"{args.dir}/{args.labels}", labels)
    partitions = read_json(f"{args.dir}/mckd/partitions.json")["partitions"]
    out = f"{args.dir}/mckd/{args.stage}"
    predictions = {k: read_labeled(f"{out}/students/p{k}/predictions.jsonl", labels)
                   for k in range(len(partitions))}
    new = combine_relabels(partitions, predictions)
    rows = []
    for row in previous:
        probs = new[row["id"]]
        rows.append({"id": row["id"], "text": row["text"], "label": labels[int(probs.argmax())],
                     "probs": [round(float(p), 6) for p in probs]})
    gold = {r["id"]: r["gold"] for r in read_jsonl(f"{args.dir}/prepared/unlabeled.jsonl")}
    students = [read_json(f"{out}/students/p{k}/info.json") for k in range(len(partitions))]
    info = {
        "label_accuracy": round(sum(r["label"] == gold[r["id"]] for r in rows) / len(rows), 4),
        "previous_label_accuracy": round(
            sum(r["label"] == gold[r["id"]] for r in previous) / len(previous), 4),
        "changed_fraction": round(
            sum(a["label"] != b["label"] for a, b in zip(rows, previous, strict=True))
            / len(rows), 4),
        "students_train_wall_s": round(sum(s["train_wall_s"] for s in students), 2),
    }
    write_jsonl(f"{out}/labels.jsonl", rows)
    write_json(f"{out}/info.json", info)
    print(f"relabel: {out}: {info}")


if __name__ == "__main__":
    main()
