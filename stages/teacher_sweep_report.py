"""The teacher-quality sweep's tables and figure for its task (studies/dvc.yaml): per teacher
config and seed, the teacher's scores, each student's, and each student's margin over its teacher
and over SFT; and where each method starts to beat SFT. Reads the cells `python -m
kdbench.teacher_sweep collect` wrote; writes --out.json, --out.md and --figure."""

from kdbench.errors import report_errors
from kdbench.io import read_json, write_json, write_text
from kdbench.params import load_params, stage_parser
from kdbench.tasks import get_task
from kdbench.teacher_sweep import describe, plot, read_study, runs, tables

PARAMS = ()


@report_errors
def main() -> None:
    parser = stage_parser(__doc__, seed=False)
    parser.add_argument("--study", required=True, help="the study's params (studies/params.yaml)")
    parser.add_argument("--cells", required=True, help="folder of the collected cells")
    parser.add_argument("--out", required=True, help="output path without suffix")
    parser.add_argument("--figure", required=True, help="the PNG to write")
    args = parser.parse_args()
    load_params(args.params, args.task, PARAMS)
    study = read_study(args.study, args.task)
    cells = [read_json(f"{args.cells}/{name}.json") for name in study["configs"]]
    metric = get_task(args.task).metrics[0]
    methods = [m for m in study["rows"] if m != "sft"]
    rows = runs(cells, metric)
    plot(rows, methods, metric, args.figure)
    write_json(f"{args.out}.json", {"rows": rows})
    configs = "; ".join(f"`{c['config']}`: {describe(c['overrides'])}" for c in cells)
    write_text(f"{args.out}.md",
               f"Teacher-quality sweep on {args.task}: the pipeline with each teacher config "
               f"(`{args.task}.teacher` overrides: {configs}), seeds {study['seeds']}, "
               "everything else as params.yaml; one row per config and seed, by teacher test "
               "score. Commands: `make sweep`, then `make sweep-report`.\n\n"
               + tables(rows, methods, metric))


if __name__ == "__main__":
    main()
