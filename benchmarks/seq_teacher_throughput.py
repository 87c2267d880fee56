"""Sequence teacher throughput on this machine: constrained decoding at several batch sizes.

Every variant decodes the same generated sentences (this project's grammar, as the sequence
benchmark's default data) with the same few-shot prompt, as `kdbench.seq_teacher.label_rows` does;
only `generate`'s batch_size differs. Batch size 1 is the baseline: each prompt alone, fed whole
in one call and its forced tokens in runs. Prints sentences/s and output tokens/s, the speedup
over batch size 1 measured in the same run, how many texts differ from batch size 1's (greedy
near-ties can flip under float error) and the largest log-prob difference among the others, and
writes a JSON file. Timings are wall-clock on whatever else the machine is doing; compare the
ratios within one run.

    OMP_NUM_THREADS=1 python benchmarks/seq_teacher_throughput.py \\
        --out benchmarks/results/seq_teacher_cpu.json
"""

import argparse
import json
import os
import platform
import time

import torch

from kdbench.demonstrations import sampled
from kdbench.generation import generate
from kdbench.io import write_json
from kdbench.lm import load_causal_lm
from kdbench.seq_teacher import SEPARATOR, prefix, prompt
from kdbench.seqdata import generate_treebank
from kdbench.tasks import get_task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="gemma3-270m")
    parser.add_argument("--n", type=int, default=16, help="sentences decoded per variant")
    parser.add_argument("--shots", type=int, default=8)
    parser.add_argument("--min-words", type=int, default=4)
    # Below params.yaml's 15, so that the four default variants take about 5 minutes here.
    parser.add_argument("--max-words", type=int, default=10)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 4, 8, 16],
                        help="the first is the baseline")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default="benchmarks/results/seq_teacher_cpu.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    task = get_task("constituency")
    rows = generate_treebank(args.n + 4 * args.shots, seed=0, min_words=args.min_words,
                             max_words=args.max_words)
    sentences, pool = rows[:args.n], rows[args.n:]
    context = prefix(task, sampled(pool, args.shots, seed=0))
    queries = [prompt(task, r["words"]) for r in sentences]
    grammars = [task.grammar(r["words"], [], unary=True) for r in sentences]

    start = time.perf_counter()
    model, tokenizer = load_causal_lm(args.model)
    load_s = time.perf_counter() - start
    generate(model, tokenizer, context, queries[:1], grammars[:1], end=SEPARATOR)  # warm-up

    variants, outputs = {}, {}
    for batch_size in args.batch_sizes:
        start = time.perf_counter()
        outputs[batch_size] = generate(model, tokenizer, context, queries, grammars,
                                       end=SEPARATOR, batch_size=batch_size)
        seconds = time.perf_counter() - start
        tokens = sum(g.n_tokens for g in outputs[batch_size])
        variants[batch_size] = {"seconds": round(seconds, 2),
                                "sentences_per_s": round(args.n / seconds, 3),
                                "output_tokens_per_s": round(tokens / seconds, 1)}
        print(f"batch_size {batch_size}: {variants[batch_size]}", flush=True)

    baseline = args.batch_sizes[0]
    for batch_size, variant in variants.items():
        pairs = list(zip(outputs[baseline], outputs[batch_size], strict=True))
        same = [(a, b) for a, b in pairs if a.token_ids == b.token_ids]
        variant["speedup"] = round(variants[baseline]["seconds"] / variant["seconds"], 2)
        variant["texts_differing"] = len(pairs) - len(same)
        variant["max_abs_logprob_diff"] = max(
            (abs(x - y) for a, b in same for x, y in zip(a.token_logprobs, b.token_logprobs,
                                                         strict=True)), default=0.0)
    report = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch "
                   f"{torch.__version__}, {torch.get_num_threads()} threads",
        "model": args.model, "sentences": args.n, "shots": args.shots,
        "words": [args.min_words, args.max_words],
        "words_per_sentence": round(sum(len(r["words"]) for r in sentences) / args.n, 1),
        "prefix_tokens": len(tokenizer(context)["input_ids"]),
        "output_tokens": sum(g.n_tokens for g in outputs[baseline]),
        "model_load_s": round(load_s, 2), "baseline_batch_size": baseline,
        "batch_sizes": {str(b): v for b, v in variants.items()},
    }
    write_json(args.out, report)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
