"""Few-shot prompt the LLM teacher on every unlabeled and test example: a label distribution
(classification) or a greedy output with its confidence (sequence tasks). The pseudolabeled pool
is trainsets/vanilla_kd.jsonl: every distillation method starts from it."""

import time

from kdbench.errors import report_errors
from kdbench.io import write_json, write_jsonl
from kdbench.params import load_params, stage_parser
from kdbench.runtime import run_record, use_threads
from kdbench.tasks import get_task, read_prepared
from kdbench.teachers import teach

PARAMS = ("threads", "{task}.teacher")


@report_errors
def main() -> None:
    args = stage_parser(__doc__).parse_args()
    params = load_params(args.params, args.task, PARAMS)
    use_threads(params["threads"])
    task = get_task(args.task)
    teacher = params[args.task]["teacher"]
    prepared = read_prepared(args.dir)
    demonstrations = task.demonstrations(teacher, prepared.labeled, prepared.meta, args.seed)
    start = time.time()
    taught = teach(task, teacher, prepared, demonstrations)
    info = {**taught.info, "wall_s": round(time.time() - start, 2),
            "demonstrations": [d["id"] for d in demonstrations]}
    write_jsonl(f"{args.dir}/trainsets/vanilla_kd.jsonl", taught.trainset)
    for split, rows in taught.predictions.items():
        write_jsonl(f"{args.dir}/teacher/{split}.jsonl", rows)
    write_json(f"{args.dir}/teacher/info.json", {**info, **run_record()})
    print(f"prompt_teacher: {args.task} seed {args.seed}: {info['wall_s']} s; pool label quality "
          f"(analysis only) {info['pool_quality']}")


if __name__ == "__main__":
    main()
