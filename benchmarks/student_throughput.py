"""Student throughput on this machine: training and inference, with and without length bucketing.

The project's student (MiniLM) on BBC texts, one run, side by side:
- train:   examples/s of the shared training loop (`kdbench.student.train`), batches shuffled
           vs length-bucketed (`student.length_bucketing`), one epoch each, run A-B-B-A;
- predict: examples/s of inference, batches in input order vs length-sorted (what
           `predict_proba` does).
Each at every --max-length, since bucketing only helps when texts are shorter than the cap.
Also prints the padding share of each variant (padded tokens / all tokens fed), and how close
training comes to this machine's matrix-multiply rate: the model's training FLOPs per example
(forward: 2 per weight of the transformer layers per token plus attention's two T x T products;
backward: twice the forward) times examples/s, against torch.mm on a matrix of the shape of the
feed-forward layer's (batch x tokens rows) timed in the same run. Writes JSON and a markdown
table beside it.

    python benchmarks/student_throughput.py --n 128 --out benchmarks/results/student_cpu.json
"""

import argparse
import json
import os
import platform
import time

import numpy as np
import torch

from kdbench.data import clean, load_bbc
from kdbench.io import write_json, write_text
from kdbench.report import markdown_table
from kdbench.student import (
    classification_losses,
    collate,
    encode,
    load_student,
    train,
    training_batches,
)


def padding_share(lengths: list[int], batches: list[np.ndarray]) -> float:
    fed = sum(max(lengths[i] for i in b) * len(b) for b in batches)
    return round(1 - sum(lengths) / fed, 3)


def predict_seconds(model, tokenizer, ids: list[list[int]], order: np.ndarray,
                    batch_size: int) -> float:
    start = time.perf_counter()
    with torch.no_grad():
        for i in range(0, len(order), batch_size):
            model(**collate(tokenizer, [ids[k] for k in order[i:i + batch_size]]))
    return time.perf_counter() - start


def matmul_gflops(rows: int, inner: int, cols: int, repeats: int = 20) -> float:
    """GFLOP/s of float32 torch.mm at this shape (the best of three rounds)."""
    a, b = torch.randn(rows, inner), torch.randn(inner, cols)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(repeats):
            torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * rows * inner * cols * repeats / best / 1e9


def train_gflop_per_example(config, tokens: float) -> float:
    """Training FLOPs of one example of `tokens` tokens, in GFLOP (embeddings and the head
    left out: they are lookups and a 384 x C product)."""
    d, ff, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    per_token = layers * (2 * (4 * d * d + 2 * d * ff) + 4 * tokens * d)
    return 3 * per_token * tokens / 1e9


def write_table(report: dict, path: str) -> None:
    rows = [{"max_length": name.removeprefix("max_length_"), **run,
             **{f"{k}_per_s": run[k]["examples_per_s"]
                for k in ("train_shuffled", "train_bucketed", "predict_length_sorted")},
             "matmul": report["matmul_gflop_per_s"]} for name, run in report["runs"].items()]
    table = markdown_table(rows, [
        ("max_length", "max length"), ("mean_tokens", "mean tokens"),
        ("train_shuffled_per_s", "train ex/s (shuffled)"),
        ("train_bucketed_per_s", "train ex/s (bucketed)"),
        ("predict_length_sorted_per_s", "predict ex/s (sorted)"),
        ("train_gflop_per_s", "train GFLOP/s"), ("matmul", "matmul GFLOP/s"),
        ("share_of_matmul_rate", "share of matmul rate")])
    write_text(path, f"{report['machine']}; {report['model']}, {report['examples']} BBC texts, "
                     f"batch {report['batch_size']}.\n\n{table}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="all-minilm-l6-v2")
    parser.add_argument("--n", type=int, default=128)
    parser.add_argument("--max-length", type=int, nargs="+", default=[128, 512])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--out", default="benchmarks/results/student_cpu.json")
    args = parser.parse_args()

    rows, labels, _ = clean(load_bbc(), None, dedup=True)
    picked = [rows[i] for i in np.random.default_rng(0).permutation(len(rows))[:args.n]]
    index = {label: k for k, label in enumerate(labels)}
    targets = [index[r["label"]] for r in picked]
    report = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, torch "
                         f"{torch.__version__}, {torch.get_num_threads()} threads",
              "model": args.model, "examples": args.n, "batch_size": args.batch_size,
              "runs": {}}
    for max_length in args.max_length:
        student = {"batch_size": args.batch_size, "lr": 1e-4, "weight_decay": 0.01,
                   "warmup_ratio": 0.0}
        model, tokenizer = load_student(args.model, len(labels), seed=0)
        ids = encode(tokenizer, [r["text"] for r in picked], max_length)
        lengths = [len(x) for x in ids]
        run = {"mean_tokens": round(float(np.mean(lengths)), 1)}
        warm = args.batch_size * 2  # first steps allocate: keep them out of both timings
        train(model, lengths[:warm], classification_losses(model, tokenizer, ids, targets),
              {**student, "length_bucketing": False}, epochs=1, seed=0)
        seconds = {False: 0.0, True: 0.0}
        # A-B-B-A order: whichever runs first or last pays the same drift, so neither is favoured.
        for bucketing in (False, True, True, False):
            log = train(model, lengths, classification_losses(model, tokenizer, ids, targets),
                        {**student, "length_bucketing": bucketing}, epochs=1, seed=0)
            seconds[bucketing] += log.wall_s
        for bucketing, name in ((False, "shuffled"), (True, "bucketed")):
            batches = list(training_batches(lengths, args.batch_size, bucketing,
                                            np.random.default_rng(0)))
            run[f"train_{name}"] = {"examples_per_s": round(2 * args.n / seconds[bucketing], 2),
                                    "padding_share": padding_share(lengths, batches)}
        for name, order in (("input_order", np.arange(args.n)),
                            ("length_sorted", np.argsort(lengths, kind="stable"))):
            predict_seconds(model, tokenizer, ids, order[:8], 64)  # warm-up
            seconds = predict_seconds(model, tokenizer, ids, order, 64)
            batches = [order[i:i + 64] for i in range(0, args.n, 64)]
            run[f"predict_{name}"] = {"examples_per_s": round(args.n / seconds, 2),
                                      "padding_share": padding_share(lengths, batches)}
        run["train_bucketed_speedup"] = round(run["train_bucketed"]["examples_per_s"]
                                              / run["train_shuffled"]["examples_per_s"], 2)
        run["predict_sorted_speedup"] = round(run["predict_length_sorted"]["examples_per_s"]
                                              / run["predict_input_order"]["examples_per_s"], 2)
        flops = train_gflop_per_example(model.config, run["mean_tokens"])
        run["train_gflop_per_example"] = round(flops, 3)
        run["train_gflop_per_s"] = round(flops * run["train_shuffled"]["examples_per_s"], 1)
        report["runs"][f"max_length_{max_length}"] = run
    rows = args.batch_size * min(args.max_length)
    report["matmul_shape"] = [rows, model.config.hidden_size, model.config.intermediate_size]
    report["matmul_gflop_per_s"] = round(matmul_gflops(*report["matmul_shape"]), 1)
    for run in report["runs"].values():
        run["share_of_matmul_rate"] = round(run["train_gflop_per_s"]
                                            / report["matmul_gflop_per_s"], 3)
    write_json(args.out, report)
    write_table(report, args.out.removesuffix(".json") + ".md")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
