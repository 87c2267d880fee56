"""Load the data set and split it into labeled, unlabeled (gold kept aside) and test pools;
write the gold trainsets (sft: the labeled pool; supervised: labeled + unlabeled with gold)."""

from kdbench.data import clean, load_rows, split
from kdbench.errors import report_errors
from kdbench.io import write_json, write_jsonl
from kdbench.params import load_params, stage_parser
from kdbench.seqdata import split_by_article
from kdbench.tasks import load_rows as load_sequence_rows
from kdbench.tasks import output_tags


def prepare_classification(params: dict, seed: int, out: str) -> None:
    data = params["data"]
    rows, labels, report = clean(load_rows(data), data["labels"], data["dedup"])
    splits = split(rows, labels, data["n_labeled"], data["n_unlabeled"], data["n_test"], seed)
    gold_pool = splits.labeled + [{"id": r["id"], "text": r["text"], "label": r["gold"]}
                                  for r in splits.unlabeled]
    write_jsonl(f"{out}/prepared/labeled.jsonl", splits.labeled)
    write_jsonl(f"{out}/prepared/unlabeled.jsonl", splits.unlabeled)
    write_jsonl(f"{out}/prepared/test.jsonl", splits.test)
    write_jsonl(f"{out}/trainsets/sft.jsonl", splits.labeled)
    write_jsonl(f"{out}/trainsets/supervised.jsonl", gold_pool)
    report.update(splits.report)
    if report["test_texts_also_in_training"]:
        print(f"prepare: warning: {report['test_texts_also_in_training']} test texts also occur "
              "in the labeled or unlabeled pool (data.dedup is off): test accuracy is inflated")
    write_json(f"{out}/prepared/labels.json", {"labels": labels, **report})
    print(f"prepare: {report}; labeled {len(splits.labeled)}, unlabeled "
          f"{len(splits.unlabeled)}, test {len(splits.test)}; labels {labels}")


def prepare_sequence(params: dict, seed: int, out: str) -> None:
    sequence = params["sequence"]
    rows, counts = load_sequence_rows(sequence, seed)
    labeled, unlabeled, test = split_by_article(rows, sequence["n_labeled"],
                                                sequence["n_unlabeled"], sequence["n_test"], seed)
    # The pool's gold target moves to "gold" so that nothing can train on it by accident.
    pool = [{**{k: v for k, v in r.items() if k != "target"}, "gold": r["target"]}
            for r in unlabeled]
    write_jsonl(f"{out}/prepared/labeled.jsonl", labeled)
    write_jsonl(f"{out}/prepared/unlabeled.jsonl", pool)
    write_jsonl(f"{out}/prepared/test.jsonl", test)
    write_jsonl(f"{out}/trainsets/sft.jsonl", labeled)
    write_jsonl(f"{out}/trainsets/supervised.jsonl", labeled + unlabeled)
    info = {"task": sequence["task"], "tags": output_tags(rows, sequence["task"]),
            "source": sequence["source"], "sentences_available": len(rows), **counts}
    write_json(f"{out}/prepared/task.json", info)
    print(f"prepare: {sequence['task']} ({sequence['source']}): {len(rows)} sentences; labeled "
          f"{len(labeled)}, unlabeled {len(unlabeled)}, test {len(test)}")


@report_errors
def main() -> None:
    args = stage_parser(__doc__).parse_args()
    params = load_params(args.params)
    if args.benchmark == "sequence":
        prepare_sequence(params, args.seed, args.dir)
    else:
        prepare_classification(params, args.seed, args.dir)


if __name__ == "__main__":
    main()
