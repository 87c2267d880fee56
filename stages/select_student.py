"""The student-settings study, one task and seed (studies/dvc.yaml): every student setting of
the task (studies/params.yaml) trains SFT by k-fold over the labeled pool and vanilla KD on the
teacher's pseudolabels, both judged on the labeled pool, never on test
(kdbench/student_selection.py). Writes the settings' dev metrics and seconds to --out (JSON)."""

from kdbench.errors import report_errors
from kdbench.io import write_json
from kdbench.params import load_params, stage_parser
from kdbench.runtime import run_record, use_threads
from kdbench.student_selection import measure, read_study
from kdbench.tasks import get_task, read_prepared

PARAMS = ("threads", "{task}.student")
TRAINSET = "trainsets/vanilla_kd.jsonl"


@report_errors
def main() -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--study", required=True, help="the study's params (studies/params.yaml)")
    parser.add_argument("--out", required=True, help="JSON of the settings' dev metrics")
    args = parser.parse_args()
    params = load_params(args.params, args.task, PARAMS)
    student = params[args.task]["student"]
    study = read_study(args.study, args.task, student)
    use_threads(params["threads"])
    task = get_task(args.task)
    prepared = read_prepared(args.dir)
    pool = task.read_rows(f"{args.dir}/{TRAINSET}", prepared.meta)
    rows = measure(task, student, study["configs"][args.task], study["folds"], prepared, pool,
                   args.seed)
    write_json(args.out, {"task": args.task, "seed": args.seed, "folds": study["folds"],
                          "rows": rows, "run": run_record()})


if __name__ == "__main__":
    main()
