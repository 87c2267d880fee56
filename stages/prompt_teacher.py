"""Few-shot prompt the LLM teacher on one shard of what it labels (the unlabeled pool, the test
split, and for classification the dev rows): a label distribution (classification) or a greedy
output with its confidence (sequence tasks). Shard --shard of params.yaml's teacher_shards takes
every N-th row; each shard is its own stage, runnable on its own machine. Writes
teacher_shards/<shard>/labels.json; merge_teacher puts the shards together."""

import time

from kdbench.errors import report_errors
from kdbench.io import write_json
from kdbench.params import load_params, stage_parser
from kdbench.runtime import run_record, use_threads
from kdbench.tasks import get_task, read_prepared
from kdbench.teachers import label

PARAMS = ("threads", "teacher_shards", "{task}.teacher")


@report_errors
def main() -> None:
    parser = stage_parser(__doc__)
    parser.add_argument("--shard", type=int, required=True, help="one of teacher_shards")
    args = parser.parse_args()
    params = load_params(args.params, args.task, PARAMS)
    use_threads(params["threads"])
    shards = params["teacher_shards"]
    task = get_task(args.task)
    teacher = params[args.task]["teacher"]
    prepared = read_prepared(args.dir)
    demonstrations = task.demonstrations(teacher, prepared.labeled, prepared.meta, args.seed)
    start = time.time()
    labeled = label(task, teacher, prepared, demonstrations, shards.index(args.shard),
                    len(shards))
    labeled["info"].update({"wall_s": round(time.time() - start, 2), **run_record()})
    write_json(f"{args.dir}/teacher_shards/{args.shard}/labels.json", labeled)
    print(f"prompt_teacher: {args.task} seed {args.seed} shard {args.shard} of {len(shards)}: "
          f"{labeled['info']['wall_s']} s")


if __name__ == "__main__":
    main()
