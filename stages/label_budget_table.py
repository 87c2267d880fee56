"""The label-budget sweep's table: accuracy (mean ± std over seeds) at every gold budget of
students on gold alone and on gold + pseudolabels, beside the methods that use only the teacher's
demonstrations (teacher, vanilla KD, LLKD, MCKD: their numbers come from the classification
aggregate and do not change with the budget), and at which budgets each beats gold alone.
Writes <out>/label_budget.json (flat, for `dvc exp show` and the gate) and label_budget.md."""

import argparse

from kdbench.errors import KDBenchError, report_errors
from kdbench.io import read_json, write_json, write_text
from kdbench.label_budget import budget_table
from kdbench.params import load_params
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
                raise KDBenchError(f"label_budget_table: no {path}; run its label_budget stage "
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
    print(text)


if __name__ == "__main__":
    main()
