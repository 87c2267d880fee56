"""MCKD pair stage: train a fresh student on partition k's current labels, then label every
partition it did not see (and the test split, for the per-stage curve)."""

from kdbench.errors import report_errors
from kdbench.io import read_json, write_json, write_jsonl
from kdbench.mckd import unseen_ids
from kdbench.params import load_params, stage_parser
from kdbench.runtime import run_record, use_threads
from kdbench.students import make_student
from kdbench.tasks import get_task, read_prepared

PARAMS = ("threads", "{task}.student")


@report_errors
def main() -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--stage", required=True, help="the pair stage's id: mckd/<stage>/")
    parser.add_argument("--labels", required=True,
                        help="trainset with the previous stage's labels, inside --dir")
    parser.add_argument("--part", type=int, required=True)
    args = parser.parse_args()
    params = load_params(args.params, args.task, PARAMS)
    use_threads(params["threads"])
    task = get_task(args.task)
    prepared = read_prepared(args.dir)
    by_id = {r["id"]: r for r in task.read_rows(f"{args.dir}/{args.labels}", prepared.meta)}
    partitions = read_json(f"{args.dir}/mckd/partitions.json")["partitions"]
    student_params = params[args.task]["student"]
    student = make_student(task, student_params, prepared.meta, args.seed).fit(
        [by_id[i] for i in partitions[args.part]], student_params["epochs"])
    out = f"{args.dir}/mckd/{args.stage}/students/p{args.part}"
    write_jsonl(f"{out}/predictions.jsonl",
                student.predict([by_id[i] for i in unseen_ids(partitions, args.part)]))
    write_jsonl(f"{out}/test_predictions.jsonl", student.predict(prepared.test))
    write_json(f"{out}/info.json", {"part": args.part, **student.info, **run_record()})
    print(f"train_student_k: part {args.part}: {student.info}")


if __name__ == "__main__":
    main()
