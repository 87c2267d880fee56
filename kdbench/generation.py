"""Greedy constrained decoding of structured outputs (trees, tag sequences) with a language model:
a causal LM (`generate`, `CausalLM`) or any model that feeds tokens through a cache and scores a
few next tokens (`decode`: the seq2seq student's encoder-decoder).

A grammar lists the *units* that may come next (" (", " )", " word", " B-city", each with its
leading space); the model only chooses among them, so every output parses with the right words.
The output text is the concatenation of the units, less the first unit's leading space; its token
ids are each unit tokenized alone (`output_ids`). For these space-separated formats those are the
ids of the whole string too, with Gemma 3's SentencePiece, SmolLM2's byte-level BPE and MiniLM's
WordPiece (checked); a tokenizer that prefixes every text with its own space would differ.

Greedy over tokens, not whole units: the allowed next tokens are the next tokens of the allowed
units (units sharing leading tokens share those decisions), and the one with the highest logit
wins. Only those tokens' rows of the output layer are computed (`kdbench.lm.selected_logits`):
a handful of dot products where the full layer is the model's vocabulary (262k words for Gemma,
about half of a forward call on a CPU). Where only one token is allowed it is forced: it needs no
logits at all, only to be fed before the next choice.

Confidence without the full softmax: each choice's log-probability is taken under the model's
distribution restricted to the tokens the grammar allows there (a softmax over their logits);
forced tokens have probability 1 under it and are not choices. `Generation.mean_logprob` is the
mean over the choices, so exp of it is the geometric mean probability of the decoder's decisions.
The choices (and the outputs) are those of the full softmax, whose normaliser is the same for
every token at a position; the confidences are higher than full-softmax ones (mass the grammar
forbids is left out) and read as "how sure among what was allowed".

Batches: each forward call feeds every prompt of a batch the same number of tokens (a prompt's
own tokens, then its output's), as many as the prompt with the fewest queued holds, so all rows
of the KV cache keep one length without padding. Alone (batch size 1), a prompt is fed whole in
one call, then each chosen token with the forced ones after it in one call; in a batch, past the
shortest prompt, calls mostly feed one token per row. Each call reads the model's weights once
for the whole batch, so batches decode faster than one prompt at a time on a CPU
(benchmarks/seq_teacher_throughput.py).
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from kdbench.devices import of
from kdbench.errors import KDBenchError
from kdbench.grammars import Grammar, State
from kdbench.lm import fork, prefix_cache, selected_logits
from kdbench.progress import progress


@dataclass(frozen=True)
class Generation:
    """One output: its text, the token ids fed for it, and the log-probability of each choice
    (a token chosen among several allowed, under the softmax over those; forced tokens are none).
    """

    text: str
    token_ids: list[int]
    choice_logprobs: list[float]

    @property
    def n_tokens(self) -> int:
        return len(self.token_ids)

    @property
    def logprob(self) -> float:
        return sum(self.choice_logprobs)

    @property
    def mean_logprob(self) -> float:
        """Mean over the choices; 0 (probability 1) for an output the grammar forces whole."""
        return self.logprob / len(self.choice_logprobs) if self.choice_logprobs else 0.0


def _unit_ids(tokenizer, unit: str) -> list[int]:
    return tokenizer(unit, add_special_tokens=False)["input_ids"]


def output_ids(tokenizer, text: str) -> list[int]:
    """The token ids `generate` gives a text: each space-separated piece tokenized alone with its
    leading space, so a student trains on the very ids its teacher chose."""
    return [t for piece in text.split(" ") for t in _unit_ids(tokenizer, " " + piece)]


class _Cursor(NamedTuple):
    state: State
    candidates: list[tuple[str, list[int]]]  # allowed units whose first `pos` tokens were chosen
    pos: int


class _Option(NamedTuple):
    token: int | None  # scored by this token's log-prob; None: an end nothing can score
    fed: bool  # False for the end of the output
    completes: str | None  # the unit this option finishes
    cursor: _Cursor | None


class LanguageModel(Protocol):
    """What the decoder needs of a model: feed each row some tokens after its cache, and the
    logits of a few tokens after the last position read."""

    device: "torch.device"  # noqa: F821

    def forward(self, ids, cache) -> tuple[object, object]:
        """(per-row, per-position states that `logits` reads, the cache after `ids`)."""

    def logits(self, states, token_ids: list[int]):
        """(rows x len(token_ids)) logits of those tokens from states of single positions."""


class CausalLM:
    """A causal LM as the decoder drives it: the transformer body with its KV cache, then only
    the output layer's rows of the tokens the grammar allows."""

    def __init__(self, model):
        self.model = model
        self.device = of(model)

    def forward(self, ids, cache):
        out = self.model.base_model(input_ids=ids, cache=cache, use_cache=True)
        return out.last_hidden_state, out.cache

    def logits(self, states, token_ids: list[int]):
        return selected_logits(self.model, states, token_ids)


class _Decoder:
    def __init__(self, lm: LanguageModel, tokenizer, end: str):
        import torch

        self.torch, self.lm, self.tokenizer = torch, lm, tokenizer
        self.device = lm.device
        self.ids: dict[str, list[int]] = {}
        end_ids = _unit_ids(tokenizer, end)
        self.end_token = end_ids[0] if end_ids else None

    def unit_ids(self, unit: str) -> list[int]:
        if unit not in self.ids:
            ids = _unit_ids(self.tokenizer, unit)
            if not ids:
                raise KDBenchError(f"{unit!r} tokenizes to nothing: the model cannot choose it")
            self.ids[unit] = ids
        return self.ids[unit]

    def candidates(self, grammar: Grammar, state: State) -> list[tuple[str, list[int]]]:
        candidates = [(u, self.unit_ids(u)) for u in grammar.allowed(state)]
        if len({tuple(ids) for _, ids in candidates}) < len(candidates):
            raise KDBenchError(f"units tokenize alike, the model cannot tell them apart: "
                               f"{[u for u, _ in candidates]}")
        return candidates

    def options(self, grammar: Grammar, cursor: _Cursor) -> list[_Option]:
        options: dict[int | None, _Option] = {}
        complete = None
        for unit, ids in cursor.candidates:
            if len(ids) == cursor.pos:
                complete = unit
            elif ids[cursor.pos] not in options:
                token = ids[cursor.pos]
                narrowed = [(u, i) for u, i in cursor.candidates
                            if len(i) > cursor.pos and i[cursor.pos] == token]
                options[token] = _Option(token, True, None,
                                         _Cursor(cursor.state, narrowed, cursor.pos + 1))
        if complete is None:
            return list(options.values())
        # A unit whose tokens begin a longer allowed unit (tag B-time vs B-time_relative): ending
        # it competes through what would follow it, the next unit's first token or the end.
        # Were a token both to extend a unit and to start the next, extending wins.
        state = grammar.advance(cursor.state, complete)
        following = self.candidates(grammar, state)
        if not following:
            options.setdefault(self.end_token, _Option(self.end_token, False, complete, None))
        for _, ids in following:
            if ids[0] not in options:
                narrowed = [(u, i) for u, i in following if i[0] == ids[0]]
                options[ids[0]] = _Option(ids[0], True, complete, _Cursor(state, narrowed, 1))
        return list(options.values())

    def step(self, rows: list["_Row"], cache):
        """One forward call: every row feeds as many tokens as the shortest queue holds, so all
        rows keep one cache length and need neither padding nor masks. A row whose queue that
        empties waits on a choice: it gets the logits of its allowed tokens after its last fed
        token. Returns the cache."""
        count = min(len(row.to_feed) for row in rows)
        fed = [row.take(count) for row in rows]
        states, cache = self.lm.forward(self.torch.tensor(fed, device=self.device), cache)
        reading = [r for r, row in enumerate(rows) if not row.to_feed]
        if reading:
            tokens = sorted({o.token for r in reading for o in rows[r].waiting
                             if o.token is not None})
            last = states[self.torch.tensor(reading, device=self.device), -1]
            logits = self.lm.logits(last, tokens).cpu().tolist() if tokens else None
            column = {token: j for j, token in enumerate(tokens)}
            for k, r in enumerate(reading):
                rows[r].run({t: logits[k][j] for t, j in column.items()} if logits else {})
        return cache

    def decode(self, rows: list["_Row"], cache) -> None:
        """Steps the rows, each with its prompt's cache in `cache` (None: empty), to their ends."""
        while rows:
            going = [r for r, row in enumerate(rows) if not row.done]
            if cache is not None and 0 < len(going) < len(rows):
                # Finished rows leave the batch and its cache: no later call computes for them.
                cache.batch_select_indices(self.torch.tensor(going, device=self.device))
            rows = [rows[r] for r in going]
            if rows:
                cache = self.step(rows, cache)


def _choose(options: list[_Option], logits: dict[int, float]) -> tuple[_Option, float | None]:
    """The option with the highest logit and its log-probability among the options; an end that
    nothing can score (None) wins without one."""
    for option in options:
        if option.token is None:
            return option, None
    scores = [logits[o.token] for o in options]
    best = max(range(len(options)), key=scores.__getitem__)
    top = scores[best]
    return options[best], -math.log(sum(math.exp(s - top) for s in scores))


class _Row:
    """One prompt being decoded: the tokens it has yet to feed, and its output so far.

    A forced token needs no logits, so a row queues forced tokens up to its next choice and waits
    there (`waiting`: the options) for the logits after its last queued token. Once the output is
    complete, nothing reads past it: the queue is dropped.
    """

    def __init__(self, decoder: _Decoder, grammar: Grammar, feed: list[int]):
        self.decoder, self.grammar = decoder, grammar
        self.to_feed = list(feed)
        state = grammar.initial()
        self.cursor: _Cursor | None = _Cursor(state, decoder.candidates(grammar, state), 0)
        self.waiting: list[_Option] = []
        self.units: list[str] = []
        self.token_ids: list[int] = []
        self.choice_logprobs: list[float] = []
        self.run(None)

    @property
    def done(self) -> bool:
        return self.cursor is None

    def generation(self) -> Generation:
        return Generation("".join(self.units)[1:], self.token_ids, self.choice_logprobs)

    def take(self, count: int) -> list[int]:
        fed, self.to_feed = self.to_feed[:count], self.to_feed[count:]
        return fed

    def run(self, logits: dict[int, float] | None) -> None:
        """Chooses units, the waited-on choice with `logits`, until a choice needs logits not
        computed yet or the output ends."""
        while self.cursor is not None:
            options = self.waiting or self.decoder.options(self.grammar, self.cursor)
            self.waiting = []
            choice = options[0]
            if len(options) > 1:
                if logits is None:
                    self.waiting = options
                    return
                choice, logprob = _choose(options, logits)
                if logprob is not None:
                    self.choice_logprobs.append(logprob)
                logits = None
            if choice.completes is not None:
                self.units.append(choice.completes)
            if choice.fed:
                self.token_ids.append(choice.token)
                self.to_feed.append(choice.token)
            self.cursor = choice.cursor
        self.to_feed = []


def generate(model, tokenizer, prefix: str, prompts: Sequence[str], grammars: Sequence[Grammar],
             show_progress: bool = False, reuse_prefix: bool = True, end: str = "\n",
             batch_size: int = 1) -> list[Generation]:
    """Greedy constrained output of a causal LM `model` (in eval mode) for prefix + each prompt,
    in order.

    The prefix (few-shot demonstrations, with the tokenizer's special tokens) is tokenized apart
    from each prompt and its KV cache computed once; reuse_prefix=False feeds each whole prompt
    afresh instead (slower, same ids, same result up to float error). Prompts should end right
    after their label ("Tree:", "Tags:"), not with a space: every unit brings its own.

    `end` is what the prompt format puts after an output; its first token is scored only where
    the output could end or go on (a last tag whose tokens begin another tag's); where it
    tokenizes to nothing, ending wins there.

    `batch_size` prompts, of similar lengths, are decoded together (same result up to float
    error): each forward call then reads the model's weights once for all of them.
    """
    import torch

    if len(prompts) != len(grammars):
        raise KDBenchError(f"{len(prompts)} prompts for {len(grammars)} grammars")
    prefix_ids = tokenizer(prefix, add_special_tokens=True)["input_ids"]
    feeds = [tokenizer(prompt, add_special_tokens=False)["input_ids"] for prompt in prompts]
    for i, ids in enumerate(feeds):
        if not ids:
            raise KDBenchError(f"prompt {i} tokenizes to nothing: {prompts[i]!r}")
    with torch.no_grad():
        if reuse_prefix and prefix_ids:
            return decode(CausalLM(model), tokenizer, feeds, grammars, end, batch_size,
                          show_progress, prefix_cache(model, prefix_ids))
        return decode(CausalLM(model), tokenizer, [prefix_ids + ids for ids in feeds], grammars,
                      end, batch_size, show_progress)


def decode(lm: LanguageModel, tokenizer, feeds: Sequence[list[int]],
           grammars: Sequence[Grammar], end: str, batch_size: int = 1,
           show_progress: bool = False, prefix=None) -> list[Generation]:
    """Greedy constrained outputs after each row's token ids, in order (`generate`'s decoding;
    call it under torch.no_grad()). `prefix`: a one-row cache every batch starts from (forked),
    or None to start from an empty one."""
    if len(feeds) != len(grammars):
        raise KDBenchError(f"{len(feeds)} prompts for {len(grammars)} grammars")
    if batch_size < 1:
        raise KDBenchError(f"batch_size = {batch_size}; expected an integer >= 1")
    decoder = _Decoder(lm, tokenizer, end)
    # Longer prompts have longer outputs: a batch of similar lengths keeps its rows busy together.
    order = sorted(range(len(feeds)), key=lambda i: len(feeds[i]))
    results: dict[int, Generation] = {}
    bar = progress(len(feeds), "generate", show=show_progress)
    for first in range(0, len(order), batch_size):
        batch = order[first:first + batch_size]
        rows = [_Row(decoder, grammars[i], feeds[i]) for i in batch]
        decoder.decode(rows, None if prefix is None else fork(prefix, len(batch)))
        for i, row in zip(batch, rows, strict=True):
            results[i] = row.generation()
        bar.update(len(batch))
    bar.close()
    return [results[i] for i in range(len(feeds))]
