"""The teacher-selection study, one task and seed (studies/dvc.yaml): every teacher setting of
the task's grid (studies/params.yaml) labels the labeled pool by k-fold, never the test split.
Writes the settings' dev metrics and seconds per example to --out (JSON)."""

from kdbench.errors import report_errors
from kdbench.io import write_json
from kdbench.params import load_params, stage_parser
from kdbench.runtime import run_record, use_threads
from kdbench.tasks import get_task, read_prepared
from kdbench.teacher_selection import evaluate, read_study

PARAMS = ("threads", "{task}.teacher")


@report_errors
def main() -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--study", required=True, help="the study's params (studies/params.yaml)")
    parser.add_argument("--out", required=True, help="JSON of the settings' dev metrics")
    args = parser.parse_args()
    params = load_params(args.params, args.task, PARAMS)
    study = read_study(args.study)
    use_threads(params["threads"])
    task = get_task(args.task)
    rows = evaluate(task, params[args.task]["teacher"], study, study["grids"][args.task],
                    read_prepared(args.dir), args.seed)
    write_json(args.out, {"task": args.task, "seed": args.seed, "folds": study["folds"],
                          "rows": rows, "run": run_record()})


if __name__ == "__main__":
    main()
