"""Train one student on a method's trainset (gold, pseudolabeled or a subset) and predict the test
split. The trainset is trainsets/<method>.jsonl in the seed's folder, unless --trainset names one
(MCKD's final students train on a pair stage's labels)."""

from kdbench.errors import report_errors
from kdbench.io import write_json, write_jsonl
from kdbench.params import load_params, stage_parser
from kdbench.runtime import run_record, use_threads
from kdbench.students import make_student
from kdbench.tasks import get_task, read_prepared

PARAMS = ("threads", "{task}.student")


@report_errors
def main() -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--method", required=True, help="the student's name: students/<method>")
    parser.add_argument("--trainset", help="JSONL trainset inside --dir (kdbench.tasks: rows)")
    args = parser.parse_args()
    params = load_params(args.params, args.task, PARAMS)
    use_threads(params["threads"])
    task = get_task(args.task)
    student_params = params[args.task]["student"]
    prepared = read_prepared(args.dir)
    trainset = args.trainset or f"trainsets/{args.method}.jsonl"
    rows = task.read_rows(f"{args.dir}/{trainset}", prepared.meta)
    # The few-gold baseline sees only the labeled pool: it has its own number of passes.
    epochs = student_params["sft_epochs" if args.method == "sft" else "epochs"]
    student = make_student(task, student_params, prepared.meta, args.seed).fit(rows, epochs)
    out = f"{args.dir}/students/{args.method}"
    write_jsonl(f"{out}/predictions.jsonl", student.predict(prepared.test))
    write_json(f"{out}/info.json", {"trainset": trainset, **student.info, **run_record()})
    print(f"train_student: {out}: {student.info}")


if __name__ == "__main__":
    main()
