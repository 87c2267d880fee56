"""Score every method of one seed on its gold test split: <out>/seed<N>.json (flat, for
`dvc metrics`) and seed<N>.rows.json (the table's rows, read by the aggregate stage)."""

from collections.abc import Callable
from pathlib import Path

from kdbench.errors import report_errors
from kdbench.io import read_json, read_jsonl, read_labeled, write_json
from kdbench.mckd import chain
from kdbench.metrics import classification_scores
from kdbench.params import load_params, stage_parser
from kdbench.report import flat_metrics
from kdbench.tasks import get_task
from kdbench.teacher import COLLAPSE_FRACTION

STUDENT_ROWS = {  # name: what it is, per benchmark
    "classification": [
        ("sft", "SFT on the few gold labels"),
        ("vanilla_kd", "vanilla KD (all pseudolabels)"),
        ("conf_filter", "teacher-confidence filter"),
        ("random_subset", "random subset, LLKD's size"),
        ("llkd", "LLKD"),
    ],
    "sequence": [
        ("sft", "SFT on the few gold labels"),
        ("vanilla_kd", "vanilla KD (1 stage)"),
    ],
}


def mckd_rows(mckd: dict, seed_dir: str, score: Callable[[str], dict], primary: str,
              base: dict) -> tuple[list[dict], list[dict]]:
    """A row per MCKD final student (wall time summed over its chain of pair stages) and the
    per-stage curve: pool labels against the kept-aside gold, pair students on test."""
    rows, curve = [], []
    for final in mckd["finals"]:
        info = read_json(f"{seed_dir}/students/{final['id']}/info.json")
        stages = chain(final["labels"], mckd["pair_stages"])
        relabels = [read_json(f"{seed_dir}/mckd/{s['id']}/info.json") for s in stages]
        wall = info["train_wall_s"] + sum(r["students_train_wall_s"] for r in relabels)
        peak = max([info["peak_memory_gib"]] + [r["students_peak_memory_gib"] for r in relabels])
        rows.append({"name": final["id"], "method": f"MCKD, {len(stages) + 1} stages",
                     **score(f"{seed_dir}/students/{final['id']}/predictions.jsonl"), **base,
                     "train_examples": info["train_examples"], "wall_s": round(wall, 2),
                     "peak_memory_gib": peak, "stages": len(stages) + 1})
    for stage in mckd["pair_stages"]:
        relabel = read_json(f"{seed_dir}/mckd/{stage['id']}/info.json")
        parts = sorted(Path(f"{seed_dir}/mckd/{stage['id']}/students").glob("p*"))
        pair = [score(f"{p}/test_predictions.jsonl")[primary] for p in parts]
        curve.append({"name": f"mckd_{stage['id']}", "method": f"MCKD pair stage {stage['id']}",
                      **{k: v for k, v in relabel.items() if not k.startswith("students_")},
                      f"pair_test_{primary}": round(sum(pair) / len(pair), 4)})
    return rows, curve


def evaluate_classification(params: dict, seed_dir: str) -> tuple[list[dict], list[dict], dict]:
    teacher, students = f"{seed_dir}/teacher", f"{seed_dir}/students"
    prepared = read_json(f"{seed_dir}/prepared/labels.json")
    labels = prepared["labels"]
    gold = {r["id"]: r["label"] for r in read_jsonl(f"{seed_dir}/prepared/test.jsonl")}
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
             "peak_memory_gib": teacher_info["peak_memory_gib"],
             "pool_label_accuracy": teacher_info["pool_accuracy"],
             "dev_accuracy": teacher_info["dev_accuracy_calibrated" if teacher_info["calibrated"]
                                          else "dev_accuracy_uncalibrated"],
             "majority_label_fraction": teacher_info["majority_label_fraction"],
             "collapsed": int(teacher_info["majority_label_fraction"] > COLLAPSE_FRACTION)}]
    for name, method in STUDENT_ROWS["classification"]:
        info = read_json(f"{students}/{name}/info.json")
        row = {"name": name, "method": method, **scores(f"{students}/{name}/predictions.jsonl"),
               "gold_labels": params["data"]["n_labeled"] if name == "sft" else demos,
               "train_examples": info["train_examples"], "wall_s": info["train_wall_s"],
               "peak_memory_gib": info["peak_memory_gib"]}
        if name == "llkd":
            row["train_examples"] = info["unique_selected"]
            row["unique_selected_fraction"] = info["unique_selected_fraction"]
            row["mean_step_fraction"] = info["mean_step_fraction"]
        elif name != "sft":
            row["pool_fraction"] = round(info["train_examples"] / pool_size, 4)
        rows.append(row)
    finals, curve = mckd_rows(params["mckd"], seed_dir, scores, "accuracy",
                              {"gold_labels": demos})
    for row in finals:
        row["pool_fraction"] = round(row["train_examples"] / pool_size, 4)
    rows += finals
    info = read_json(f"{students}/supervised/info.json")
    rows.append({"name": "supervised", "method": "supervised on all gold (upper bound)",
                 **scores(f"{students}/supervised/predictions.jsonl"),
                 "gold_labels": info["train_examples"], "train_examples": info["train_examples"],
                 "wall_s": info["train_wall_s"], "peak_memory_gib": info["peak_memory_gib"]})
    setup = {"metrics": ["accuracy", "macro_f1"], "labeled": params["data"]["n_labeled"],
             "unlabeled": pool_size, "test": len(gold), "student": params["student"]["model"],
             "dropped_duplicates": prepared.get("dropped_duplicates", 0)}
    return rows, curve, setup


def evaluate_sequence(params: dict, seed_dir: str) -> tuple[list[dict], list[dict], dict]:
    sequence = params["sequence"]
    task = get_task(sequence["task"])
    test = read_jsonl(f"{seed_dir}/prepared/test.jsonl")

    def score_outputs(outputs: dict[str, str | None]) -> dict:
        return task.score([outputs[r["id"]] or "" for r in test], test)

    def scores(path: str) -> dict:
        return score_outputs({r["id"]: r["output"] for r in read_jsonl(path)})

    teacher = read_json(f"{seed_dir}/teacher/info.json")
    shots = len(teacher["demonstrations"])
    decoding = "constrained" if teacher["constrained"] else "unconstrained"
    rows = [{"name": "teacher",
             "method": f"teacher ({teacher['model']}, {shots} shots, {decoding})",
             **scores(f"{seed_dir}/teacher/test.jsonl"), "gold_labels": shots,
             "train_examples": 0, "wall_s": teacher["wall_s"],
             "peak_memory_gib": teacher["peak_memory_gib"],
             **{f"pool_label_{m}": teacher["pool_quality"][m] for m in task.metrics},
             "pool_unreadable": teacher["pool_unreadable"]},
            {"name": "baseline", "method": task.baseline_name,
             **score_outputs({r["id"]: task.baseline(r["words"]) for r in test}),
             "gold_labels": 0, "train_examples": 0}]
    for name, method in STUDENT_ROWS["sequence"]:
        info = read_json(f"{seed_dir}/students/{name}/info.json")
        rows.append({"name": name, "method": method,
                     **scores(f"{seed_dir}/students/{name}/predictions.jsonl"),
                     "gold_labels": sequence["n_labeled"] if name == "sft" else shots,
                     "train_examples": info["train_examples"], "wall_s": info["train_wall_s"],
                     "peak_memory_gib": info["peak_memory_gib"]})
    finals, curve = mckd_rows(sequence["mckd"], seed_dir, scores, task.metrics[0],
                              {"gold_labels": shots})
    rows += finals
    info = read_json(f"{seed_dir}/students/supervised/info.json")
    rows.append({"name": "supervised", "method": "supervised on all gold (upper bound)",
                 **scores(f"{seed_dir}/students/supervised/predictions.jsonl"),
                 "gold_labels": info["train_examples"], "train_examples": info["train_examples"],
                 "wall_s": info["train_wall_s"], "peak_memory_gib": info["peak_memory_gib"]})
    setup = {"metrics": list(task.metrics), "task": task.name, "source": sequence["source"],
             "labeled": sequence["n_labeled"], "unlabeled": sequence["n_unlabeled"],
             "test": len(test), "student": sequence["student"]["model"]}
    return rows, curve, setup


@report_errors
def main() -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--out", default="metrics/seeds")
    args = parser.parse_args()
    params = load_params(args.params)
    evaluate = evaluate_sequence if args.benchmark == "sequence" else evaluate_classification
    rows, curve, setup = evaluate(params, args.dir)
    write_json(f"{args.out}/seed{args.seed}.rows.json",
               {"setup": {"seed": args.seed, **setup}, "rows": rows, "curve": curve})
    write_json(f"{args.out}/seed{args.seed}.json", flat_metrics(rows + curve))
    primary = setup["metrics"][0]
    print(f"evaluate: seed {args.seed}: " + ", ".join(
        f"{r['name']} {r[primary]:.3f}" for r in rows))


if __name__ == "__main__":
    main()
