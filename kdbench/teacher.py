"""The few-shot prompted LLM teacher: prompts, label scoring, calibration, backends.

Each label is scored by the summed log-probability of its verbalizer after the prompt, then
normalised over the label set, so the teacher gives a full distribution, not only an argmax.
"""

import copy
import random
import time
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from kdbench.assets import dequantised, resolve_model
from kdbench.errors import KDBenchError
from kdbench.resources import require, weights_bytes

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


def pick_demonstrations(labeled: list[dict], labels: list[str], shots_per_class: int,
                        seed: int) -> list[dict]:
    """shots_per_class examples of each label from the labeled pool, classes interleaved."""
    rng = random.Random(seed)
    per_class = []
    for label in labels:
        members = [row for row in labeled if row["label"] == label]
        if len(members) < shots_per_class:
            raise KDBenchError(
                f"teacher.shots_per_class = {shots_per_class} but the labeled pool has only "
                f"{len(members)} example(s) of {label!r}; lower it or raise data.n_labeled"
            )
        per_class.append(rng.sample(members, shots_per_class))
    # Round-robin order: a block of one class at the end of the prompt biases the next label.
    order = [group[i] for i in range(shots_per_class) for group in per_class]
    return order


class Scorer(Protocol):
    def score(self, prefix: str, queries: list[str], continuations: list[str],
              progress: bool = False) -> np.ndarray:
        """Summed log-probability of each continuation after prefix + query: shape (N, C)."""


def load_causal_lm(model_name: str, dtype: str = "float32"):
    """A teacher LLM (packaged name, model dir or .gguf) in eval mode, and its tokenizer."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    location = resolve_model(model_name)
    bytes_per_weight = 4 if dtype == "float32" else 2
    require(weights_bytes(location.directory, location.gguf_file) * bytes_per_weight // 4,
            f"loading teacher {model_name} in {dtype}",
            "choose a smaller teacher model, dtype bfloat16, or the vllm backend")
    location = dequantised(location)
    tokenizer = AutoTokenizer.from_pretrained(location.directory)
    model = AutoModelForCausalLM.from_pretrained(location.directory, dtype=getattr(torch, dtype))
    return model.eval(), tokenizer


class TransformersScorer:
    """Scores continuations with a causal LM, reusing the few-shot prefix's KV cache."""

    def __init__(self, model_name: str, dtype: str = "float32", model=None, tokenizer=None):
        import torch

        self.torch = torch
        if model is None:
            model, tokenizer = load_causal_lm(model_name, dtype)
        self.model = model.eval()
        self.tokenizer = tokenizer

    def _ids(self, text: str, special: bool = False) -> list[int]:
        return self.tokenizer(text, add_special_tokens=special)["input_ids"]

    def score(self, prefix: str, queries: list[str], continuations: list[str],
              progress: bool = False) -> np.ndarray:
        torch = self.torch
        prefix_ids = self._ids(prefix, special=True)
        cont_ids = [self._ids(c) for c in continuations]
        if any(not ids for ids in cont_ids):
            raise KDBenchError(f"a verbalizer tokenizes to nothing: {continuations}")
        scores = np.zeros((len(queries), len(continuations)))
        start = time.time()
        with torch.no_grad():
            prefix_out = self.model(torch.tensor([prefix_ids]), use_cache=True, logits_to_keep=1)
            for row, query in enumerate(queries):
                # A copy per query: sliding-window caches cannot be cropped back to the prefix.
                cache = copy.deepcopy(prefix_out.past_key_values)
                out = self.model(torch.tensor([self._ids(query)]), past_key_values=cache,
                                 use_cache=True, logits_to_keep=1)
                first = torch.log_softmax(out.logits[0, -1].float(), dim=-1)
                for col, ids in enumerate(cont_ids):
                    scores[row, col] = first[ids[0]].item()
                    if len(ids) > 1:  # multi-token verbalizer: continue from this query's cache
                        scores[row, col] += self._continuation_logprob(cache, ids)
                if progress and (row + 1) % 50 == 0:
                    rate = (row + 1) / (time.time() - start)
                    print(f"  teacher: {row + 1}/{len(queries)} ({rate:.2f} ex/s, "
                          f"eta {(len(queries) - row - 1) / rate:.0f} s)", flush=True)
        return scores

    def _continuation_logprob(self, cache, ids: list[int]) -> float:
        torch = self.torch
        branch = copy.deepcopy(cache)
        out = self.model(torch.tensor([ids[:-1]]), past_key_values=branch, use_cache=True)
        logprobs = torch.log_softmax(out.logits[0].float(), dim=-1)
        return float(sum(logprobs[i, tok] for i, tok in enumerate(ids[1:])))


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

    def score(self, prefix: str, queries: list[str], continuations: list[str],
              progress: bool = False) -> np.ndarray:
        # Token ids are joined exactly as the transformers backend joins them.
        prefix_ids = self.tokenizer(prefix, add_special_tokens=True)["input_ids"]
        cont_ids = [self.tokenizer(c, add_special_tokens=False)["input_ids"] for c in continuations]
        prompts, spans = [], []
        for query in queries:
            base = prefix_ids + self.tokenizer(query, add_special_tokens=False)["input_ids"]
            for ids in cont_ids:
                prompts.append({"prompt_token_ids": base + ids})
                spans.append((len(base), ids))
        outputs = self.llm.generate(prompts, self.sampling, use_tqdm=progress)
        flat = np.zeros(len(prompts))
        for i, (output, (start, ids)) in enumerate(zip(outputs, spans, strict=True)):
            positions = output.prompt_logprobs[start:start + len(ids)]
            flat[i] = sum(pos[tok].logprob for pos, tok in zip(positions, ids, strict=True))
        return flat.reshape(len(queries), len(continuations))


def make_scorer(teacher: dict) -> Scorer:
    if teacher["backend"] == "vllm":
        return VLLMScorer(teacher["model"], teacher["dtype"], teacher["tensor_parallel_size"],
                          teacher["gpu_memory_utilization"])
    return TransformersScorer(teacher["model"], teacher["dtype"])


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
                                   progress=True))
    info = {"n_scored": len(texts), "scoring_s": round(time.time() - start, 2)}
    prior = normalise(scorer.score(prefix, [spec.query(CONTENT_FREE_INPUT)], continuations))[0]
    info["content_free_prior"] = [round(float(p), 4) for p in prior]
    return probs, prior, info
