"""MCKD: the new labels of a stage, each example labeled by the students that did not train on
it; they replace the previous labels. Also scores them against the kept-aside gold (analysis)."""

from kdbench.errors import report_errors
from kdbench.io import read_json, write_json, write_jsonl
from kdbench.mckd import combine_relabels
from kdbench.params import load_params, stage_parser
from kdbench.tasks import get_task, pool_gold, read_prepared

PARAMS = ()


@report_errors
def main() -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--stage", required=True, help="the pair stage's id: mckd/<stage>/")
    parser.add_argument("--labels", required=True,
                        help="trainset with the previous labels, inside --dir")
    args = parser.parse_args()
    load_params(args.params, args.task, PARAMS)  # a bad params.yaml stops every stage early
    task = get_task(args.task)
    prepared = read_prepared(args.dir)
    meta = prepared.meta
    partitions = read_json(f"{args.dir}/mckd/partitions.json")["partitions"]
    out = f"{args.dir}/mckd/{args.stage}"
    previous = task.read_rows(f"{args.dir}/{args.labels}", meta)
    predictions = {k: task.read_rows(f"{out}/students/p{k}/predictions.jsonl", meta)
                   for k in range(len(partitions))}
    new = combine_relabels(partitions, predictions, lambda rows: task.combine(rows, meta))
    rows = [task.trainset_row(r, new[r["id"]]) for r in previous]
    gold = {r["id"]: r for r in pool_gold(task, prepared.unlabeled)}
    gold_rows = [gold[r["id"]] for r in rows]
    after = task.score([r[task.target] for r in rows], gold_rows, meta)
    before = task.score([r[task.target] for r in previous], gold_rows, meta)
    students = [read_json(f"{out}/students/p{k}/info.json") for k in range(len(partitions))]
    info = {**{f"label_{m}": after[m] for m in task.metrics},
            **{f"previous_label_{m}": before[m] for m in task.metrics},
            "changed_fraction": round(sum(a[task.target] != b[task.target] for a, b in
                                          zip(rows, previous, strict=True)) / len(rows), 4),
            "students_train_wall_s": round(sum(s["train_wall_s"] for s in students), 2),
            "students_peak_memory_gib": max(s["peak_memory_gib"] for s in students)}
    write_jsonl(f"{out}/labels.jsonl", rows)
    write_json(f"{out}/info.json", info)
    print(f"relabel: {out}: {info}")


if __name__ == "__main__":
    main()
