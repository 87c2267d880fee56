"""Load the data set and split it into labeled, unlabeled (gold kept aside) and test pools;
write the gold trainsets (sft: the labeled pool; supervised: labeled + unlabeled with gold)."""

from kdbench.data import clean, load_rows, split
from kdbench.errors import report_errors
from kdbench.io import write_json, write_jsonl
from kdbench.params import load_params, stage_parser


@report_errors
def main() -> None:
    args = stage_parser(__doc__).parse_args()
    params = load_params(args.params)
    data = params["data"]
    rows, labels, report = clean(load_rows(data), data["labels"], data["dedup"])
    splits = split(rows, labels, data["n_labeled"], data["n_unlabeled"], data["n_test"],
                   args.seed)
    gold_pool = splits.labeled + [{"id": r["id"], "text": r["text"], "label": r["gold"]}
                                  for r in splits.unlabeled]
    write_jsonl(f"{args.dir}/prepared/labeled.jsonl", splits.labeled)
    write_jsonl(f"{args.dir}/prepared/unlabeled.jsonl", splits.unlabeled)
    write_jsonl(f"{args.dir}/prepared/test.jsonl", splits.test)
    write_jsonl(f"{args.dir}/trainsets/sft.jsonl", splits.labeled)
    write_jsonl(f"{args.dir}/trainsets/supervised.jsonl", gold_pool)
    report.update(splits.report)
    if report["test_texts_also_in_training"]:
        print(f"prepare: warning: {report['test_texts_also_in_training']} test texts also occur "
              "in the labeled or unlabeled pool (data.dedup is off): test accuracy is inflated")
    write_json(f"{args.dir}/prepared/labels.json", {"labels": labels, **report})
    print(f"prepare: {report}; labeled {len(splits.labeled)}, unlabeled "
          f"{len(splits.unlabeled)}, test {len(splits.test)}; labels {labels}")


if __name__ == "__main__":
    main()
