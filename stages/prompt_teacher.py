"""Few-shot prompt the LLM teacher: a label distribution (classification) or a greedy output with
its confidence (sequence) for every unlabeled and test example. The pseudolabeled pool is
trainsets/vanilla_kd.jsonl: every distillation method starts from it."""

import time
from collections import Counter

import numpy as np

from kdbench.errors import peak_memory_gib, report_errors
from kdbench.io import read_json, read_jsonl, write_json, write_jsonl
from kdbench.params import load_params, stage_parser
from kdbench.seq_teacher import label_rows, pick_shots
from kdbench.student import prediction_rows
from kdbench.tasks import get_task
from kdbench.teacher import (
    COLLAPSE_FRACTION,
    PromptSpec,
    calibrate,
    label_examples,
    load_causal_lm,
    majority_fraction,
    make_scorer,
    pick_demonstrations,
)


def teach_sequence(params: dict, seed: int, out: str) -> None:
    sequence, teacher = params["sequence"], params["sequence"]["teacher"]
    task = get_task(sequence["task"])
    tags = read_json(f"{out}/prepared/task.json")["tags"]
    labeled, unlabeled, test = (read_jsonl(f"{out}/prepared/{name}.jsonl")
                                for name in ("labeled", "unlabeled", "test"))
    shots = pick_shots(labeled, teacher["shots"], seed)
    start = time.time()
    model, tokenizer = load_causal_lm(teacher["model"], teacher["dtype"])
    load_s = time.time() - start
    outputs, info = label_rows(task, model, tokenizer, shots, unlabeled + test, tags,
                               teacher["constrained"], teacher["unary"], teacher["batch_size"])
    pool, test_rows = outputs[:len(unlabeled)], outputs[len(unlabeled):]
    # Unreadable outputs stay in teacher/pool.jsonl; a student can only learn from readable ones.
    trainset = [{"id": u["id"], "words": u["words"], "target": o["output"],
                 "confidence": o["confidence"]}
                for u, o in zip(unlabeled, pool, strict=True) if o["readable"]]
    pool_gold = [{**u, "target": u["gold"]} for u in unlabeled]
    info.update({
        "model": teacher["model"], "constrained": teacher["constrained"],
        "load_s": round(load_s, 2), "wall_s": round(time.time() - start, 2),
        "demonstrations": [r["id"] for r in shots],
        "pool_unreadable": sum(not o["readable"] for o in pool),
        "test_unreadable": sum(not o["readable"] for o in test_rows),
        "trainset_size": len(trainset),
        "pool_quality": task.score([o["output"] or "" for o in pool], pool_gold),
    })
    write_jsonl(f"{out}/trainsets/vanilla_kd.jsonl", trainset)
    write_jsonl(f"{out}/teacher/pool.jsonl", pool)
    write_jsonl(f"{out}/teacher/test.jsonl", test_rows)
    write_json(f"{out}/teacher/info.json", {**info, "peak_memory_gib": peak_memory_gib()})
    print(f"prompt_teacher: {task.name}: {len(outputs)} outputs in {info['wall_s']} s, "
          f"{info['unreadable']} unreadable; pool quality (analysis only) {info['pool_quality']}")


def teach_classification(params: dict, seed: int, out: str) -> None:
    prepared = f"{out}/prepared"
    teacher = params["teacher"]
    labels = read_json(f"{prepared}/labels.json")["labels"]
    labeled = read_jsonl(f"{prepared}/labeled.jsonl")
    unlabeled = read_jsonl(f"{prepared}/unlabeled.jsonl")
    test = read_jsonl(f"{prepared}/test.jsonl")
    spec = PromptSpec.from_params(teacher, labels)
    demos = pick_demonstrations(labeled, labels, teacher["shots_per_class"], seed)

    # The labeled pool minus the demonstrations is gold the teacher has not seen: a dev set.
    dev = [r for r in labeled if r["id"] not in {d["id"] for d in demos}]
    start = time.time()
    scorer = make_scorer(teacher)
    load_s = time.time() - start
    texts = [r["text"] for r in unlabeled + test + dev]
    raw, prior, info = label_examples(scorer, spec, demos, texts)
    probs = calibrate(raw, prior) if teacher["calibrate"] else raw
    pool = prediction_rows([r["id"] for r in unlabeled], probs[: len(unlabeled)], labels)
    test_rows = prediction_rows([r["id"] for r in test],
                                probs[len(unlabeled): len(unlabeled) + len(test)], labels)
    # The pseudolabeled pool is a trainset: the text travels with the teacher's label.
    trainset = [{"id": u["id"], "text": u["text"], "label": p["label"], "probs": p["probs"]}
                for u, p in zip(unlabeled, pool, strict=True)]
    counts = Counter(r["label"] for r in trainset)
    dev_gold = np.array([labels.index(r["label"]) for r in dev])
    dev_raw = raw[len(unlabeled) + len(test):]

    def dev_accuracy(dev_probs: np.ndarray) -> float | None:
        return round(float(np.mean(dev_probs.argmax(axis=1) == dev_gold)), 4) if dev else None

    info.update({
        "model": teacher["model"], "backend": teacher["backend"], "load_s": round(load_s, 2),
        "wall_s": round(time.time() - start, 2), "calibrated": teacher["calibrate"],
        "demonstrations": [d["id"] for d in demos],
        "dev_examples": len(dev),
        "dev_accuracy_uncalibrated": dev_accuracy(dev_raw),
        "dev_accuracy_calibrated": dev_accuracy(calibrate(dev_raw, prior)),
        "pool_label_counts": {label: counts.get(label, 0) for label in labels},
        "majority_label_fraction": majority_fraction(counts),
        "pool_accuracy": round(
            sum(p["label"] == u["gold"] for p, u in zip(pool, unlabeled, strict=True))
            / len(unlabeled), 4),
    })
    if info["majority_label_fraction"] > COLLAPSE_FRACTION:
        print(f"prompt_teacher: warning: {info['majority_label_fraction']:.0%} of pseudolabels are "
              "one label: the teacher has collapsed; try teacher.calibrate or other shots")
    write_jsonl(f"{out}/trainsets/vanilla_kd.jsonl", trainset)
    write_jsonl(f"{out}/teacher/test.jsonl", test_rows)
    write_json(f"{out}/teacher/info.json", {**info, "peak_memory_gib": peak_memory_gib()})
    print(f"prompt_teacher: {len(texts)} examples in {info['wall_s']} s; dev accuracy "
          f"(labeled pool minus demonstrations) {info['dev_accuracy_uncalibrated']} raw, "
          f"{info['dev_accuracy_calibrated']} calibrated; pseudolabel accuracy on the pool "
          f"(analysis only) {info['pool_accuracy']}; label counts {dict(counts)}")


@report_errors
def main() -> None:
    args = stage_parser(__doc__).parse_args()
    params = load_params(args.params)
    if args.benchmark == "sequence":
        teach_sequence(params, args.seed, args.dir)
    else:
        teach_classification(params, args.seed, args.dir)


if __name__ == "__main__":
    main()
