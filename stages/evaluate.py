"""Score every method of one seed on its gold test split: metrics/seeds/seed<N>.json (flat, for
`dvc metrics`) and seed<N>.rows.json (the table's rows, read by the aggregate stage)."""

from pathlib import Path

from kdbench.errors import report_errors
from kdbench.io import read_json, read_jsonl, read_labeled, write_json
from kdbench.metrics import classification_scores
from kdbench.params import load_params, stage_parser
from kdbench.report import flat_metrics
from kdbench.teacher import COLLAPSE_FRACTION

STUDENT_ROWS = [  # (name, what it is)
    ("sft", "SFT on the few gold labels"),
    ("vanilla_kd", "vanilla KD (all pseudolabels)"),
    ("conf_filter", "teacher-confidence filter"),
    ("random_subset", "random subset, LLKD's size"),
    ("llkd", "LLKD"),
]


@report_errors
def main() -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--out", default="metrics/seeds")
    args = parser.parse_args()
    params = load_params(args.params)
    teacher, students, mckd = (f"{args.dir}/{name}" for name in ("teacher", "students", "mckd"))
    prepared = read_json(f"{args.dir}/prepared/labels.json")
    labels = prepared["labels"]
    gold = {r["id"]: r["label"] for r in read_jsonl(f"{args.dir}/prepared/test.jsonl")}
    pool_size = params["data"]["n_unlabeled"]
    teacher_info = read_json(f"{teacher}/info.json")
    demos = len(teacher_info["demonstrations"])

    def scores(path: str) -> dict:
        predicted = {r["id"]: r["label"] for r in read_labeled(path, labels)}
        ids = sorted(gold)
        return classification_scores([gold[i] for i in ids], [predicted[i] for i in ids], labels)

    rows = [{"name": "teacher", "method": f"teacher ({params['teacher']['model']}, "
             f"{params['teacher']['shots_per_class']} shots/class)",
             **scores(f"{teacher}/test.jsonl"), "gold_labels": demos,
             "train_examples": 0, "wall_s": teacher_info["wall_s"],
             "pool_label_accuracy": teacher_info["pool_accuracy"],
             "dev_accuracy": teacher_info["dev_accuracy_calibrated" if teacher_info["calibrated"]
                                          else "dev_accuracy_uncalibrated"],
             "majority_label_fraction": teacher_info["majority_label_fraction"],
             "collapsed": int(teacher_info["majority_label_fraction"] > COLLAPSE_FRACTION)}]
    for name, method in STUDENT_ROWS:
        info = read_json(f"{students}/{name}/info.json")
        predictions = f"{students}/{name}/predictions.jsonl"
        row = {"name": name, "method": method, **scores(predictions),
               "gold_labels": params["data"]["n_labeled"] if name == "sft" else demos,
               "train_examples": info["train_examples"], "wall_s": info["train_wall_s"]}
        if name == "llkd":
            row["train_examples"] = info["unique_selected"]
            row["unique_selected_fraction"] = info["unique_selected_fraction"]
            row["mean_step_fraction"] = info["mean_step_fraction"]
        elif name != "sft":
            row["pool_fraction"] = round(info["train_examples"] / pool_size, 4)
        rows.append(row)

    curve = []
    pair_by_labels = {f"mckd/{s['id']}/labels.jsonl": s for s in params["mckd"]["pair_stages"]}
    for final in params["mckd"]["finals"]:
        info = read_json(f"{students}/{final['id']}/info.json")
        wall, stages, path = info["train_wall_s"], 1, final["labels"]
        while path in pair_by_labels:  # walk back the chain of pair stages to the teacher
            stage = pair_by_labels[path]
            wall += read_json(f"{mckd}/{stage['id']}/info.json")["students_train_wall_s"]
            stages, path = stages + 1, stage["labels"]
        rows.append({"name": final["id"], "method": f"MCKD, {stages} stages",
                     **scores(f"{students}/{final['id']}/predictions.jsonl"),
                     "gold_labels": demos, "train_examples": info["train_examples"],
                     "pool_fraction": round(info["train_examples"] / pool_size, 4),
                     "wall_s": round(wall, 2), "stages": stages})
    for stage in params["mckd"]["pair_stages"]:
        relabel = read_json(f"{mckd}/{stage['id']}/info.json")
        parts = sorted(Path(f"{mckd}/{stage['id']}/students").glob("p*"))
        pair = [scores(f"{p}/test_predictions.jsonl")["accuracy"] for p in parts]
        curve.append({"name": f"mckd_{stage['id']}", "method": f"MCKD pair stage {stage['id']}",
                      "label_accuracy": relabel["label_accuracy"],
                      "previous_label_accuracy": relabel["previous_label_accuracy"],
                      "changed_fraction": relabel["changed_fraction"],
                      "pair_test_accuracy": round(sum(pair) / len(pair), 4)})

    info = read_json(f"{students}/supervised/info.json")
    rows.append({"name": "supervised", "method": "supervised on all gold (upper bound)",
                 **scores(f"{students}/supervised/predictions.jsonl"),
                 "gold_labels": info["train_examples"], "train_examples": info["train_examples"],
                 "wall_s": info["train_wall_s"]})

    setup = {"seed": args.seed, "labeled": params["data"]["n_labeled"], "unlabeled": pool_size,
             "test": len(gold), "student": params["student"]["model"],
             "dropped_duplicates": prepared.get("dropped_duplicates", 0)}
    write_json(f"{args.out}/seed{args.seed}.rows.json",
               {"setup": setup, "rows": rows, "curve": curve})
    write_json(f"{args.out}/seed{args.seed}.json", flat_metrics(rows + curve))
    print(f"evaluate: seed {args.seed}: " + ", ".join(
        f"{r['name']} {r['accuracy']:.3f}" for r in rows))


if __name__ == "__main__":
    main()
