"""LLKD's data usage study's table for one task (studies/dvc.yaml): usage counted both ways and
the student's test score by pool fraction, class-level form and momentum, mean ± std over the
study's seeds. Writes --out.json and --out.md."""

from kdbench.errors import report_errors
from kdbench.io import read_json, write_json, write_text
from kdbench.llkd_usage import read_study, table
from kdbench.params import load_params, stage_parser
from kdbench.tasks import get_task

PARAMS = ()


@report_errors
def main() -> None:
    parser = stage_parser(__doc__, seed=False)
    parser.add_argument("--study", required=True, help="the study's params (studies/params.yaml)")
    parser.add_argument("--cells", required=True, help="folder of llkd_usage's JSONs")
    parser.add_argument("--out", required=True, help="output path without suffix")
    args = parser.parse_args()
    load_params(args.params, args.task, PARAMS)
    study = read_study(args.study)
    per_seed = [read_json(f"{args.cells}/seed{seed}.json")["rows"] for seed in study["seeds"]]
    rows, markdown = table(per_seed, get_task(args.task).metrics)
    write_json(f"{args.out}.json", {"rows": rows})
    write_text(f"{args.out}.md",
               "LLKD's data usage on the teacher's pseudolabels: a random share of the pool, "
               "trained for the pipeline's number of steps (epochs / share), at each class-level "
               "form of the teacher threshold (`llkd.class_level`) and threshold momentum; the "
               "pipeline's other `llkd` settings. `unique selected`: samples ever "
               "selected over the pool trained on; `per step`: the mean share of a batch "
               "selected; `of the full pool`: unique samples selected over the whole pool (the "
               "paper reports 3.7% to under 25%). Mean ± std over seeds "
               f"{study['seeds']}. Command: `dvc repro studies/dvc.yaml`.\n\n" + markdown + "\n")


if __name__ == "__main__":
    main()
