"""The student-settings study's table for one task (studies/dvc.yaml): each setting's dev
metrics and seconds, mean ± std over the study's seeds, the pipeline's own setting marked.
Writes --out.json and --out.md."""

from kdbench.errors import report_errors
from kdbench.io import read_json, write_json, write_text
from kdbench.params import load_params, stage_parser
from kdbench.student_selection import read_study, table
from kdbench.tasks import get_task

PARAMS = ("{task}.student",)


@report_errors
def main() -> None:
    parser = stage_parser(__doc__, seed=False)
    parser.add_argument("--study", required=True, help="the study's params (studies/params.yaml)")
    parser.add_argument("--cells", required=True, help="folder of select_student's seed<N>.json")
    parser.add_argument("--out", required=True, help="output path without suffix")
    args = parser.parse_args()
    params = load_params(args.params, args.task, PARAMS)
    student = params[args.task]["student"]
    study = read_study(args.study, args.task, student)
    per_seed = [read_json(f"{args.cells}/seed{seed}.json")["rows"] for seed in study["seeds"]]
    rows, markdown = table(get_task(args.task), per_seed, student)
    write_json(f"{args.out}.json", {"rows": rows})
    write_text(f"{args.out}.md",
               f"Student settings on the labeled pool only: SFT by {study['folds']}-fold over it "
               "(each example predicted once, by a student trained on the other folds) and "
               "vanilla KD on the teacher's pseudolabels of the unlabeled pool; `s`: training "
               "and prediction seconds of a seed (all folds for SFT), measured in one run per "
               f"seed. Mean ± std over seeds {study['seeds']}. Command: "
               "`dvc repro studies/dvc.yaml`.\n\n" + markdown + "\n")


if __name__ == "__main__":
    main()
