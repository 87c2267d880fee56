"""Put the teacher's shards together: its predictions on the pool and the test split
(teacher/{pool,test}.jsonl), its info (teacher/info.json: times and counts summed over the
shards) and the pseudolabeled pool, trainsets/vanilla_kd.jsonl, where every distillation method
starts. With one shard these are the files the teacher would write alone."""

from kdbench.errors import KDBenchError, report_errors
from kdbench.io import read_json, write_json, write_jsonl
from kdbench.params import load_params, stage_parser
from kdbench.tasks import get_task, read_prepared
from kdbench.teachers import assemble

PARAMS = ("teacher_shards", "{task}.teacher")


@report_errors
def main() -> None:
    args = stage_parser(__doc__).parse_args()
    params = load_params(args.params, args.task, PARAMS)
    task = get_task(args.task)
    teacher = params[args.task]["teacher"]
    prepared = read_prepared(args.dir)
    demonstrations = task.demonstrations(teacher, prepared.labeled, prepared.meta, args.seed)
    shards = []
    for shard in params["teacher_shards"]:
        try:
            shards.append(read_json(f"{args.dir}/teacher_shards/{shard}/labels.json"))
        except KDBenchError:
            raise KDBenchError(f"merge_teacher: shard {shard} has not run; run "
                               f"prompt_teacher@{args.task}-{args.seed}-{shard}") from None
    taught = assemble(task, teacher, prepared, demonstrations, shards)
    info = {**taught.info, "shards": len(shards),
            "demonstrations": [d["id"] for d in demonstrations]}
    write_jsonl(f"{args.dir}/trainsets/vanilla_kd.jsonl", taught.trainset)
    for split, rows in taught.predictions.items():
        write_jsonl(f"{args.dir}/teacher/{split}.jsonl", rows)
    write_json(f"{args.dir}/teacher/info.json", info)
    print(f"merge_teacher: {args.task} seed {args.seed}: {len(shards)} shards, "
          f"{info['wall_s']} s of labeling; pool label quality (analysis only) "
          f"{info['pool_quality']}")


if __name__ == "__main__":
    main()
