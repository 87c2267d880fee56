"""LLKD's data usage study, one task and seed (studies/dvc.yaml): LLKD trained on the teacher's
pseudolabels for every momentum and pool fraction of studies/params.yaml at the pipeline's
number of steps (kdbench/llkd_usage.py). Writes the rows to --out (JSON)."""

from kdbench.errors import report_errors
from kdbench.io import write_json
from kdbench.llkd_usage import measure, read_study
from kdbench.params import load_params, stage_parser
from kdbench.runtime import run_record, use_threads
from kdbench.tasks import get_task, read_prepared

PARAMS = ("threads", "{task}.student", "llkd")
TRAINSET = "trainsets/vanilla_kd.jsonl"


@report_errors
def main() -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--study", required=True, help="the study's params (studies/params.yaml)")
    parser.add_argument("--out", required=True, help="JSON of the measurements")
    args = parser.parse_args()
    params = load_params(args.params, args.task, PARAMS)
    study = read_study(args.study)
    use_threads(params["threads"])
    task = get_task(args.task)
    prepared = read_prepared(args.dir)
    pool = task.read_rows(f"{args.dir}/{TRAINSET}", prepared.meta)
    rows = measure(task, params[args.task]["student"], params["llkd"], study, prepared, pool,
                   args.seed)
    write_json(args.out, {"task": args.task, "seed": args.seed, "rows": rows,
                          "run": run_record()})


if __name__ == "__main__":
    main()
