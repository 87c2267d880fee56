"""Structured students for MCKD: a pretrained encoder with a span-scoring or tagging head.

The sequence student (seq_student) must learn the output format token by token before it can
learn the task, and decodes slowly on a CPU. These students cannot produce a malformed output:
they score the structure itself and decode it exactly, so a small encoder (MiniLM) trains and
predicts in seconds to minutes on a CPU, and every output reads back over the sentence's words.

- constituency: a score for every span of 2..n-1 words (single words and the whole sentence are
  constituents of every tree, so there is nothing to decide about them) from its first and last
  words and the words just outside it; the tree is the max-weight set of pairwise non-crossing
  spans, found by an exact O(n^3) dynamic program.
- slot_tagging: a tag distribution per word; the tag sequence is the best BIO-valid one
  (Viterbi), so no `I-x` ever opens a chunk or continues another type's.

Each word is read from its first sub-token's hidden state: self-attention already mixes the
word's other pieces into it (the usual choice for BERT tagging since Devlin et al. 2019), and it
keeps the head as wide as the encoder instead of twice as wide. Training reuses the shared loop
(`kdbench.student.train`) through an `ExampleLosses` callable.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from kdbench.assets import resolve_model
from kdbench.bio import may_follow, split_tag
from kdbench.devices import of
from kdbench.errors import KDBenchError
from kdbench.resources import student_training_bytes
from kdbench.student import ExampleLosses, Student
from kdbench.trees import Span, escape_word, read_unlabeled

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedTokenizerBase

TASKS = ("constituency", "slot_tagging")

# Span head sizes: a span's start (its first word and the one before) and its end (its last word
# and the one after) are each projected to SPAN_DIM, and the MLP over [start; end; start * end]
# has SPAN_HIDDEN units. Small on purpose: the encoder does
# the reading, and the (batch, words, words, SPAN_DIM) pair tensor is the head's memory cost.
SPAN_DIM = 64
SPAN_HIDDEN = 64

# Confidences are rounded to 6 digits; this floor keeps a very unsure output above 0.
MIN_CONFIDENCE = 1e-6


@dataclass
class EncodedWords:
    """Sub-token ids of each sentence and, per word, the position whose hidden state stands for
    it; `truncated` counts words cut off by max_length (they borrow the last kept sub-token)."""

    ids: list[list[int]]
    word_index: list[list[int]]
    truncated: int


def encode_words(tokenizer: "PreTrainedTokenizerBase", sentences: Sequence[Sequence[str]],
                 max_length: int) -> EncodedWords:
    """Tokenize pre-split sentences once; map each word to its first sub-token.

    A word with no sub-token of its own (cut off by max_length, or one the tokenizer drops,
    such as a lone zero-width space) takes the nearest kept sub-token before it ([CLS] if none):
    scoring must never fail on a long sentence, and its cut-off words still get a decision.
    """
    if not sentences:  # tokenizers refuse an empty batch
        return EncodedWords([], [], 0)
    encoding = tokenizer([list(words) for words in sentences], is_split_into_words=True,
                         truncation=True, max_length=max_length)
    word_index: list[list[int]] = []
    truncated = 0
    for k, words in enumerate(sentences):
        first: dict[int, int] = {}
        last: dict[int, int] = {}
        for position, word in enumerate(encoding.word_ids(k)):
            if word is not None:
                first.setdefault(word, position)
                last[word] = position
        index = []
        previous = 0
        for word in range(len(words)):
            if word in first:
                index.append(first[word])
                previous = last[word]
            else:
                index.append(previous)
        kept = max(first, default=-1) + 1
        if len(encoding["input_ids"][k]) >= max_length:
            truncated += len(words) - kept
        word_index.append(index)
    return EncodedWords(encoding["input_ids"], word_index, truncated)


# --- constituency: decoding -------------------------------------------------------------------


def candidate_spans(n: int) -> list[Span]:
    """Spans of 2..n-1 words, end exclusive: the only ones a tree over n words can differ on."""
    return [(i, i + length) for length in range(2, n) for i in range(n - length + 1)]


def decode_spans(weights: np.ndarray, n: int) -> set[Span]:
    """The max-weight set of pairwise non-crossing candidate spans; weights[i, j] is span (i, j).

    best[i, j] is the best weight of a laminar set inside [i, j]. Any such set (without (i, j)
    itself) splits at some k that no span crosses: the start of a maximal span other than i, or
    the end of the single maximal one starting at i. So best[i, j] = max(0, w(i, j)) +
    max_k best[i, k] + best[k, j], O(n^3) with the max over k vectorised. Only positive spans are
    ever chosen; a zero-weight one is left out.
    """
    best = np.zeros((n + 1, n + 1))
    split = np.zeros((n + 1, n + 1), dtype=int)
    for length in range(2, n + 1):
        for i in range(n - length + 1):
            j = i + length
            inner = best[i, i + 1:j] + best[i + 1:j, j]
            k = int(np.argmax(inner))
            split[i, j] = i + 1 + k
            gain = max(0.0, float(weights[i, j])) if length < n else 0.0
            best[i, j] = inner[k] + gain
    chosen: set[Span] = set()
    stack = [(0, n)]
    while stack:  # iterative: a long sentence would otherwise recurse once per word
        i, j = stack.pop()
        if j - i < 2:
            continue
        if j - i < n and weights[i, j] > 0:
            chosen.add((i, j))
        stack += [(i, split[i, j]), (split[i, j], j)]
    return chosen


def bracket_string(words: Sequence[str], spans: set[Span]) -> str:
    """The unlabeled bracket format of constituency.py: every word `( word )`, every span and
    the whole sentence bracketed. Spans must be pairwise non-crossing."""
    n = len(words)
    spans = set(spans) | ({(0, n)} if n > 1 else set())
    opens = [0] * n
    closes = [0] * n
    for i, j in spans:
        opens[i] += 1
        closes[j - 1] += 1
    # Non-crossing spans nest correctly from counts alone: no recursion, whatever the depth.
    parts = []
    for k, word in enumerate(words):
        parts += ["("] * opens[k] + [f"( {escape_word(word)} )"] + [")"] * closes[k]
    return " ".join(parts)


def _log_sigmoid(x: np.ndarray) -> np.ndarray:
    return -np.logaddexp(0.0, -x)


def decode_tree(weights: np.ndarray, words: Sequence[str]) -> tuple[str, float]:
    """The tree string and its confidence: the geometric mean over candidate spans of the
    probability of the decision taken (in or out), so one long sentence's many easy "out"
    decisions do not swamp its hard ones any more than a short sentence's."""
    n = len(words)
    chosen = decode_spans(weights, n)
    candidates = candidate_spans(n)
    if not candidates:
        return bracket_string(words, chosen), 1.0
    starts, ends = np.array(candidates).T
    logits = weights[starts, ends].astype(np.float64)
    taken = np.array([span in chosen for span in candidates])
    log_p = np.where(taken, _log_sigmoid(logits), _log_sigmoid(-logits))
    return bracket_string(words, chosen), float(np.exp(log_p.mean()))


# --- slot tagging: decoding --------------------------------------------------------------------


def bio_transitions(tags: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(allowed first tags, allowed [previous, next] pairs): `I-x` only after `B-x` or `I-x`."""
    start = np.array([may_follow("O", tag) for tag in tags])
    allowed = np.array([[may_follow(before, tag) for tag in tags] for before in tags])
    return start, allowed


def decode_tags(log_probs: np.ndarray, tags: Sequence[str]) -> list[int]:
    """Tag indices of the most probable BIO-valid sequence (Viterbi over log_probs (n, T))."""
    start, allowed = bio_transitions(tags)
    # Invalid moves get -inf; valid tag lists (checked by StructuredStudent) always
    # leave at least one valid sequence, since O or some B- can follow anything.
    start_penalty = np.where(start, 0.0, -np.inf)
    move_penalty = np.where(allowed, 0.0, -np.inf)
    score = log_probs[0] + start_penalty
    back = []
    for position in range(1, len(log_probs)):
        candidates = score[:, None] + move_penalty
        back.append(candidates.argmax(axis=0))
        score = candidates.max(axis=0) + log_probs[position]
    path = [int(score.argmax())]
    for pointers in reversed(back):
        path.append(int(pointers[path[-1]]))
    return path[::-1]


# --- model -------------------------------------------------------------------------------------


def _load_encoder(model_name: str, seed: int):
    """The pretrained encoder and its fast tokenizer (word_ids() needs a fast one)."""
    import torch
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging

    # An unused pooler may be reported as missing or fresh: expected, not news.
    logging.set_verbosity_error()
    directory = resolve_model(model_name).directory
    tokenizer = AutoTokenizer.from_pretrained(directory)
    if getattr(tokenizer, "add_prefix_space", None) is False:
        # Byte-level BPE tokenizers (RoBERTa, GPT-2) refuse pre-split words without it.
        tokenizer = AutoTokenizer.from_pretrained(directory, add_prefix_space=True)
    if not tokenizer.is_fast:
        raise KDBenchError(f"student {model_name!r} has no fast tokenizer: structured students "
                           "map words to sub-tokens with word_ids(), which needs one")
    torch.manual_seed(seed)
    encoder = AutoModel.from_pretrained(directory, dtype=torch.float32)
    return encoder, tokenizer


def _build_model(encoder, task: str, n_tags: int, seed: int) -> "torch.nn.ModuleDict":
    """Encoder plus a fresh head in one module, so the shared loop trains both together."""
    import torch
    from torch import nn

    hidden = encoder.config.hidden_size
    torch.manual_seed(seed)
    if task == "constituency":
        # An MLP over [start; end; start * end], its first layer split into three parts so the
        # (words x words) pair tensor is never concatenated (same function, a third the memory).
        head = nn.ModuleDict({
            "start": nn.Linear(hidden, SPAN_DIM), "end": nn.Linear(hidden, SPAN_DIM),
            "before": nn.Linear(hidden, SPAN_DIM, bias=False),
            "after": nn.Linear(hidden, SPAN_DIM, bias=False),
            "from_start": nn.Linear(SPAN_DIM, SPAN_HIDDEN),
            "from_end": nn.Linear(SPAN_DIM, SPAN_HIDDEN, bias=False),
            "from_product": nn.Linear(SPAN_DIM, SPAN_HIDDEN, bias=False),
            "out": nn.Linear(SPAN_HIDDEN, 1)})
    else:
        head = nn.ModuleDict({"out": nn.Linear(hidden, n_tags)})
    return nn.ModuleDict({"encoder": encoder, "head": head})


def _pad(rows: list[list[int]], value: int) -> "torch.Tensor":
    import torch

    width = max(len(row) for row in rows)
    out = torch.full((len(rows), width), value, dtype=torch.long)
    for k, row in enumerate(rows):
        out[k, :len(row)] = torch.tensor(row, dtype=torch.long)
    return out


def _context_states(model, tokenizer, encoded: EncodedWords,
                    rows: Sequence[int]) -> "torch.Tensor":
    """(batch, max words + 2, hidden): [CLS], each word, then the end token ([SEP]).

    Entry k + 1 is word k. The outer two are the fenceposts a span at the sentence's edge sees
    beside it; shorter rows of the batch are padded with [CLS] after their end token.
    """
    device = of(model)
    ids = [encoded.ids[i] for i in rows]
    input_ids = _pad(ids, tokenizer.pad_token_id or 0).to(device)
    attention = _pad([[1] * len(x) for x in ids], 0).to(device)
    states = model["encoder"](input_ids=input_ids, attention_mask=attention).last_hidden_state
    index = _pad([[0, *encoded.word_index[i], len(encoded.ids[i]) - 1] for i in rows],
                 0).to(device)
    return states.gather(1, index[:, :, None].expand(-1, -1, states.shape[-1]))


def span_logits(head, context: "torch.Tensor") -> "torch.Tensor":
    """(batch, n, n + 1) logits from _context_states; entry [i, j] scores span (i, j).

    A span's start reads its first word and the one before it, its end its last word and the one
    after it ([CLS] / [SEP] at the edges): whether words form a constituent depends on what
    surrounds them as much as on what they are (the fencepost idea of Stern et al. 2017), and
    the edge tokens tell a span at the end of the sentence from one in the middle.
    """
    import torch

    words, before, after = context[:, 1:-1], context[:, :-2], context[:, 2:]
    start = head["start"](words) + head["before"](before)
    end = head["end"](words) + head["after"](after)
    pre = (head["from_start"](start)[:, :, None, :] + head["from_end"](end)[:, None, :, :]
           + head["from_product"](start[:, :, None, :] * end[:, None, :, :]))
    logits = head["out"](torch.relu(pre)).squeeze(-1)  # [i, e]: span from word i to word e
    return torch.nn.functional.pad(logits, (1, 0))  # [i, j]: span (i, j) with j = e + 1


def _candidate_mask(lengths: Sequence[int], width: int) -> "torch.Tensor":
    """(batch, width, width + 1) booleans: [b, i, j] for candidate spans of sentence b."""
    import torch

    i = torch.arange(width)[:, None]
    j = torch.arange(width + 1)[None, :]
    n = torch.tensor(list(lengths))[:, None, None]
    size = j - i
    return (size >= 2) & (size < n) & (j <= n)


def _span_losses(model, tokenizer, encoded: EncodedWords,
                 gold: list[set[Span]]) -> ExampleLosses:
    """Mean binary cross-entropy over each example's candidate spans; weights 1."""
    import torch

    def losses(step: int, rows: np.ndarray):
        context = _context_states(model, tokenizer, encoded, rows)
        logits = span_logits(model["head"], context).float()
        lengths = [len(encoded.word_index[i]) for i in rows]
        mask = _candidate_mask(lengths, logits.shape[1]).to(logits.device)
        target = torch.zeros_like(logits)
        for k, row in enumerate(rows):
            for i, j in gold[row]:
                target[k, i, j] = 1.0
        bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, target,
                                                                   reduction="none")
        # A sentence under 3 words has no candidate: loss 0, still part of the graph.
        count = mask.sum(dim=(1, 2)).clamp(min=1)
        return (bce * mask).sum(dim=(1, 2)) / count, torch.ones(len(rows), device=bce.device)

    return losses


def _tag_losses(model, tokenizer, encoded: EncodedWords,
                gold: list[list[int]]) -> ExampleLosses:
    """Mean cross-entropy over each example's words; weights 1."""
    import torch

    def losses(step: int, rows: np.ndarray):
        context = _context_states(model, tokenizer, encoded, rows)
        logits = model["head"]["out"](context[:, 1:-1]).float()
        target = _pad([gold[i] for i in rows], -100).to(logits.device)
        ce = torch.nn.functional.cross_entropy(logits.transpose(1, 2), target,
                                               ignore_index=-100, reduction="none")
        count = (target != -100).sum(dim=1).clamp(min=1)
        return ce.sum(dim=1) / count, torch.ones(len(rows), device=ce.device)

    return losses


def _predict(model, tokenizer, task: str, rows: list[dict], encoded: EncodedWords,
             tags: list[str], batch_size: int) -> list[dict]:
    """Outputs in input order; batches are length-sorted so they pad less."""
    import torch

    model.eval()
    order = np.argsort([len(x) for x in encoded.ids], kind="stable")
    out: list[dict | None] = [None] * len(rows)
    with torch.no_grad():
        for begin in range(0, len(order), batch_size):
            batch = order[begin:begin + batch_size]
            context = _context_states(model, tokenizer, encoded, batch)
            if task == "constituency":
                scores = span_logits(model["head"], context).cpu().double().numpy()
            else:
                logits = model["head"]["out"](context[:, 1:-1]).cpu().double()
                scores = torch.log_softmax(logits, dim=-1).numpy()
            for k, row in enumerate(batch):
                sentence = rows[row]["words"]
                if task == "constituency":
                    output, confidence = decode_tree(scores[k], sentence)
                else:
                    log_probs = scores[k, :len(sentence)]
                    path = decode_tags(log_probs, tags)
                    output = " ".join(tags[t] for t in path)
                    confidence = float(np.exp(log_probs[np.arange(len(path)), path].mean()))
                out[row] = {"id": rows[row]["id"], "output": output,
                            "confidence": max(MIN_CONFIDENCE, round(confidence, 6))}
    return [r for r in out if r is not None]


# --- entry point -------------------------------------------------------------------------------


def _check_words(rows: list[dict], what: str) -> None:
    for row in rows:
        if not row["words"]:
            raise KDBenchError(f"{what} row {row['id']!r} has no words: expected at least one")


def _check_tags(tags: list[str] | None) -> list[str]:
    if not tags:
        raise KDBenchError("slot_tagging needs the tag list (tags): expected BIO tags such as "
                           "O, B-city, I-city")
    if len(set(tags)) != len(tags):
        raise KDBenchError(f"the tag list has duplicates: {sorted(tags)}")
    prefixes = [split_tag(tag)[0] for tag in tags]
    if all(prefix == "I" for prefix in prefixes):
        raise KDBenchError(f"the tag list {tags} has only I- tags: expected O or a B- tag to "
                           "start a sentence with")
    return list(tags)


def _gold_spans(row: dict) -> set[Span]:
    n = len(row["words"])
    read = read_unlabeled(row["target"], n)
    if read is None:
        raise KDBenchError(f"train row {row['id']!r}: target {row['target']!r} does not read as "
                           f"a tree over its {n} words: expected an unlabeled bracket string "
                           f"with {n} words, e.g. {bracket_string(row['words'], set())!r}")
    return {span for span in read.spans if span != (0, n)}


def _gold_tags(row: dict, index: dict[str, int]) -> list[int]:
    found = row["target"].split()
    if len(found) != len(row["words"]):
        raise KDBenchError(f"train row {row['id']!r}: target has {len(found)} tags for "
                           f"{len(row['words'])} words: expected one tag per word")
    unknown = [tag for tag in found if tag not in index]
    if unknown:
        raise KDBenchError(f"train row {row['id']!r}: tag {unknown[0]!r} is not in the tag list: "
                           f"expected one of {sorted(index)}")
    return [index[tag] for tag in found]


def span_memory_bytes(batch_size: int, max_length: int) -> int:
    """The span head's pair tensors at worst (one sub-token per word): product, pre-activation
    and activation, forward and backward, fp32."""
    return batch_size * max_length**2 * (SPAN_DIM + 2 * SPAN_HIDDEN) * 4 * 2


class StructuredStudent(Student):
    """A pretrained encoder with a fresh span head (constituency) or tag head (slot_tagging);
    rows {id, words, target}; predictions {id, output, confidence}. Targets are checked before
    anything loads, so a bad row costs nothing; tags (BIO strings) are required for
    slot_tagging and ignored for constituency."""

    def __init__(self, params: dict, seed: int, task: str, tags: list[str] | None = None):
        if task not in TASKS:
            raise KDBenchError(f"unknown structured task {task!r}: expected one of "
                               f"{', '.join(TASKS)}")
        super().__init__(params, seed)
        self.task = task
        self.tags = _check_tags(tags) if task == "slot_tagging" else []
        self.truncated = 0

    def _check(self, rows: list[dict], what: str) -> None:
        _check_words(rows, what)
        if what == "train":
            self._gold = [self._gold_of(row) for row in rows]

    def _gold_of(self, row: dict):
        if self.task == "constituency":
            return _gold_spans(row)
        return _gold_tags(row, {tag: k for k, tag in enumerate(self.tags)})

    def _memory_bytes(self) -> int:
        p = self.params
        needed = student_training_bytes(resolve_model(p["model"]).directory, p["batch_size"],
                                        p["max_length"])
        if self.task == "constituency":
            needed += span_memory_bytes(p["batch_size"], p["max_length"])
        return needed

    def _load(self) -> None:
        encoder, self.tokenizer = _load_encoder(self.params["model"], self.seed)
        self.model = _build_model(encoder, self.task, len(self.tags), self.seed)

    def _encode(self, rows: list[dict]) -> EncodedWords:
        encoded = encode_words(self.tokenizer, [row["words"] for row in rows],
                               self.params["max_length"])
        self.truncated += encoded.truncated
        return encoded

    def _training(self, rows, weighter):
        encoded = self._encode(rows)
        make_losses = _span_losses if self.task == "constituency" else _tag_losses
        return ([len(x) for x in encoded.ids],
                make_losses(self.model, self.tokenizer, encoded, self._gold))

    def _predict(self, rows):
        predictions = _predict(self.model, self.tokenizer, self.task, rows, self._encode(rows),
                               self.tags, self.params["eval_batch_size"])
        self.info["truncated_words"] = self.truncated
        return predictions

    def fit(self, rows, epochs, weighter=None):
        super().fit(rows, epochs, weighter)
        self.info["truncated_words"] = self.truncated
        return self
