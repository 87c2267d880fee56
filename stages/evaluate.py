"""Score every method on the gold test split; write metrics/*.json and a markdown table."""

import argparse
from pathlib import Path

from kdbench.errors import report_errors
from kdbench.io import read_json, read_jsonl, read_labeled, write_json, write_text
from kdbench.metrics import classification_scores
from kdbench.params import load_params
from kdbench.report import flat_metrics, markdown_table
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
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--prepared", default="data/prepared")
    parser.add_argument("--teacher", default="data/teacher")
    parser.add_argument("--students", default="data/students")
    parser.add_argument("--mckd", default="data/mckd")
    parser.add_argument("--out", default="metrics")
    args = parser.parse_args()
    params = load_params(args.params)
    prepared = read_json(f"{args.prepared}/labels.json")
    labels = prepared["labels"]
    gold = {r["id"]: r["label"] for r in read_jsonl(f"{args.prepared}/test.jsonl")}
    pool_size = params["data"]["n_unlabeled"]
    teacher_info = read_json(f"{args.teacher}/info.json")
    demos = len(teacher_info["demonstrations"])

    def scores(path: str) -> dict:
        predicted = {r["id"]: r["label"] for r in read_labeled(path, labels)}
        ids = sorted(gold)
        return classification_scores([gold[i] for i in ids], [predicted[i] for i in ids], labels)

    rows = [{"name": "teacher", "method": f"teacher ({params['teacher']['model']}, "
             f"{params['teacher']['shots_per_class']} shots/class)",
             **scores(f"{args.teacher}/test.jsonl"), "gold_labels": demos,
             "train_examples": 0, "wall_s": teacher_info["wall_s"],
             "pool_label_accuracy": teacher_info["pool_accuracy"],
             "dev_accuracy": teacher_info["dev_accuracy_calibrated" if teacher_info["calibrated"]
                                          else "dev_accuracy_uncalibrated"],
             "majority_label_fraction": teacher_info["majority_label_fraction"],
             "collapsed": int(teacher_info["majority_label_fraction"] > COLLAPSE_FRACTION)}]
    for name, method in STUDENT_ROWS:
        info = read_json(f"{args.students}/{name}/info.json")
        predictions = f"{args.students}/{name}/predictions.jsonl"
        row = {"name": name, "method": method, **scores(predictions),
               "gold_labels": params["data"]["n_labeled"] if name == "sft" else demos,
               "train_examples": info["train_examples"], "wall_s": info["train_wall_s"]}
        if name == "llkd":
            row["train_examples"] = info["unique_selected"]
            row["unique_selected_fraction"] = info["unique_selected_fraction"]
            row["mean_step_fraction"] = info["mean_step_fraction"]
            row["data_usage"] = (f"{info['unique_selected_fraction']:.1%} unique, "
                                 f"{info['mean_step_fraction']:.1%}/step")
        elif name != "sft":
            row["data_usage"] = f"{info['train_examples'] / pool_size:.1%}"
        rows.append(row)

    curve = []
    pair_by_labels = {f"{args.mckd}/{s['id']}/labels.jsonl": s
                      for s in params["mckd"]["pair_stages"]}
    for final in params["mckd"]["finals"]:
        info = read_json(f"{args.students}/{final['id']}/info.json")
        wall, stages, path = info["train_wall_s"], 1, final["labels"]
        while path in pair_by_labels:  # walk back the chain of pair stages to the teacher
            stage = pair_by_labels[path]
            wall += read_json(f"{args.mckd}/{stage['id']}/info.json")["students_train_wall_s"]
            stages, path = stages + 1, stage["labels"]
        rows.append({"name": final["id"], "method": f"MCKD, {stages} stages",
                     **scores(f"{args.students}/{final['id']}/predictions.jsonl"),
                     "gold_labels": demos, "train_examples": info["train_examples"],
                     "data_usage": f"{info['train_examples'] / pool_size:.1%}",
                     "wall_s": round(wall, 2), "stages": stages})
    for stage in params["mckd"]["pair_stages"]:
        relabel = read_json(f"{args.mckd}/{stage['id']}/info.json")
        parts = sorted(Path(f"{args.mckd}/{stage['id']}/students").glob("p*"))
        pair = [scores(f"{p}/test_predictions.jsonl")["accuracy"] for p in parts]
        curve.append({"name": f"mckd_{stage['id']}", "method": f"MCKD pair stage {stage['id']}",
                      "label_accuracy": relabel["label_accuracy"],
                      "previous_label_accuracy": relabel["previous_label_accuracy"],
                      "changed_fraction": relabel["changed_fraction"],
                      "pair_test_accuracy": round(sum(pair) / len(pair), 4)})

    info = read_json(f"{args.students}/supervised/info.json")
    rows.append({"name": "supervised", "method": "supervised on all gold (upper bound)",
                 **scores(f"{args.students}/supervised/predictions.jsonl"),
                 "gold_labels": info["train_examples"], "train_examples": info["train_examples"],
                 "wall_s": info["train_wall_s"]})

    table = markdown_table(rows)
    curve_table = markdown_table(curve, [
        ("method", "MCKD stage"), ("previous_label_accuracy", "pool label acc. before"),
        ("label_accuracy", "pool label acc. after"), ("changed_fraction", "labels changed"),
        ("pair_test_accuracy", "pair students' test acc.")])
    setup = (f"BBC-style split: {params['data']['n_labeled']} labeled, {pool_size} unlabeled, "
             f"{len(gold)} test; seed {params['seed']}; student {params['student']['model']}; "
             f"{prepared.get('dropped_duplicates', 0)} duplicate texts dropped before splitting. "
             f"Teacher accuracy on the labeled pool minus its demonstrations (dev): "
             f"{rows[0]['dev_accuracy']}.")
    write_json(f"{args.out}/classification.json", flat_metrics(rows + curve))
    write_text(f"{args.out}/classification.md",
               f"{setup}\n\n{table}\n\nMCKD per stage (pool labels scored against the kept-aside "
               f"gold, analysis only):\n\n{curve_table}\n")
    print(table)
    print(curve_table)


if __name__ == "__main__":
    main()
