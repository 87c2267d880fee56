"""The simulated-teacher study's table for one task (studies/dvc.yaml): by noise level, the
pool's label accuracy, after each MCKD stage, and the share of right labels LLKD selects, mean ±
std over the study's seeds. Writes --out.json and --out.md."""

from kdbench.errors import report_errors
from kdbench.io import read_json, write_json, write_text
from kdbench.params import load_params, stage_parser
from kdbench.simulated_teacher import read_study, table

PARAMS = ()


@report_errors
def main() -> None:
    parser = stage_parser(__doc__, seed=False)
    parser.add_argument("--study", required=True, help="the study's params (studies/params.yaml)")
    parser.add_argument("--cells", required=True, help="folder of simulated_teacher's JSONs")
    parser.add_argument("--out", required=True, help="output path without suffix")
    args = parser.parse_args()
    load_params(args.params, args.task, PARAMS)  # a bad params.yaml stops every stage early
    study = read_study(args.study)
    per_seed = [read_json(f"{args.cells}/seed{seed}.json")["rows"] for seed in study["seeds"]]
    rows, markdown = table(per_seed)
    write_json(f"{args.out}.json", {"simulated": True, "rows": rows})
    confidence = study["confidence"]
    write_text(f"{args.out}.md",
               f"SIMULATED teacher (not an LLM): the pool's gold label flipped with probability "
               f"p ({study['flips']} flips), confidence uniform in {confidence['kept']} for a "
               f"right label and in {confidence['flipped']} for a wrong one; the pipeline's "
               f"students and LLKD and MCKD settings. Mean ± std over seeds {study['seeds']}. "
               "`LLKD selected: right` is the share of right labels among the samples LLKD ever "
               "selected (a random subset keeps the pool's share on average). Command: `dvc "
               "repro studies/dvc.yaml`.\n\n" + markdown + "\n")


if __name__ == "__main__":
    main()
