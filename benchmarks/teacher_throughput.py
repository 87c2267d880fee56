"""Teacher labeling throughput on this machine, side by side in one run.

Variants, all scoring the same examples with the same prompt:
- naive:   the whole prompt (few-shot prefix + example) through the model for every example;
- cached:  the stage's own scorer (kdbench.teacher.TransformersScorer) one example at a time:
           the prefix's KV cache computed once and copied;
- batched: the same scorer at --batch-size (the pipeline's teacher.batch_size): right-padded
           batches after the cached prefix, the output layer only where a label is read;
- floor:   the example's own tokens alone, no prefix: what a perfect prefix cache would cost.
Prints examples/s, prompt tokens/s and ratios, checks the variants give the same label scores
as naive, and writes a JSON file and a markdown table beside it (docs/speed.md includes it).
Timings are wall-clock on whatever else the machine is doing.

    python benchmarks/teacher_throughput.py --n 40 --out benchmarks/results/teacher_cpu.json
"""

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from kdbench.data import clean, load_bbc, split
from kdbench.demonstrations import per_class
from kdbench.io import write_json, write_text
from kdbench.report import markdown_table
from kdbench.teacher import PromptSpec, TransformersScorer


def token_ids(scorer: TransformersScorer, text: str, special: bool = False) -> list[int]:
    return scorer.tokenizer(text, add_special_tokens=special)["input_ids"]


def naive_scores(scorer: TransformersScorer, prefix: str, queries: list[str],
                 label_ids: list[int]) -> np.ndarray:
    prefix_ids = token_ids(scorer, prefix, special=True)
    out = np.zeros((len(queries), len(label_ids)))
    with torch.no_grad():
        for row, query in enumerate(queries):
            ids = torch.tensor([prefix_ids + token_ids(scorer, query)])
            logits = scorer.model(ids, logits_to_keep=1).logits[0, -1].float()
            out[row] = torch.log_softmax(logits, dim=-1)[label_ids].numpy()
    return out


def floor_pass(scorer: TransformersScorer, queries: list[str]) -> None:
    with torch.no_grad():
        for query in queries:
            scorer.model(torch.tensor([token_ids(scorer, query, special=True)]), logits_to_keep=1)


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="gemma3-270m")
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--shots-per-class", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=8, help="of the batched variant")
    parser.add_argument("--out", default="benchmarks/results/teacher_cpu.json")
    args = parser.parse_args()

    rows, labels, _ = clean(load_bbc(), None, dedup=True)
    splits = split(rows, labels, 50, args.n, 10, seed=0)
    spec = PromptSpec("", "Article", "Topic", {label: label for label in labels}, 40, 60)
    demos = per_class(splits.labeled, labels, args.shots_per_class, seed=0)
    prefix = spec.prefix(demos)
    queries = [spec.query(r["text"]) for r in splits.unlabeled]

    load_s, scorer = timed(lambda: TransformersScorer(args.model, batch_size=1))
    batched = TransformersScorer("unused", model=scorer.model, tokenizer=scorer.tokenizer,
                                 batch_size=args.batch_size)
    label_ids = [token_ids(scorer, c)[0] for c in spec.continuations()]
    assert all(len(token_ids(scorer, c)) == 1 for c in spec.continuations()), "single-token labels"
    prefix_tokens = len(token_ids(scorer, prefix, special=True))
    query_tokens = sum(len(token_ids(scorer, q)) for q in queries)

    floor_pass(scorer, queries[:2])  # warm-up: first calls allocate
    results = {}
    for name, fn in [
        ("naive", lambda: naive_scores(scorer, prefix, queries, label_ids)),
        ("cached", lambda: scorer.score(prefix, queries, spec.continuations())),
        ("batched", lambda: batched.score(prefix, queries, spec.continuations())),
        ("floor", lambda: floor_pass(scorer, queries)),
    ]:
        seconds, scores = timed(fn)
        tokens = query_tokens + (prefix_tokens * len(queries) if name == "naive" else 0)
        results[name] = {"seconds": round(seconds, 3),
                         "examples_per_s": round(len(queries) / seconds, 3),
                         "prompt_tokens_per_s": round(tokens / seconds, 1)}
        if name != "floor":
            results[name]["scores"] = scores

    naive = results["naive"]["scores"]
    same = {name: bool(np.array_equal(naive.argmax(1), results[name]["scores"].argmax(1)))
            for name in ("cached", "batched")}
    max_diff = {name: float(np.abs(naive - results[name]["scores"]).max())
                for name in ("cached", "batched")}
    for name in ("naive", "cached", "batched"):
        del results[name]["scores"]
    report = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch "
                   f"{torch.__version__}, {torch.get_num_threads()} threads",
        "model": args.model, "examples": len(queries),
        "prefix_tokens": prefix_tokens,
        "mean_example_tokens": round(query_tokens / len(queries), 1),
        "model_load_s": round(load_s, 2), **results,
        "cached_speedup_over_naive": round(results["naive"]["seconds"]
                                           / results["cached"]["seconds"], 2),
        "batched_speedup_over_naive": round(results["naive"]["seconds"]
                                            / results["batched"]["seconds"], 2),
        "cached_over_floor": round(results["cached"]["seconds"] / results["floor"]["seconds"], 2),
        "batched_over_floor": round(results["batched"]["seconds"]
                                    / results["floor"]["seconds"], 2),
        "batch_size": args.batch_size,
        "same_predictions_as_naive": same, "max_abs_logprob_diff_vs_naive": max_diff,
    }
    write_json(args.out, report)
    table = markdown_table(
        [{"variant": name, **results[name],
          "vs_floor": round(results[name]["seconds"] / results["floor"]["seconds"], 2)}
         for name in ("naive", "cached", "batched", "floor")],
        [("variant", "variant"), ("seconds", "seconds"), ("examples_per_s", "examples/s"),
         ("vs_floor", "time / floor")])
    write_text(str(Path(args.out).with_suffix(".md")),
               f"{report['machine']}; {args.model}, {len(queries)} BBC examples, "
               f"{prefix_tokens} prefix tokens, batch {args.batch_size}.\n\n{table}\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
