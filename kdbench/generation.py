"""Greedy constrained decoding of structured outputs (trees, tag sequences) with a causal LM.

A grammar lists the *units* that may come next (" (", " )", " word", " B-city", each with its
leading space); the model only chooses among them, so every output parses with the right words.
The output text is the concatenation of the units, less the first unit's leading space; its token
ids are each unit tokenized alone (`output_ids`). For these space-separated formats those are the
ids of the whole string too, with Gemma 3's SentencePiece, SmolLM2's byte-level BPE and MiniLM's
WordPiece (checked); a tokenizer that prefixes every text with its own space would differ.

Greedy over tokens, not whole units: the allowed next tokens are the next tokens of the allowed
units (units sharing leading tokens share those decisions) and the most probable one under the
model's full softmax wins. Where only one token is allowed it is forced: it needs no forward call
to be chosen, only one to be scored. Scoring whole units instead would cost a forward pass per
candidate unit and token, and Gemma's 262k-word output layer dominates the cost of each.

Batches: each forward call feeds every prompt of a batch the same number of tokens (a prompt's
own tokens, then its output's), as many as the prompt with the fewest queued holds, so all rows
of the KV cache keep one length without padding. Alone (batch size 1), a prompt is fed whole in
one call, then each chosen token with the forced ones after it in one call; in a batch, past the
shortest prompt, calls mostly feed one token per row. Each call reads the model's weights once
for the whole batch: one prompt alone is bound by reading them (the 262k-word output layer is
about half of a call on a CPU), so batches of 16 decode about 3x faster there
(benchmarks/seq_teacher_throughput.py).
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from kdbench.devices import of
from kdbench.errors import KDBenchError
from kdbench.grammars import Grammar, State
from kdbench.lm import fork, prefix_cache
from kdbench.progress import progress


@dataclass(frozen=True)
class Generation:
    """One output: its text, the token ids fed for it, and each id's log-probability."""

    text: str
    token_ids: list[int]
    token_logprobs: list[float]  # each under the model's full softmax, not the allowed subset

    @property
    def n_tokens(self) -> int:
        return len(self.token_ids)

    @property
    def logprob(self) -> float:
        return sum(self.token_logprobs)

    @property
    def mean_logprob(self) -> float:
        return self.logprob / self.n_tokens


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


class _Decoder:
    def __init__(self, model, tokenizer, end: str):
        import torch

        self.torch, self.model, self.tokenizer = torch, model, tokenizer
        self.device = of(model)
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
        rows keep one cache length and need neither padding nor masks. Each row gets the
        distributions (full softmax) after those of its fed tokens it reads. Returns the cache."""
        count = min(len(row.to_feed) for row in rows)
        taken = [row.take(count) for row in rows]
        # The shortest queue reads at least its last position, so at least one logit row is kept.
        first = min(first_read for _, first_read in taken)
        out = self.model(self.torch.tensor([fed for fed, _ in taken], device=self.device),
                         past_key_values=cache,
                         use_cache=True, logits_to_keep=count - first)
        logprobs = self.torch.log_softmax(out.logits.float(), dim=-1).cpu()
        for row, (_, first_read), dists in zip(rows, taken, logprobs, strict=True):
            for position in range(first_read, count):
                row.receive(dists[position - first])
        return out.past_key_values

    def decode(self, rows: list["_Row"], cache) -> None:
        """Steps the rows, each with its prompt's cache in `cache` (None: empty), to their ends."""
        while rows:
            cache = self.step(rows, cache)
            going = [r for r, row in enumerate(rows) if not row.done]
            if 0 < len(going) < len(rows):
                # Finished rows leave the batch and its cache: no later call computes for them.
                cache.batch_select_indices(self.torch.tensor(going, device=self.device))
            rows = [rows[r] for r in going]


class _Row:
    """One prompt being decoded: the tokens it has yet to feed, and its output so far.

    A forced token needs no distribution to be chosen, so a row queues forced tokens up to its
    next choice (or its end) and waits there for the distribution after its last queued token.
    The distributions the model returns after its fed tokens come in order; each scores the
    row's next output token that has no log-prob yet, or makes the choice the row waits on.
    """

    def __init__(self, decoder: _Decoder, grammar: Grammar, feed: list[int]):
        self.decoder, self.grammar = decoder, grammar
        self.to_feed = list(feed)
        # The prompt's tokens but its last: nothing reads the distribution after them.
        self.unread = len(feed) - 1
        state = grammar.initial()
        self.cursor: _Cursor | None = _Cursor(state, decoder.candidates(grammar, state), 0)
        self.units: list[str] = []
        self.token_ids: list[int] = []
        self.logprobs: list[float] = []
        self.run(None)

    @property
    def done(self) -> bool:
        return self.cursor is None and len(self.logprobs) == len(self.token_ids)

    def generation(self) -> Generation:
        return Generation("".join(self.units)[1:], self.token_ids, self.logprobs)

    def take(self, count: int) -> tuple[list[int], int]:
        """The next `count` tokens to feed, and the position of the first whose following
        distribution this row reads (`count` where it reads none)."""
        fed, self.to_feed = self.to_feed[:count], self.to_feed[count:]
        first_read = min(self.unread, count)
        self.unread -= first_read
        return fed, first_read

    def receive(self, dist) -> None:
        """The distribution after this row's next read token."""
        if len(self.logprobs) < len(self.token_ids):
            self.logprobs.append(float(dist[self.token_ids[len(self.logprobs)]]))
        else:
            self.run(dist)

    def run(self, dist) -> None:
        """Chooses units, the first choice with `dist`, until a choice needs a distribution not
        computed yet or the output ends."""
        while self.cursor is not None:
            options = self.decoder.options(self.grammar, self.cursor)
            choice = options[0]
            if len(options) > 1:
                if dist is None:
                    return
                scores = [math.inf if o.token is None else float(dist[o.token]) for o in options]
                choice = options[max(range(len(options)), key=scores.__getitem__)]
                if choice.fed:
                    self.logprobs.append(float(dist[choice.token]))
                dist = None
            if choice.completes is not None:
                self.units.append(choice.completes)
            if choice.fed:
                self.token_ids.append(choice.token)
                self.to_feed.append(choice.token)
            self.cursor = choice.cursor
        # An ending chosen by a distribution came after every token was fed; a forced one leaves
        # the last token queued, and nothing reads the distribution after it.
        if self.to_feed:
            self.to_feed.pop()


def generate(model, tokenizer, prefix: str, prompts: Sequence[str], grammars: Sequence[Grammar],
             show_progress: bool = False, reuse_prefix: bool = True, end: str = "\n",
             batch_size: int = 1) -> list[Generation]:
    """Greedy constrained output of `model` (in eval mode) for prefix + each prompt, in order.

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
    if batch_size < 1:
        raise KDBenchError(f"batch_size = {batch_size}; expected an integer >= 1")
    decoder = _Decoder(model, tokenizer, end)
    prefix_ids = tokenizer(prefix, add_special_tokens=True)["input_ids"]
    feeds = [tokenizer(prompt, add_special_tokens=False)["input_ids"] for prompt in prompts]
    for i, ids in enumerate(feeds):
        if not ids:
            raise KDBenchError(f"prompt {i} tokenizes to nothing: {prompts[i]!r}")
    # Longer prompts have longer outputs: a batch of similar lengths keeps its rows busy together.
    order = sorted(range(len(prompts)), key=lambda i: len(feeds[i]))
    results: dict[int, Generation] = {}
    bar = progress(len(prompts), "generate", show=show_progress)
    with torch.no_grad():
        cache_of_prefix = prefix_cache(model, prefix_ids) if reuse_prefix and prefix_ids else None
        for first in range(0, len(order), batch_size):
            batch = order[first:first + batch_size]
            if cache_of_prefix is None:
                rows = [_Row(decoder, grammars[i], prefix_ids + feeds[i]) for i in batch]
                cache = None
            else:
                rows = [_Row(decoder, grammars[i], feeds[i]) for i in batch]
                cache = fork(cache_of_prefix, len(batch))
            decoder.decode(rows, cache)
            for i, row in zip(batch, rows, strict=True):
                results[i] = row.generation()
            bar.update(len(batch))
    bar.close()
    return [results[i] for i in range(len(prompts))]
