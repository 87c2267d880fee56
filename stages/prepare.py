"""Load the task's data and split it into labeled, unlabeled (gold kept aside) and test pools;
write the gold trainsets (sft: the labeled pool; supervised: labeled + unlabeled with gold)."""

from kdbench.errors import report_errors
from kdbench.io import write_jsonl
from kdbench.params import load_params, stage_parser
from kdbench.tasks import get_task, pool_gold, write_prepared

PARAMS = ("{task}.data",)


@report_errors
def main() -> None:
    args = stage_parser(__doc__).parse_args()
    params = load_params(args.params, args.task, PARAMS)
    task = get_task(args.task)
    prepared = task.prepare(params[args.task]["data"], args.seed)
    write_prepared(prepared, args.dir)
    write_jsonl(f"{args.dir}/trainsets/sft.jsonl", prepared.labeled)
    write_jsonl(f"{args.dir}/trainsets/supervised.jsonl",
                prepared.labeled + pool_gold(task, prepared.unlabeled))
    print(f"prepare: {args.task} seed {args.seed}: labeled {len(prepared.labeled)}, unlabeled "
          f"{len(prepared.unlabeled)}, test {len(prepared.test)}; {prepared.meta}")


if __name__ == "__main__":
    main()
