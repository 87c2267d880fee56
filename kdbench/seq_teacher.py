"""The few-shot prompted LLM teacher of the sequence tasks: greedy outputs with a confidence.

Prompt: `shots` demonstrations from the labeled pool, each `Sentence: w1 w2 ...\\n<Field>: <target>`
and a blank line, then the query `Sentence: ...\\n<Field>:`. Constrained decoding (default) lets the
model choose only what the task's grammar allows (generation.py), so every output is readable;
unconstrained decoding is plain greedy up to the end of the line, and unreadable outputs are kept
(raw text, `readable` false, `output` null) and counted, never dropped silently.

Confidence = exp(mean per-token log-probability) of the output: a length-normalised sequence
probability, comparable between short and long sentences.
"""

import math
import random
import time
from collections.abc import Sequence

from kdbench.errors import KDBenchError
from kdbench.generation import generate
from kdbench.tasks import Constituency, SlotTagging

SEPARATOR = "\n\n"


def pick_shots(labeled: list[dict], shots: int, seed: int) -> list[dict]:
    """`shots` demonstrations drawn from the labeled pool, seeded."""
    if shots > len(labeled):
        raise KDBenchError(f"sequence.teacher.shots = {shots} but the labeled pool has "
                           f"{len(labeled)} sentences; lower it or raise sequence.n_labeled")
    return random.Random(seed).sample(labeled, shots)


def prompt(task: Constituency | SlotTagging, words: Sequence[str]) -> str:
    return f"Sentence: {' '.join(words)}\n{task.output_field}:"


def prefix(task: Constituency | SlotTagging, shots: list[dict]) -> str:
    return "".join(f"{prompt(task, r['words'])} {r['target']}{SEPARATOR}" for r in shots)


def _free_generate(model, tokenizer, context: str, query: str, max_new_tokens: int
                   ) -> tuple[str, float]:
    """Plain greedy continuation up to the first newline, and its mean token log-prob."""
    import torch

    ids = tokenizer(context, add_special_tokens=True)["input_ids"]
    ids += tokenizer(query, add_special_tokens=False)["input_ids"]
    # Stop at the end of the line where the vocabulary can write one (WordPiece cannot).
    newline = tokenizer("\n", add_special_tokens=False)["input_ids"]
    stop = {"stop_strings": ["\n"], "tokenizer": tokenizer} if newline else {}
    out = model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=int),
                         max_new_tokens=max_new_tokens, do_sample=False, output_scores=True,
                         return_dict_in_generate=True, **stop,
                         pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id)
    scores = model.compute_transition_scores(out.sequences, out.scores, normalize_logits=True)
    logprobs = [float(x) for x in scores[0] if math.isfinite(float(x))]
    text = tokenizer.decode(out.sequences[0, len(ids):], skip_special_tokens=True)
    return text.split("\n")[0].strip(), sum(logprobs) / max(len(logprobs), 1)


def label_rows(task: Constituency | SlotTagging, model, tokenizer, shots: list[dict],
               rows: list[dict], tags: list[str], constrained: bool, unary: bool,
               batch_size: int = 1) -> tuple[list[dict], dict]:
    """One output per row: {id, raw, output (null when unreadable), readable, confidence}.
    batch_size: prompts decoded together by constrained decoding (same outputs up to float
    error, faster); unconstrained decoding takes one at a time."""
    context = prefix(task, shots)
    queries = [prompt(task, r["words"]) for r in rows]
    start = time.time()
    if constrained:
        generations = generate(model, tokenizer, context, queries,
                               [task.grammar(r["words"], tags, unary) for r in rows],
                               progress=True, end=SEPARATOR, batch_size=batch_size)
        outputs = [(g.text, g.mean_logprob) for g in generations]
    else:
        outputs = []
        for i, (row, query) in enumerate(zip(rows, queries, strict=True)):
            # Room for a bracket pair and a few tokens per word (or one tag per word).
            outputs.append(_free_generate(model, tokenizer, context, query,
                                          8 * len(row["words"]) + 16))
            if (i + 1) % 10 == 0:
                print(f"  teacher: {i + 1}/{len(rows)}", flush=True)
    labeled = []
    for row, (raw, mean_logprob) in zip(rows, outputs, strict=True):
        readable = task.readable(raw, row["words"], tags)
        labeled.append({"id": row["id"], "raw": raw, "output": raw if readable else None,
                        "readable": readable, "confidence": round(math.exp(mean_logprob), 6)})
    info = {"generated": len(rows), "unreadable": sum(not r["readable"] for r in labeled),
            "generation_s": round(time.time() - start, 2)}
    return labeled, info
