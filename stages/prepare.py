"""Load the data set and split it into labeled, unlabeled (gold kept aside) and test pools."""

import argparse

from kdbench.data import clean, load_rows, split
from kdbench.errors import report_errors
from kdbench.io import write_json, write_jsonl
from kdbench.params import load_params


@report_errors
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--out", default="data/prepared")
    args = parser.parse_args()
    params = load_params(args.params)
    data = params["data"]
    rows, labels, report = clean(load_rows(data), data["labels"], data["dedup"])
    splits = split(rows, labels, data["n_labeled"], data["n_unlabeled"], data["n_test"],
                   params["seed"])
    gold_pool = splits.labeled + [{"id": r["id"], "text": r["text"], "label": r["gold"]}
                                  for r in splits.unlabeled]
    write_jsonl(f"{args.out}/labeled.jsonl", splits.labeled)
    write_jsonl(f"{args.out}/unlabeled.jsonl", splits.unlabeled)
    write_jsonl(f"{args.out}/test.jsonl", splits.test)
    write_jsonl(f"{args.out}/gold_pool.jsonl", gold_pool)
    report.update(splits.report)
    if report["test_texts_also_in_training"]:
        print(f"prepare: warning: {report['test_texts_also_in_training']} test texts also occur "
              "in the labeled or unlabeled pool (data.dedup is off): test accuracy is inflated")
    write_json(f"{args.out}/labels.json", {"labels": labels, **report})
    print(f"prepare: {report}; labeled {len(splits.labeled)}, unlabeled "
          f"{len(splits.unlabeled)}, test {len(splits.test)}; labels {labels}")


if __name__ == "__main__":
    main()
