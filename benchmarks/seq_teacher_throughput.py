"""Sequence teacher throughput on this machine: constrained decoding at several batch sizes,
against its floor and against an earlier revision's decoder, in one run.

Every variant decodes the same generated sentences (this project's grammar, as the sequence
benchmark's default data) with the same few-shot prompt, as `kdbench.seq_teacher.label_rows` does;
only `generate`'s batch_size differs. Batch size 1 is the baseline: each prompt alone.

- floor: the seconds spent in the model's forward calls without the output layer (the
  transformer layers and their KV cache), timed inside the same run; `vs_floor` is the variant's
  time over it, so what the choices, the selected logits and the bookkeeping add.
- `--baseline-rev`: the decoder of that git revision (default: the last one that ran the full
  output layer and softmax at every step), loaded from git, at the largest batch size; `speedup_
  vs_rev` compares the two, and the outputs are compared text by text.

Prints sentences/s and output tokens/s, the ratios, how many texts differ from the baseline's
(greedy near-ties can flip under float error), and writes a JSON file and a markdown table
beside it (docs/speed.md includes it). Timings are wall-clock on
whatever else the machine is doing; compare the ratios within one run.

    OMP_NUM_THREADS=1 python benchmarks/seq_teacher_throughput.py \\
        --out benchmarks/results/seq_teacher_cpu.json
"""

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from kdbench.demonstrations import sampled
from kdbench.generation import generate
from kdbench.io import write_json, write_text
from kdbench.lm import load_causal_lm
from kdbench.report import markdown_table
from kdbench.seq_teacher import SEPARATOR, prefix, prompt
from kdbench.seqdata import generate_treebank
from kdbench.tasks import get_task


class Timed:
    """The model as generate calls it, timing its forward calls without the output layer."""

    def __init__(self, model):
        self.model, self.config = model, model.config
        self.seconds = 0.0

    def base_model(self, *args, **kwargs):
        start = time.perf_counter()
        out = self.model.base_model(*args, **kwargs)
        self.seconds += time.perf_counter() - start
        return out

    def get_output_embeddings(self):
        return self.model.get_output_embeddings()

    def parameters(self):
        return self.model.parameters()


def decoder_at(rev: str):
    """kdbench/generation.py as it was at git revision `rev`, as a module."""
    root = Path(__file__).resolve().parents[1]
    source = subprocess.run(["git", "show", f"{rev}:kdbench/generation.py"], cwd=root,
                            capture_output=True, text=True, check=True).stdout
    path = Path(tempfile.mkdtemp()) / f"generation_{rev}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


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
    parser.add_argument("--baseline-rev", default="50d4f14",
                        help="git revision whose decoder to compare with ('' for none)")
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
        timed = Timed(model)
        start = time.perf_counter()
        outputs[batch_size] = generate(timed, tokenizer, context, queries, grammars,
                                       end=SEPARATOR, batch_size=batch_size)
        seconds = time.perf_counter() - start
        tokens = sum(g.n_tokens for g in outputs[batch_size])
        variants[batch_size] = {"seconds": round(seconds, 2),
                                "floor_seconds": round(timed.seconds, 2),
                                "vs_floor": round(seconds / timed.seconds, 2),
                                "sentences_per_s": round(args.n / seconds, 3),
                                "output_tokens_per_s": round(tokens / seconds, 1)}
        print(f"batch_size {batch_size}: {variants[batch_size]}", flush=True)

    baseline = args.batch_sizes[0]
    for batch_size, variant in variants.items():
        variant["speedup"] = round(variants[baseline]["seconds"] / variant["seconds"], 2)
        variant["texts_differing"] = sum(a.token_ids != b.token_ids for a, b in zip(
            outputs[baseline], outputs[batch_size], strict=True))
    revision = None
    if args.baseline_rev:
        largest = max(args.batch_sizes)
        start = time.perf_counter()
        old = decoder_at(args.baseline_rev).generate(model, tokenizer, context, queries,
                                                     grammars, end=SEPARATOR,
                                                     batch_size=largest)
        seconds = time.perf_counter() - start
        revision = {"rev": args.baseline_rev, "batch_size": largest, "seconds": round(seconds, 2),
                    "speedup_vs_rev": round(seconds / variants[largest]["seconds"], 2),
                    "texts_differing": sum(a.token_ids != b.token_ids for a, b in zip(
                        old, outputs[largest], strict=True))}
        print(f"revision {args.baseline_rev}: {revision}", flush=True)
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
        "baseline_revision": revision,
    }
    write_json(args.out, report)
    rows = [{"variant": f"batch {b}", **v} for b, v in variants.items()]
    if revision:
        rows.append({"variant": f"revision {revision['rev']}, batch {revision['batch_size']}",
                     "seconds": revision["seconds"],
                     "sentences_per_s": round(args.n / revision["seconds"], 3),
                     "speedup": round(variants[baseline]["seconds"] / revision["seconds"], 2),
                     "texts_differing": revision["texts_differing"]})
    table = markdown_table(rows, [
        ("variant", "variant"), ("seconds", "seconds"), ("sentences_per_s", "sentences/s"),
        ("floor_seconds", "floor s"), ("vs_floor", "time / floor"),
        ("speedup", f"speedup over batch {baseline}"),
        ("texts_differing", f"texts differing from batch {baseline}")])
    write_text(str(Path(args.out).with_suffix(".md")),
               f"{report['machine']}; {args.model}, {args.n} generated sentences of "
               f"{args.min_words}-{args.max_words} words, {args.shots} shots.\n\n{table}\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
