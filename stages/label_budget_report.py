"""The label-budget sweep's report: test accuracy (mean ± std over seeds) at every gold budget
of students on gold alone and on gold + pseudolabels, beside the methods that use only the
teacher's demonstrations (teacher, vanilla KD, LLKD, MCKD: their numbers come from the
classification aggregate and do not change with the budget), and at which budgets each beats gold
alone. Writes <out>/label_budget.json (flat, for `dvc exp show` and the gate), label_budget.md,
and the figure <out>/plots/label_budget.png with its series for `dvc plots`."""

import argparse

from kdbench.errors import KDBenchError, report_errors
from kdbench.io import read_json, write_json, write_text
from kdbench.label_budget import budget_curves, budget_table
from kdbench.params import load_params
from kdbench.plots import plot_label_budget
from kdbench.report import aggregate, flat_metrics


@report_errors
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--cells", default="metrics/label_budget",
                        help="the label_budget stages' rows, seed<N>_b<size>.json")
    parser.add_argument("--metrics", default="metrics/classification.json")
    parser.add_argument("--out", default="metrics")
    args = parser.parse_args()
    params = load_params(args.params)
    sizes = params["label_budget"]["sizes"]
    per_seed = []
    for seed in params["seeds"]:
        rows = []
        for size in sizes:
            path = f"{args.cells}/seed{seed}_b{size}.json"
            try:
                cell = read_json(path)
            except KDBenchError:
                raise KDBenchError(f"label_budget_report: no {path}; run its label_budget stage "
                                   "first (dvc repro)") from None
            rows += [{**r, "name": f"{r['name']}_b{size}"} for r in cell["rows"]]
        per_seed.append(rows)
    rows = aggregate(per_seed)
    classification = read_json(args.metrics)
    fixed = [("teacher", "teacher"), ("vanilla_kd", "vanilla KD"), ("llkd", "LLKD")] + [
        (f["id"], f"MCKD final {f['id']}") for f in params["mckd"]["finals"]]
    text = budget_table(rows, sizes, classification, fixed, len(per_seed))
    write_json(f"{args.out}/label_budget.json", {**flat_metrics(rows), "seeds": len(per_seed)})
    write_text(f"{args.out}/label_budget.md", text)
    curves = budget_curves(rows, sizes)
    write_json(f"{args.out}/plots/label_budget.json",
               [{"name": name, **point} for name, points in curves.items() for point in points])
    plot_label_budget(curves, [{"name": title, "accuracy": classification[f"{name}_accuracy"],
                                "gold_labels": classification[f"{name}_gold_labels"]}
                               for name, title in fixed],
                      f"{args.out}/plots/label_budget.png")
    print(text)


if __name__ == "__main__":
    main()
