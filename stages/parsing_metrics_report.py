"""The metric-mode study's table (studies/dvc.yaml): each method's bracket F1 in both modes,
mean ± std over the study's seeds, and right-branching trees over a treebank (all sentences and
a slice by length) with the sentences each difference touches. Writes --out.json and --out.md."""

from kdbench.errors import report_errors
from kdbench.io import read_json, write_json, write_text
from kdbench.params import load_params, stage_parser
from kdbench.parsing_metrics import read_study, table, treebank_rows

PARAMS = ()


@report_errors
def main() -> None:
    parser = stage_parser(__doc__, seed=False)
    parser.add_argument("--study", required=True, help="the study's params (studies/params.yaml)")
    parser.add_argument("--cells", required=True, help="folder of parsing_metrics's JSONs")
    parser.add_argument("--out", required=True, help="output path without suffix")
    args = parser.parse_args()
    load_params(args.params, args.task, PARAMS)
    study = read_study(args.study)
    per_seed = [read_json(f"{args.cells}/seed{seed}.json")["rows"] for seed in study["seeds"]]
    treebank = (treebank_rows(study["treebank"], study["treebank_words"])
                if study["treebank"] else None)
    result, markdown = table(per_seed, treebank)
    write_json(f"{args.out}.json", result)
    write_text(f"{args.out}.md",
               "Bracket F1 of each method's test predictions in two modes: `project` (the "
               "pipeline's metric) and `mckd` (the MCKD authors' scorer: only the 36 Penn word "
               "tags count as words, words split on Unicode whitespace, a sentence without spans "
               f"scores 0). Mean ± std over seeds {study['seeds']}. Command: `dvc repro "
               "studies/dvc.yaml`.\n\n" + markdown + "\n")


if __name__ == "__main__":
    main()
