"""The metric-mode study, one constituency seed (studies/dvc.yaml): every method the evaluate
stage scored, re-scored from the same test predictions with this project's bracket F1 and with
the MCKD authors' (kdbench/parsing_metrics.py). Writes the rows to --out (JSON)."""

from kdbench.errors import report_errors
from kdbench.io import read_json, write_json
from kdbench.params import load_params, stage_parser
from kdbench.parsing_metrics import rescore
from kdbench.tasks import get_task

PARAMS = ()


@report_errors
def main() -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--evaluated", required=True, help="the evaluate stage's seed rows.json")
    parser.add_argument("--out", required=True, help="JSON of the re-scored rows")
    args = parser.parse_args()
    load_params(args.params, args.task, PARAMS)  # a bad params.yaml stops every stage early
    rows = rescore(get_task(args.task), args.dir, read_json(args.evaluated))
    write_json(args.out, {"task": args.task, "seed": args.seed, "rows": rows})


if __name__ == "__main__":
    main()
