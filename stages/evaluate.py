"""Score every method of one task and seed on its gold test split: <out>/seed<N>.json (flat, for
`dvc metrics`), seed<N>.rows.json (the table's rows, read by the aggregate stage) and
seed<N>.figures.json (the series the plots stage draws: the teacher's confidence and correctness
on each test example and, where LLKD runs, its thresholds step by step)."""

from pathlib import Path

from kdbench.errors import report_errors
from kdbench.io import read_json, read_jsonl, write_json
from kdbench.mckd import chain
from kdbench.params import load_params, stage_parser
from kdbench.report import flat_metrics
from kdbench.tasks import get_task, read_prepared

PARAMS = ("mckd", "llkd.tasks", "conf_filter.tasks")

# Students every task has, then those of optional methods: (name, what it is, its method).
STUDENTS = [
    ("sft", "SFT on the few gold labels", None),
    ("vanilla_kd", "vanilla KD (all pseudolabels)", None),
    ("conf_filter", "teacher-confidence filter", "conf_filter"),
    ("random_subset", "random subset, LLKD's size", "llkd"),
    ("llkd", "LLKD", "llkd"),
]


@report_errors
def main() -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--out", required=True, help="folder of the per-seed metrics")
    args = parser.parse_args()
    params = load_params(args.params, args.task, PARAMS)
    task = get_task(args.task)
    folder = args.dir
    prepared = read_prepared(folder)
    meta, test = prepared.meta, prepared.test
    pool_size = len(prepared.unlabeled)

    def scores(path: str) -> dict:
        return task.score_predictions(task.read_rows(path, meta), test, meta)

    def student(name: str, method: str, gold_labels: int) -> dict:
        info = read_json(f"{folder}/students/{name}/info.json")
        return {"name": name, "method": method,
                **scores(f"{folder}/students/{name}/predictions.jsonl"),
                "gold_labels": gold_labels, "train_examples": info["train_examples"],
                "wall_s": info["train_wall_s"], "peak_memory_gib": info["peak_memory_gib"],
                "pool_fraction": round(info["train_examples"] / pool_size, 4)}

    teacher = read_json(f"{folder}/teacher/info.json")
    taught = task.read_rows(f"{folder}/teacher/test.jsonl", meta)
    demos = len(teacher["demonstrations"])
    rows = [{"name": "teacher",
             "method": f"teacher ({teacher['model']}, {demos} demonstrations)",
             **task.score_predictions(taught, test, meta), "gold_labels": demos,
             "train_examples": 0, "wall_s": teacher["wall_s"],
             "peak_memory_gib": teacher["peak_memory_gib"],
             **{f"pool_label_{m}": teacher["pool_quality"][m] for m in task.metrics},
             **task.teacher_row(teacher)}]
    for name, method, outputs in task.baselines(test):
        rows.append({"name": name, "method": method, **task.score(outputs, test, meta),
                     "gold_labels": 0, "train_examples": 0})
    for name, method, optional in STUDENTS:
        if optional is not None and args.task not in params[optional]["tasks"]:
            continue
        row = student(name, method, len(prepared.labeled) if name == "sft" else demos)
        if name == "sft":
            del row["pool_fraction"]
        if name == "llkd":
            info = read_json(f"{folder}/students/llkd/info.json")
            row.update(train_examples=info["unique_selected"],
                       unique_selected_fraction=info["unique_selected_fraction"],
                       mean_step_fraction=info["mean_step_fraction"])
            del row["pool_fraction"]
        rows.append(row)

    # MCKD: a row per final student (wall time summed over its chain of pair stages) and the
    # per-stage curve: pool labels against the kept-aside gold, pair students on test.
    mckd, primary = params["mckd"], task.metrics[0]
    for final in mckd["finals"]:
        stages = chain(final["labels"], mckd["pair_stages"])
        relabels = [read_json(f"{folder}/mckd/{s['id']}/info.json") for s in stages]
        row = student(final["id"], f"MCKD, {len(stages) + 1} stages", demos)
        row["wall_s"] = round(row["wall_s"] + sum(r["students_train_wall_s"] for r in relabels), 2)
        row["peak_memory_gib"] = max([row["peak_memory_gib"]]
                                     + [r["students_peak_memory_gib"] for r in relabels])
        rows.append({**row, "stages": len(stages) + 1})
    curve = []
    for stage in mckd["pair_stages"]:
        relabel = read_json(f"{folder}/mckd/{stage['id']}/info.json")
        parts = sorted(Path(f"{folder}/mckd/{stage['id']}/students").glob("p*"))
        pair = [scores(f"{p}/test_predictions.jsonl")[primary] for p in parts]
        curve.append({"name": f"mckd_{stage['id']}", "method": f"MCKD pair stage {stage['id']}",
                      **{k: v for k, v in relabel.items() if not k.startswith("students_")},
                      f"pair_test_{primary}": round(sum(pair) / len(pair), 4)})

    supervised = student("supervised", "supervised on all gold (upper bound)", 0)
    del supervised["pool_fraction"]
    rows.append({**supervised, "gold_labels": supervised["train_examples"]})
    setup = {"seed": args.seed, "task": args.task, "metrics": list(task.metrics),
             "labeled": len(prepared.labeled), "unlabeled": pool_size, "test": len(test),
             "student": read_json(f"{folder}/students/sft/info.json")["model"], **meta}
    write_json(f"{args.out}/seed{args.seed}.rows.json",
               {"setup": setup, "rows": rows, "curve": curve})
    write_json(f"{args.out}/seed{args.seed}.json", flat_metrics(rows + curve))
    gold = {r["id"]: r for r in test}
    figures = {"teacher_test": [{"confidence": task.confidence(r),
                                 "correct": task.correct(r[task.output], gold[r["id"]])}
                                for r in taught]}
    if args.task in params["llkd"]["tasks"]:
        figures["llkd_selection"] = [
            {"step": e["step"], "teacher_threshold": e["teacher_threshold"],
             "student_threshold": e["student_threshold"],
             "selected_fraction": round(len(e["selected"]) / e["batch"], 4)}
            for e in read_jsonl(f"{folder}/students/llkd/selection_log.jsonl")]
    write_json(f"{args.out}/seed{args.seed}.figures.json", figures)
    print(f"evaluate: {args.task} seed {args.seed}: " + ", ".join(
        f"{r['name']} {r[primary]:.3f}" for r in rows))


if __name__ == "__main__":
    main()
