"""The few-shot prompted LLM teacher: prompts, label scoring, calibration, backends.

Each label is scored by the summed log-probability of its verbalizer after the prompt, then
normalised over the label set, so the teacher gives a full distribution, not only an argmax.
"""

import time
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from kdbench.assets import dequantised, resolve_model
from kdbench.devices import of
from kdbench.errors import KDBenchError
from kdbench.io import prediction_rows
from kdbench.lm import load_causal_lm, prefix_cache, token_logprobs
from kdbench.progress import progress
from kdbench.served import ServedScorer
from kdbench.tasks import Prepared, Taught, summed

if TYPE_CHECKING:
    from kdbench.tasks import Task

CONTENT_FREE_INPUT = "N/A"


@dataclass(frozen=True)
class PromptSpec:
    instruction: str  # may contain {labels}; empty = no instruction line
    input_name: str
    label_name: str
    verbalizers: dict[str, str]
    shot_words: int
    input_words: int

    @classmethod
    def from_params(cls, teacher: dict, labels: list[str]) -> "PromptSpec":
        verbalizers = dict(teacher["verbalizers"] or {})
        unknown = sorted(set(verbalizers) - set(labels))
        if unknown:
            raise KDBenchError(f"params: teacher.verbalizers has {unknown}, not in labels {labels}")
        verbalizers = {label: verbalizers.get(label, label) for label in labels}
        return cls(teacher["instruction"], teacher["input_name"], teacher["label_name"],
                   verbalizers, teacher["shot_words"], teacher["input_words"])

    def query(self, text: str, words: int | None = None) -> str:
        text = truncate_words(text, words or self.input_words)
        return f"{self.input_name}: {text}\n{self.label_name}:"

    def prefix(self, demonstrations: list[dict]) -> str:
        head = ""
        if self.instruction:
            head = self.instruction.format(labels=", ".join(self.verbalizers.values())) + "\n\n"
        shots = "".join(
            f"{self.query(d['text'], self.shot_words)} {self.verbalizers[d['label']]}\n\n"
            for d in demonstrations
        )
        return head + shots

    def continuations(self) -> list[str]:
        return [" " + word for word in self.verbalizers.values()]


def truncate_words(text: str, words: int) -> str:
    return " ".join(text.split()[:words])


class Scorer(Protocol):
    info: dict  # what the backend reports about its scores, merged into the teacher's info

    def score(self, prefix: str, queries: list[str], continuations: list[str],
              show_progress: bool = False) -> np.ndarray:
        """Summed log-probability of each continuation after prefix + query: shape (N, C)."""


class TransformersScorer:
    """Scores continuations with a causal LM: the few-shot prefix's KV cache is computed once,
    queries go through in right-padded batches of `batch_size`, and only the positions read
    go through the output layer."""

    def __init__(self, model_name: str, dtype: str = "float32", model=None, tokenizer=None,
                 batch_size: int = 8, device: str = "cpu"):
        import torch

        self.torch = torch
        if model is None:
            model, tokenizer = load_causal_lm(model_name, dtype, device)
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.info: dict = {"device": str(of(self.model))}

    def _ids(self, text: str, special: bool = False) -> list[int]:
        return self.tokenizer(text, add_special_tokens=special)["input_ids"]

    def score(self, prefix: str, queries: list[str], continuations: list[str],
              show_progress: bool = False) -> np.ndarray:
        prefix_ids = self._ids(prefix, special=True)
        cont_ids = [self._ids(c) for c in continuations]
        if any(not ids for ids in cont_ids):
            raise KDBenchError(f"a verbalizer tokenizes to nothing: {continuations}")
        # One item per query: its last token predicts every continuation's first token. A
        # multi-token continuation adds an item, the query and its leading tokens, whose last
        # positions predict its other tokens.
        items = []
        for row, query in enumerate(queries):
            ids = self._ids(query)
            if not ids:
                raise KDBenchError(f"query {row} tokenizes to nothing: {query!r}")
            items.append((row, ids, [(len(ids) - 1, c[0], col) for col, c in enumerate(cont_ids)]))
            items += [(row, ids + c[:-1], [(len(ids) + i - 1, c[i], col) for i in range(1, len(c))])
                      for col, c in enumerate(cont_ids) if len(c) > 1]
        # Items of similar lengths batched together pad less.
        order = sorted(range(len(items)), key=lambda i: len(items[i][1]))
        scores = np.zeros((len(queries), len(continuations)))
        with self.torch.no_grad(), progress(len(items), "teacher", show=show_progress) as bar:
            cache = prefix_cache(self.model, prefix_ids)
            for start in range(0, len(order), self.batch_size):
                batch = [items[i] for i in order[start:start + self.batch_size]]
                targets = [[(p, t) for p, t, _ in wanted] for _, _, wanted in batch]
                logprobs = token_logprobs(self.model, cache, len(prefix_ids),
                                          [ids for _, ids, _ in batch], targets)
                for (row, _, wanted), values in zip(batch, logprobs, strict=True):
                    for (_, _, col), value in zip(wanted, values, strict=True):
                        scores[row, col] += value
                bar.update(len(batch))
        return scores


class VLLMScorer:
    """Scores continuations with vLLM prompt log-probs; the shared prefix is cached by vLLM."""

    def __init__(self, model_name: str, dtype: str, tensor_parallel_size: int,
                 gpu_memory_utilization: float):
        try:
            from vllm import LLM, SamplingParams
        except ImportError:
            raise KDBenchError("teacher.backend = 'vllm' needs the vllm extra on a GPU machine: "
                               "pip install -e '.[vllm]'") from None
        model_dir = dequantised(resolve_model(model_name)).directory
        self.llm = LLM(model=str(model_dir), dtype=dtype, enable_prefix_caching=True,
                       tensor_parallel_size=tensor_parallel_size,
                       gpu_memory_utilization=gpu_memory_utilization)
        self.tokenizer = self.llm.get_tokenizer()
        self.sampling = SamplingParams(max_tokens=1, prompt_logprobs=0)
        self.info: dict = {"device": "vllm"}

    def score(self, prefix: str, queries: list[str], continuations: list[str],
              show_progress: bool = False) -> np.ndarray:
        # Token ids are joined exactly as the transformers backend joins them.
        prefix_ids = self.tokenizer(prefix, add_special_tokens=True)["input_ids"]
        cont_ids = [self.tokenizer(c, add_special_tokens=False)["input_ids"] for c in continuations]
        prompts, spans = [], []
        for query in queries:
            base = prefix_ids + self.tokenizer(query, add_special_tokens=False)["input_ids"]
            for ids in cont_ids:
                prompts.append({"prompt_token_ids": base + ids})
                spans.append((len(base), ids))
        outputs = self.llm.generate(prompts, self.sampling, use_tqdm=show_progress)
        flat = np.zeros(len(prompts))
        for i, (output, (start, ids)) in enumerate(zip(outputs, spans, strict=True)):
            positions = output.prompt_logprobs[start:start + len(ids)]
            flat[i] = sum(pos[tok].logprob for pos, tok in zip(positions, ids, strict=True))
        return flat.reshape(len(queries), len(continuations))


def make_scorer(teacher: dict) -> Scorer:
    if teacher["backend"] == "openai":
        return ServedScorer(teacher["model"], teacher["server"])
    if teacher["backend"] == "vllm":
        return VLLMScorer(teacher["model"], teacher["dtype"], teacher["tensor_parallel_size"],
                          teacher["gpu_memory_utilization"])
    return TransformersScorer(teacher["model"], teacher["dtype"],
                              batch_size=teacher["batch_size"], device=teacher["device"])


def normalise(scores: np.ndarray) -> np.ndarray:
    """Softmax over the label set of summed verbalizer log-probs."""
    shifted = scores - scores.max(axis=-1, keepdims=True)
    probs = np.exp(shifted)
    return probs / probs.sum(axis=-1, keepdims=True)


def calibrate(probs: np.ndarray, content_free: np.ndarray) -> np.ndarray:
    """Contextual calibration: divide by the label prior seen on a content-free input."""
    adjusted = probs / content_free
    return adjusted / adjusted.sum(axis=-1, keepdims=True)


COLLAPSE_FRACTION = 0.9


def majority_fraction(label_counts: dict[str, int]) -> float:
    """Share of the commonest label: near 1 means the teacher puts its mass on one label."""
    total = sum(label_counts.values())
    return round(max(label_counts.values()) / total, 4) if total else 0.0


def label_examples(scorer: Scorer, spec: PromptSpec, demonstrations: list[dict],
                   texts: list[str]) -> tuple[np.ndarray, np.ndarray, dict]:
    """Uncalibrated teacher distribution for each text, the content-free prior, and timings."""
    prefix = spec.prefix(demonstrations)
    continuations = spec.continuations()
    start = time.time()
    probs = normalise(scorer.score(prefix, [spec.query(t) for t in texts], continuations,
                                   show_progress=True))
    info = {"n_scored": len(texts), "scoring_s": round(time.time() - start, 2)}
    prior = normalise(scorer.score(prefix, [spec.query(CONTENT_FREE_INPUT)], continuations))[0]
    info["content_free_prior"] = [round(float(p), 4) for p in prior]
    info.update(scorer.info)
    return probs, prior, info


def items(prepared: Prepared, demonstrations: list[dict]) -> list[dict]:
    """What the teacher labels: the pool, the test split and, as a dev set, the labeled pool
    minus the demonstrations (gold the teacher has not seen)."""
    shown = {d["id"] for d in demonstrations}
    return prepared.unlabeled + prepared.test + [r for r in prepared.labeled
                                                 if r["id"] not in shown]


def label(task: "Task", teacher: dict, prepared: Prepared, demonstrations: list[dict],
          rows: list[dict]) -> dict:
    """The uncalibrated label distribution of each of `rows` (some of `items`) and the
    content-free prior: {ids, raw, prior, info}, for `assemble`."""
    spec = PromptSpec.from_params(teacher, prepared.meta["labels"])
    raw, prior, info = label_examples(make_scorer(teacher), spec, demonstrations,
                                      [r["text"] for r in rows])
    return {"ids": [r["id"] for r in rows], "raw": raw.tolist(), "prior": prior.tolist(),
            "info": info}


def assemble(task: "Task", teacher: dict, prepared: Prepared, demonstrations: list[dict],
             shards: list[dict]) -> Taught:
    """The teacher's predictions on the pool and the test split, calibrated, the pseudolabeled
    pool and the info (dev accuracy raw and calibrated), from the `label` outputs of every
    shard of `items`."""
    labels = prepared.meta["labels"]
    unlabeled, test = prepared.unlabeled, prepared.test
    raw_of = {i: row for shard in shards for i, row in zip(shard["ids"], shard["raw"],
                                                           strict=True)}
    rows = items(prepared, demonstrations)
    missing = [r["id"] for r in rows if r["id"] not in raw_of]
    if missing:
        raise KDBenchError(f"the teacher's shards label {len(raw_of)} of {len(rows)} examples "
                           f"(missing {missing[:3]}): re-run every prompt_teacher shard")
    raw = np.array([raw_of[r["id"]] for r in rows])
    # Every shard scores the same content-free input: the first one's prior stands for all.
    prior = np.array(shards[0]["prior"])
    dev = rows[len(unlabeled) + len(test):]
    probs = calibrate(raw, prior) if teacher["calibrate"] else raw
    pool = prediction_rows([r["id"] for r in unlabeled], probs[:len(unlabeled)], labels)
    test_rows = prediction_rows([r["id"] for r in test],
                                probs[len(unlabeled):len(unlabeled) + len(test)], labels)
    trainset = [task.trainset_row(u, p) for u, p in zip(unlabeled, pool, strict=True)]
    counts = Counter(r["label"] for r in trainset)
    dev_gold = np.array([labels.index(r["label"]) for r in dev])
    dev_raw = raw[len(unlabeled) + len(test):]

    def dev_accuracy(dev_probs: np.ndarray) -> float | None:
        return round(float(np.mean(dev_probs.argmax(axis=1) == dev_gold)), 4) if dev else None

    info = summed([shard["info"] for shard in shards])
    info.update({
        "model": teacher["model"], "backend": teacher["backend"],
        "calibrated": teacher["calibrate"], "dev_examples": len(dev),
        "dev_accuracy_uncalibrated": dev_accuracy(dev_raw),
        "dev_accuracy_calibrated": dev_accuracy(calibrate(dev_raw, prior)),
        "pool_label_counts": {label: counts.get(label, 0) for label in labels},
        "majority_label_fraction": majority_fraction(counts),
        "pool_quality": task.score([p["label"] for p in pool],
                                   [{"label": u["gold"]} for u in unlabeled], prepared.meta),
    })
    info["collapsed"] = info["majority_label_fraction"] > COLLAPSE_FRACTION
    if info["collapsed"]:
        print(f"prompt_teacher: warning: {info['majority_label_fraction']:.0%} of "
              "pseudolabels are one label: the teacher has collapsed; try teacher.calibrate "
              "or other shots")
    print(f"prompt_teacher: dev accuracy (labeled pool minus demonstrations) "
          f"{info['dev_accuracy_uncalibrated']} raw, {info['dev_accuracy_calibrated']} "
          f"calibrated; label counts {dict(counts)}")
    return Taught({"pool": pool, "test": test_rows}, trainset, info)
