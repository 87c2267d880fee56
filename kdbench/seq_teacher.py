"""The few-shot prompted LLM teacher of the sequence tasks: greedy outputs with a confidence.

Backends: transformers (a local model; constrained or free decoding) or openai (a served model,
free decoding: kdbench/served.py).

Prompt: `shots` demonstrations from the labeled pool, each `Sentence: w1 w2 ...\\n<Field>: <target>`
and a blank line, then the query `Sentence: ...\\n<Field>:`. Constrained decoding (default) lets the
model choose only what the task's grammar allows (generation.py), so every output is readable;
unconstrained decoding is plain greedy up to the end of the line, and unreadable outputs are kept
(raw text, `readable` false, `output` null) and counted, never dropped silently.

Confidence, length-normalised so that short and long sentences compare: constrained, exp of the
mean log-probability of the decoder's choices among the tokens the grammar allowed (forced tokens
are no choices; kdbench/generation.py); unconstrained, exp of the mean token log-probability
under the full softmax.
"""

import math
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from kdbench import served
from kdbench.devices import of
from kdbench.errors import KDBenchError
from kdbench.generation import generate
from kdbench.lm import load_causal_lm
from kdbench.progress import progress
from kdbench.tasks import Prepared, Taught, pool_gold, summed

if TYPE_CHECKING:
    from kdbench.tasks.sequence import SequenceTask

SEPARATOR = "\n\n"


def prompt(task: "SequenceTask", words: Sequence[str]) -> str:
    return f"Sentence: {' '.join(words)}\n{task.output_field}:"


def prefix(task: "SequenceTask", shots: list[dict]) -> str:
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
    device = of(model)
    out = model.generate(torch.tensor([ids], device=device),
                         attention_mask=torch.ones(1, len(ids), dtype=int, device=device),
                         max_new_tokens=max_new_tokens, do_sample=False, output_scores=True,
                         return_dict_in_generate=True, **stop,
                         pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id)
    scores = model.compute_transition_scores(out.sequences, out.scores, normalize_logits=True)
    logprobs = [float(x) for x in scores[0] if math.isfinite(float(x))]
    text = tokenizer.decode(out.sequences[0, len(ids):], skip_special_tokens=True)
    return text.split("\n")[0].strip(), sum(logprobs) / max(len(logprobs), 1)


def _max_tokens(words: Sequence[str]) -> int:
    """Room for a bracket pair and a few tokens per word (or one tag per word)."""
    return 8 * len(words) + 16


def label_rows(task: "SequenceTask", model, tokenizer, shots: list[dict],
               rows: list[dict], tags: list[str], constrained: bool, unary: bool,
               batch_size: int = 1, server: dict | None = None) -> tuple[list[dict], dict]:
    """One output per row: {id, raw, output (null when unreadable), readable, confidence}.
    batch_size: prompts decoded together by constrained decoding (same outputs up to float
    error, faster); unconstrained decoding takes one at a time. With `server` (the teacher's
    server params), `model` is the served model's name and decoding is the server's (free)."""
    context = prefix(task, shots)
    queries = [prompt(task, r["words"]) for r in rows]
    start = time.time()
    if server is not None:
        outputs = served.generate(model, server, context, queries,
                                  [_max_tokens(r["words"]) for r in rows])
    elif constrained:
        generations = generate(model, tokenizer, context, queries,
                               [task.grammar(r["words"], tags, unary) for r in rows],
                               show_progress=True, end=SEPARATOR, batch_size=batch_size)
        outputs = [(g.text, g.mean_logprob) for g in generations]
    else:
        outputs = []
        with progress(len(rows), "generate") as bar:
            for row, query in zip(rows, queries, strict=True):
                outputs.append(_free_generate(model, tokenizer, context, query,
                                              _max_tokens(row["words"])))
                bar.update()
    labeled = []
    for row, (raw, mean_logprob) in zip(rows, outputs, strict=True):
        readable = task.readable(raw, row["words"], tags)
        labeled.append({"id": row["id"], "raw": raw, "output": raw if readable else None,
                        "readable": readable, "confidence": round(math.exp(mean_logprob), 6)})
    info = {"device": "server" if server else str(of(model)), "generated": len(rows),
            "unreadable": sum(not r["readable"] for r in labeled),
            "generation_s": round(time.time() - start, 2)}
    return labeled, info


def items(prepared: Prepared, demonstrations: list[dict]) -> list[dict]:
    """What the teacher labels: the pool and the test split."""
    return prepared.unlabeled + prepared.test


def label(task: "SequenceTask", teacher: dict, prepared: Prepared, demonstrations: list[dict],
          rows: list[dict]) -> dict:
    """Greedy (by default grammar-constrained) outputs for `rows` (some of `items`):
    {rows, info}, for `assemble`."""
    server = None
    if teacher["backend"] == "openai":
        if teacher["constrained"]:
            raise KDBenchError("teacher.backend 'openai' decodes freely (the server is sent no "
                               "grammar): set teacher.constrained to false")
        model, tokenizer, server = teacher["model"], None, teacher["server"]
    else:
        model, tokenizer = load_causal_lm(teacher["model"], teacher["dtype"], teacher["device"])
    outputs, info = label_rows(task, model, tokenizer, demonstrations, rows,
                               prepared.meta["tags"], teacher["constrained"],
                               teacher["unary"], teacher["batch_size"], server)
    return {"rows": outputs, "info": info}


def assemble(task: "SequenceTask", teacher: dict, prepared: Prepared,
             demonstrations: list[dict], shards: list[dict]) -> Taught:
    """The outputs on the pool and the test split and the trainset, from every shard's `label`
    output; unreadable outputs stay in the pool's predictions and out of the trainset."""
    unlabeled, test = prepared.unlabeled, prepared.test
    by_id = {o["id"]: o for shard in shards for o in shard["rows"]}
    missing = [r["id"] for r in items(prepared, demonstrations) if r["id"] not in by_id]
    if missing:
        raise KDBenchError(f"the teacher's shards lack {len(missing)} examples (e.g. "
                           f"{missing[:3]}): re-run every prompt_teacher shard")
    pool = [by_id[r["id"]] for r in unlabeled]
    test_rows = [by_id[r["id"]] for r in test]
    # Unreadable outputs stay in teacher/pool.jsonl; a student learns from readable ones.
    trainset = [task.trainset_row(u, o) for u, o in zip(unlabeled, pool, strict=True)
                if o["readable"]]
    info = summed([shard["info"] for shard in shards])
    info.update({
        "model": teacher["model"], "constrained": teacher["constrained"],
        "pool_unreadable": sum(not o["readable"] for o in pool),
        "test_unreadable": sum(not o["readable"] for o in test_rows),
        "trainset_size": len(trainset),
        "pool_quality": task.score([o["output"] for o in pool], pool_gold(task, unlabeled),
                                   prepared.meta),
    })
    print(f"prompt_teacher: {info['unreadable']} unreadable outputs")
    return Taught({"pool": pool, "test": test_rows}, trainset, info)
