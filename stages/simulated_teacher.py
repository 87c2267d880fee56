"""A simulated teacher as a diagnostic of the methods, one task and seed (studies/dvc.yaml): for
each noise level of studies/params.yaml, the pool's gold flipped at that rate (kdbench/
simulated_teacher.py), then MCKD's relabeling stages and LLKD's selection on it, with the
pipeline's students and settings. Writes the measurements to --out (JSON)."""

from kdbench.errors import report_errors
from kdbench.io import write_json
from kdbench.params import load_params, stage_parser
from kdbench.runtime import run_record, use_threads
from kdbench.simulated_teacher import diagnose, read_study
from kdbench.tasks import get_task, read_prepared

PARAMS = ("threads", "{task}.student", "llkd", "mckd.parts")


@report_errors
def main() -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--study", required=True, help="the study's params (studies/params.yaml)")
    parser.add_argument("--out", required=True, help="JSON of the measurements")
    args = parser.parse_args()
    params = load_params(args.params, args.task, PARAMS)
    study = read_study(args.study)
    use_threads(params["threads"])
    rows = diagnose(get_task(args.task), params[args.task]["student"], params["llkd"],
                    len(params["mckd"]["parts"]), study, read_prepared(args.dir), args.seed)
    write_json(args.out, {"task": args.task, "seed": args.seed, "simulated": True,
                          "rows": rows, "run": run_record()})


if __name__ == "__main__":
    main()
