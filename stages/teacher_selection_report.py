"""The teacher-selection study's table for one task (studies/dvc.yaml): each setting's dev
metrics, mean ± std over the study's seeds, the best marked, and the pipeline's default teacher.
Writes --out.json and --out.md."""

from kdbench.errors import report_errors
from kdbench.io import read_json, write_json, write_text
from kdbench.params import load_params, stage_parser
from kdbench.tasks import get_task
from kdbench.teacher_selection import read_study, summary, table

PARAMS = ("{task}.teacher",)


@report_errors
def main() -> None:
    parser = stage_parser(__doc__, seed=False)
    parser.add_argument("--study", required=True, help="the study's params (studies/params.yaml)")
    parser.add_argument("--cells", required=True, help="folder of select_teacher's seed<N>.json")
    parser.add_argument("--out", required=True, help="output path without suffix")
    args = parser.parse_args()
    params = load_params(args.params, args.task, PARAMS)
    study = read_study(args.study)
    task = get_task(args.task)
    per_seed = [read_json(f"{args.cells}/seed{seed}.json")["rows"] for seed in study["seeds"]]
    result = summary(task, per_seed, params[args.task]["teacher"])
    write_json(f"{args.out}.json", result)
    folds = study["folds"]
    write_text(f"{args.out}.md",
               f"Teacher settings on the labeled pool only ({folds}-fold: each example labeled "
               f"once, with demonstrations from the other folds), mean ± std over seeds "
               f"{study['seeds']}. Best by {result['headline'].replace('_', ' ')}: "
               f"{result['best']}. Command: `dvc repro studies/dvc.yaml`.\n\n"
               + table(task, result) + "\n")


if __name__ == "__main__":
    main()
