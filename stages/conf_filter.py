"""Baseline: the pseudolabels whose teacher confidence reaches a fixed threshold
(trainsets/conf_filter.jsonl)."""

from kdbench.errors import report_errors
from kdbench.io import write_subset
from kdbench.params import load_params, stage_parser
from kdbench.tasks import get_task, read_prepared

PARAMS = ("conf_filter.threshold",)


@report_errors
def main() -> None:
    args = stage_parser(__doc__).parse_args()
    params = load_params(args.params, args.task, PARAMS)
    task = get_task(args.task)
    threshold = params["conf_filter"]["threshold"]
    meta = read_prepared(args.dir).meta
    pool = task.read_rows(f"{args.dir}/trainsets/vanilla_kd.jsonl", meta)
    subset = [r for r in pool if task.confidence(r) >= threshold]
    write_subset(args.dir, "conf_filter", subset, len(pool), f"teacher confidence >= {threshold}")


if __name__ == "__main__":
    main()
