"""MCKD: the new labels of a stage, each example labeled by the students that did not train on
it; they replace the previous labels. Also scores them against the kept-aside gold (analysis)."""

from kdbench.errors import report_errors
from kdbench.io import read_json, read_jsonl, read_labeled, write_json, write_jsonl
from kdbench.mckd import average_probs, combine_relabels, most_confident
from kdbench.params import load_params, stage_parser
from kdbench.tasks import get_task


def relabel_classification(seed_dir: str, out: str, previous_path: str,
                           partitions: list[list[str]]) -> tuple[list[dict], dict]:
    labels = read_json(f"{seed_dir}/prepared/labels.json")["labels"]
    previous = read_labeled(previous_path, labels)
    predictions = {k: read_labeled(f"{out}/students/p{k}/predictions.jsonl", labels)
                   for k in range(len(partitions))}
    new = combine_relabels(partitions, predictions, average_probs)
    rows = [{"id": row["id"], "text": row["text"], "label": labels[int(new[row["id"]].argmax())],
             "probs": [round(float(p), 6) for p in new[row["id"]]]} for row in previous]
    gold = {r["id"]: r["gold"] for r in read_jsonl(f"{seed_dir}/prepared/unlabeled.jsonl")}

    def accuracy(labeled: list[dict]) -> float:
        return round(sum(r["label"] == gold[r["id"]] for r in labeled) / len(labeled), 4)

    info = {"label_accuracy": accuracy(rows), "previous_label_accuracy": accuracy(previous),
            "changed_fraction": round(sum(a["label"] != b["label"] for a, b in
                                          zip(rows, previous, strict=True)) / len(rows), 4)}
    return rows, info


def relabel_sequence(task_name: str, seed_dir: str, out: str, previous_path: str,
                     partitions: list[list[str]]) -> tuple[list[dict], dict]:
    task = get_task(task_name)
    previous = read_jsonl(previous_path)
    predictions = {k: read_jsonl(f"{out}/students/p{k}/predictions.jsonl")
                   for k in range(len(partitions))}
    new = combine_relabels(partitions, predictions, most_confident)
    rows = [{"id": r["id"], "words": r["words"], "target": new[r["id"]]["output"],
             "confidence": new[r["id"]]["confidence"]} for r in previous]
    gold = {r["id"]: {**r, "target": r["gold"]}
            for r in read_jsonl(f"{seed_dir}/prepared/unlabeled.jsonl")}
    gold_rows = [gold[r["id"]] for r in rows]
    after = task.score([r["target"] for r in rows], gold_rows)
    before = task.score([r["target"] for r in previous], gold_rows)
    info = {**{f"label_{m}": after[m] for m in task.metrics},
            **{f"previous_label_{m}": before[m] for m in task.metrics},
            "changed_fraction": round(sum(a["target"] != b["target"] for a, b in
                                          zip(rows, previous, strict=True)) / len(rows), 4)}
    return rows, info


@report_errors
def main() -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--stage", required=True, help="the pair stage's id: mckd/<stage>/")
    parser.add_argument("--labels", required=True,
                        help="trainset with the previous labels, inside --dir")
    args = parser.parse_args()
    params = load_params(args.params)  # every stage refuses a bad params.yaml before any work
    partitions = read_json(f"{args.dir}/mckd/partitions.json")["partitions"]
    out = f"{args.dir}/mckd/{args.stage}"
    previous = f"{args.dir}/{args.labels}"
    if args.benchmark == "sequence":
        rows, info = relabel_sequence(params["sequence"]["task"], args.dir, out, previous,
                                      partitions)
    else:
        rows, info = relabel_classification(args.dir, out, previous, partitions)
    students = [read_json(f"{out}/students/p{k}/info.json") for k in range(len(partitions))]
    info["students_train_wall_s"] = round(sum(s["train_wall_s"] for s in students), 2)
    info["students_peak_memory_gib"] = max(s["peak_memory_gib"] for s in students)
    write_jsonl(f"{out}/labels.jsonl", rows)
    write_json(f"{out}/info.json", info)
    print(f"relabel: {out}: {info}")


if __name__ == "__main__":
    main()
