"""LLKD: train the student on the samples where the teacher is confident and the student is
uncertain (class-wise adaptive thresholds, weighted loss), logging the selection every step."""

import numpy as np

from kdbench.errors import report_errors
from kdbench.io import write_json, write_jsonl
from kdbench.llkd import LLKDSelector, data_usage
from kdbench.params import load_params, stage_parser
from kdbench.runtime import run_record, use_threads
from kdbench.students import make_student
from kdbench.tasks import get_task, read_prepared

PARAMS = ("threads", "{task}.student", "llkd")
TRAINSET = "trainsets/vanilla_kd.jsonl"


@report_errors
def main() -> None:
    args = stage_parser(__doc__).parse_args()
    params = load_params(args.params, args.task, PARAMS)
    use_threads(params["threads"])
    task = get_task(args.task)
    prepared = read_prepared(args.dir)
    labels = prepared.meta["labels"]
    pool = task.read_rows(f"{args.dir}/{TRAINSET}", prepared.meta)
    selector = LLKDSelector(np.array([r["probs"] for r in pool]),
                            np.array([labels.index(r["label"]) for r in pool]), params["llkd"])
    student_params = params[args.task]["student"]
    student = make_student(task, student_params, prepared.meta, args.seed).fit(
        pool, student_params["epochs"], weighter=selector)
    usage = data_usage(selector.log, len(pool))
    selected = sorted({pool[i]["id"] for step in selector.log for i in step["selected_rows"]})
    out = f"{args.dir}/students/llkd"
    write_jsonl(f"{out}/predictions.jsonl", student.predict(prepared.test))
    write_jsonl(f"{out}/selection_log.jsonl",
                [{key: value for key, value in step.items() if key != "selected_rows"}
                 | {"selected": [pool[i]["id"] for i in step["selected_rows"]]}
                 for step in selector.log])
    write_json(f"{out}/info.json", {"trainset": TRAINSET, **student.info, **usage,
                                    **run_record(), "selected_ids": selected})
    print(f"select_llkd: {student.info}; data usage {usage}")


if __name__ == "__main__":
    main()
