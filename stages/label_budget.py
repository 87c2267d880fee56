"""One cell of the label-budget sweep: with --size gold labels (the teacher's demonstrations
included), train a student on that gold alone and one on that gold plus the teacher's
pseudolabels of the rest of the pool; score both on the test split. Writes
<dir>/label_budget/<size>/{gold,gold_pseudo}/predictions.jsonl and the two rows to
<metrics>/seed<N>_b<size>.json. Where the budget's gold is exactly the labeled pool, gold alone
is the SFT baseline: its predictions are SFT's (<dir>/students/sft), not a second training."""

from kdbench.errors import report_errors
from kdbench.io import read_json, read_jsonl, write_json, write_jsonl
from kdbench.label_budget import budget_trainsets, gold_order, is_sft
from kdbench.params import load_params, stage_parser
from kdbench.runtime import peak_memory_gib, run_record, use_threads
from kdbench.students import make_student
from kdbench.tasks import get_task, pool_gold, read_prepared

PARAMS = ("threads", "{task}.student", "{task}.teacher.shots")


@report_errors
def main() -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--size", type=int, required=True, help="gold labels, one of "
                        "params.yaml's label_budget.sizes")
    parser.add_argument("--metrics", required=True, help="folder of the cells' rows")
    args = parser.parse_args()
    params = load_params(args.params, args.task, PARAMS)
    use_threads(params["threads"])
    task = get_task(args.task)
    block = params[args.task]
    prepared = read_prepared(args.dir)
    meta, test = prepared.meta, prepared.test
    # The teacher's own choice of demonstrations, recomputed: it depends on nothing the teacher
    # outputs, so this stage stays cached when the teacher stage re-runs with the same labels.
    demos = task.demonstrations(block["teacher"], prepared.labeled, meta, args.seed)
    order = gold_order(prepared.labeled, pool_gold(task, prepared.unlabeled),
                       [d["id"] for d in demos])
    pseudolabeled = task.read_rows(f"{args.dir}/trainsets/vanilla_kd.jsonl", meta)
    trainsets = budget_trainsets(order, pseudolabeled, args.size, len(demos))
    out = f"{args.dir}/label_budget/{args.size}"
    rows = []
    for name, train_rows in trainsets.items():
        if name == "gold" and is_sft(train_rows, prepared.labeled):
            sft = f"{args.dir}/students/sft"
            predictions = read_jsonl(f"{sft}/predictions.jsonl")
            info = read_json(f"{sft}/info.json")
            wall_s, peak = info["train_wall_s"], info["peak_memory_gib"]
        else:
            # Gold alone is the SFT baseline at this budget: it gets SFT's number of passes.
            epochs = block["student"]["sft_epochs" if name == "gold" else "epochs"]
            student = make_student(task, block["student"], meta, args.seed).fit(train_rows,
                                                                                 epochs)
            predictions = student.predict(test)
            wall_s, peak = student.info["train_wall_s"], peak_memory_gib()
        write_jsonl(f"{out}/{name}/predictions.jsonl", predictions)
        scores = task.score_predictions(predictions, test, meta)
        rows.append({"name": name, **scores, "gold_labels": args.size,
                     "train_examples": len(train_rows), "wall_s": wall_s,
                     "peak_memory_gib": peak})
        print(f"label_budget: {args.size} gold, {name}: {len(train_rows)} examples, "
              f"{task.metrics[0]} {scores[task.metrics[0]]:.3f}")
    write_json(f"{args.metrics}/seed{args.seed}_b{args.size}.json",
               {"rows": rows, "run": run_record()})


if __name__ == "__main__":
    main()
