"""Average every method of a task over the seeds: metrics/<task>.json (flat: `<row>_<metric>` is
the mean, `<row>_<metric>_std` the std; read by `dvc exp show` and the regression gate) and
metrics/<task>.md (the mean ± std table)."""

from kdbench.errors import KDBenchError, report_errors
from kdbench.io import read_json, write_json, write_text
from kdbench.params import load_params, stage_parser
from kdbench.report import aggregate, flat_metrics, markdown_table, mean_std
from kdbench.tasks import get_task

PARAMS = ("seeds",)

TITLES = {"accuracy": "accuracy", "macro_f1": "macro-F1", "sentence_f1": "sentence F1",
          "corpus_f1": "corpus F1", "chunk_f1": "chunk F1", "exact_match": "exact match"}


def usage(row: dict) -> str:
    if "mean_step_fraction" in row:
        return (f"{row['unique_selected_fraction']:.1%} unique, "
                f"{row['mean_step_fraction']:.1%}/step")
    return f"{row['pool_fraction']:.1%}" if "pool_fraction" in row else "-"


@report_errors
def main() -> None:
    parser = stage_parser(__doc__, seed=False)
    parser.add_argument("--seeds-dir", required=True, help="the evaluate stages' output folder")
    parser.add_argument("--out", required=True, help="the table's path without suffix")
    args = parser.parse_args()
    params = load_params(args.params, args.task, PARAMS)
    task = get_task(args.task)
    runs = []
    for seed in params["seeds"]:
        try:
            runs.append(read_json(f"{args.seeds_dir}/seed{seed}.rows.json"))
        except KDBenchError:
            raise KDBenchError(f"aggregate: no evaluation for seed {seed} in {args.seeds_dir}; "
                               "run its evaluate stage first (dvc repro)") from None
    rows = aggregate([run["rows"] for run in runs])
    curve = aggregate([run["curve"] for run in runs])
    setup = runs[0]["setup"]
    metrics = setup["metrics"]
    primary = metrics[0]
    table = markdown_table(
        [{**r, **{m: mean_std(r, m) for m in metrics},
          "train_examples": round(r["train_examples"]), "data_usage": usage(r)} for r in rows],
        [("method", "method"), *((m, TITLES[m]) for m in metrics),
         ("gold_labels", "gold labels"), ("train_examples", "train examples"),
         ("data_usage", "pool used"), ("wall_s", "wall s"), ("peak_memory_gib", "peak GiB"),
         ("seeds", "seeds")])
    stage_columns = [f"previous_label_{primary}", f"label_{primary}", "changed_fraction",
                     f"pair_test_{primary}"]
    curve_table = markdown_table(
        [{**r, **{k: mean_std(r, k) for k in stage_columns}} for r in curve],
        [("method", "MCKD stage"), (stage_columns[0], f"pool label {TITLES[primary]} before"),
         (stage_columns[1], f"pool label {TITLES[primary]} after"),
         ("changed_fraction", "labels changed"),
         (stage_columns[3], f"pair students' test {TITLES[primary]}")])
    described = task.describe(setup, rows[0])
    text = (f"Seeds {params['seeds']} (mean ± sample std over {len(runs)}; each seed draws its own "
            f"split, demonstrations and training order). {described} Wall s: mean seconds of "
            f"training (teacher: labeling) per seed; peak GiB: the largest resident memory of the "
            f"stages behind a row.\n\n{table}\n\n"
            f"MCKD per stage (pool labels scored against the kept-aside gold, analysis only):\n\n"
            f"{curve_table}\n")
    write_json(f"{args.out}.json", {**flat_metrics(rows + curve), "seeds": len(runs)})
    write_text(f"{args.out}.md", text)
    print(text)


if __name__ == "__main__":
    main()
