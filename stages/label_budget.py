"""One cell of the label-budget sweep (classification): with --size gold labels (the teacher's
demonstrations included), train a student on that gold alone and one on that gold plus the
teacher's pseudolabels of the rest of the pool; score both on the test split. Writes
<dir>/label_budget/<size>/{gold,gold_pseudo}/predictions.jsonl and the two rows to
<metrics>/seed<N>_b<size>.json."""

from kdbench.benchmarks import epochs, fit_and_predict_any
from kdbench.errors import peak_memory_gib, report_errors
from kdbench.io import read_json, read_jsonl, read_labeled, write_json, write_jsonl
from kdbench.label_budget import budget_trainsets, gold_order
from kdbench.metrics import classification_scores
from kdbench.params import load_params, stage_parser
from kdbench.teacher import pick_demonstrations


@report_errors
def main() -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--size", type=int, required=True, help="gold labels, one of "
                        "params.yaml's label_budget.sizes")
    parser.add_argument("--metrics", default="metrics/label_budget")
    args = parser.parse_args()
    params = load_params(args.params)
    prepared = f"{args.dir}/prepared"
    labels = read_json(f"{prepared}/labels.json")["labels"]
    labeled = read_jsonl(f"{prepared}/labeled.jsonl")
    test = read_jsonl(f"{prepared}/test.jsonl")
    # The teacher's own choice of demonstrations, recomputed: it depends on nothing the teacher
    # outputs, so this stage stays cached when the teacher stage re-runs with the same labels.
    demos = pick_demonstrations(labeled, labels, params["teacher"]["shots_per_class"], args.seed)
    order = gold_order(labeled, read_jsonl(f"{prepared}/unlabeled.jsonl"),
                       [d["id"] for d in demos])
    pseudolabeled = read_labeled(f"{args.dir}/trainsets/vanilla_kd.jsonl", labels)
    trainsets = budget_trainsets(order, pseudolabeled, args.size, len(demos))
    out = f"{args.dir}/label_budget/{args.size}"
    rows = []
    for name, train_rows in trainsets.items():
        # Gold alone is the SFT baseline at this budget: it gets SFT's number of passes.
        n_epochs = epochs(params, "classification", "sft" if name == "gold" else name)
        predictions, info = fit_and_predict_any(params, "classification", args.dir, train_rows,
                                                n_epochs, args.seed, {"test": test})
        write_jsonl(f"{out}/{name}/predictions.jsonl", predictions["test"])
        predicted = {r["id"]: r["label"] for r in predictions["test"]}
        scores = classification_scores([r["label"] for r in test],
                                       [predicted[r["id"]] for r in test], labels)
        rows.append({"name": name, "size": args.size, **scores, "gold_labels": args.size,
                     "train_examples": info["train_examples"], "wall_s": info["train_wall_s"],
                     "peak_memory_gib": peak_memory_gib()})
        print(f"label_budget: {args.size} gold, {name}: {len(train_rows)} examples, "
              f"accuracy {scores['accuracy']:.3f}")
    write_json(f"{args.metrics}/seed{args.seed}_b{args.size}.json", {"rows": rows})


if __name__ == "__main__":
    main()
