"""The label-budget sweep's report: test accuracy (mean ± std over seeds) at every gold budget
of students on gold alone and on gold + pseudolabels, beside the methods that use only the
teacher's demonstrations (teacher, vanilla KD, LLKD, MCKD: their numbers come from the
classification aggregate and do not change with the budget), and at which budgets each beats gold
alone. Writes <out>.json (flat, for `dvc exp show` and the gate), <out>.md, and the figure
<figure>.png with its series <figure>.json for `dvc plots`."""

from kdbench.errors import KDBenchError, report_errors
from kdbench.io import read_json, write_json, write_text
from kdbench.label_budget import budget_curves, budget_table
from kdbench.params import load_params, stage_parser
from kdbench.plots import plot_label_budget
from kdbench.report import aggregate, flat_metrics

PARAMS = ("seeds", "label_budget.sizes", "mckd.finals", "llkd.tasks")


@report_errors
def main() -> None:
    parser = stage_parser(__doc__, seed=False)
    parser.add_argument("--cells", required=True,
                        help="the label_budget stages' rows, seed<N>_b<size>.json")
    parser.add_argument("--metrics", required=True, help="the task's aggregate metrics")
    parser.add_argument("--out", required=True, help="the table's path without suffix")
    parser.add_argument("--figure", required=True, help="the figure's path without suffix")
    args = parser.parse_args()
    params = load_params(args.params, args.task, PARAMS)
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
    fixed = [("teacher", "teacher"), ("vanilla_kd", "vanilla KD")]
    if args.task in params["llkd"]["tasks"]:
        fixed.append(("llkd", "LLKD"))
    fixed += [(f["id"], f"MCKD final {f['id']}") for f in params["mckd"]["finals"]]
    text = budget_table(rows, sizes, classification, fixed, len(per_seed))
    write_json(f"{args.out}.json", {**flat_metrics(rows), "seeds": len(per_seed)})
    write_text(f"{args.out}.md", text)
    curves = budget_curves(rows, sizes)
    write_json(f"{args.figure}.json",
               [{"name": name, **point} for name, points in curves.items() for point in points])
    plot_label_budget(curves, [{"name": title, "accuracy": classification[f"{name}_accuracy"],
                                "gold_labels": classification[f"{name}_gold_labels"]}
                               for name, title in fixed],
                      f"{args.figure}.png")
    print(text)


if __name__ == "__main__":
    main()
