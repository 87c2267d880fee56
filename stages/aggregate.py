"""Average every method over the seeds: metrics/classification.json (flat: `<row>_<metric>` is the
mean, `<row>_<metric>_std` the std; read by `dvc exp show` and the regression gate) and
metrics/classification.md (mean ± std table, the README's results)."""

import argparse

from kdbench.errors import KDBenchError, report_errors
from kdbench.io import read_json, write_json, write_text
from kdbench.params import load_params
from kdbench.report import aggregate, flat_metrics, markdown_table, mean_std


def usage(row: dict) -> str:
    if "mean_step_fraction" in row:
        return (f"{row['unique_selected_fraction']:.1%} unique, "
                f"{row['mean_step_fraction']:.1%}/step")
    return f"{row['pool_fraction']:.1%}" if "pool_fraction" in row else "-"


@report_errors
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--seeds-dir", default="metrics/seeds")
    parser.add_argument("--out", default="metrics")
    args = parser.parse_args()
    params = load_params(args.params)
    runs = []
    for seed in params["seeds"]:
        try:
            runs.append(read_json(f"{args.seeds_dir}/seed{seed}.rows.json"))
        except KDBenchError:
            raise KDBenchError(f"aggregate: no evaluation for seed {seed} in {args.seeds_dir}; "
                               "run its evaluate stage first (dvc repro)") from None
    rows = aggregate([run["rows"] for run in runs])
    curve = aggregate([run["curve"] for run in runs])
    table = markdown_table(
        [{**r, "accuracy": mean_std(r, "accuracy"), "macro_f1": mean_std(r, "macro_f1"),
          "train_examples": round(r["train_examples"]), "data_usage": usage(r)} for r in rows],
        [("method", "method"), ("accuracy", "accuracy"), ("macro_f1", "macro-F1"),
         ("gold_labels", "gold labels"), ("train_examples", "train examples"),
         ("data_usage", "pool used"), ("wall_s", "wall s"), ("seeds", "seeds")])
    curve_table = markdown_table(
        [{**r, **{k: mean_std(r, k) for k in ("previous_label_accuracy", "label_accuracy",
                                             "changed_fraction", "pair_test_accuracy")}}
         for r in curve],
        [("method", "MCKD stage"), ("previous_label_accuracy", "pool label acc. before"),
         ("label_accuracy", "pool label acc. after"), ("changed_fraction", "labels changed"),
         ("pair_test_accuracy", "pair students' test acc.")])
    setup = runs[0]["setup"]
    teacher = rows[0]
    text = (f"Seeds {params['seeds']} (mean ± sample std over {len(runs)}; each seed draws its own "
            f"split, demonstrations and training order). Per seed: {setup['labeled']} labeled, "
            f"{setup['unlabeled']} unlabeled, {setup['test']} test; student {setup['student']}; "
            f"{setup['dropped_duplicates']} duplicate texts dropped before splitting. Teacher "
            f"accuracy on the labeled pool minus its demonstrations (dev): "
            f"{mean_std(teacher, 'dev_accuracy')}. Wall s: mean seconds of training (teacher: "
            f"labeling) per seed.\n\n{table}\n\nMCKD per stage (pool labels scored against the "
            f"kept-aside gold, analysis only):\n\n{curve_table}\n")
    write_json(f"{args.out}/classification.json",
               {**flat_metrics(rows + curve), "seeds": len(runs)})
    write_text(f"{args.out}/classification.md", text)
    print(text)


if __name__ == "__main__":
    main()
