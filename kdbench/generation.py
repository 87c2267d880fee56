"""Greedy constrained decoding of structured outputs (trees, tag sequences) with a causal LM.

A grammar lists the *units* that may come next (" (", " )", " word", " B-city", each with its
leading space); the model only chooses among them, so every output parses with the right words.
The output text is the concatenation of the units, less the first unit's leading space; its token
ids are each unit tokenized alone (`output_ids`). For these space-separated formats those are the
ids of the whole string too, with Gemma 3's SentencePiece, SmolLM2's byte-level BPE and MiniLM's
WordPiece (checked); a tokenizer that prefixes every text with its own space would differ.

Greedy over tokens, not whole units: the allowed next tokens are the next tokens of the allowed
units (units sharing leading tokens share those decisions) and the most probable one under the
model's full softmax wins. Where only one token is allowed it is forced, and forced tokens are fed
together in one forward call. Scoring whole units instead would cost a forward pass per candidate
unit and token, and Gemma's 262k-word output layer dominates the cost of each.
"""

import copy
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from kdbench.constituency import escape_word
from kdbench.errors import KDBenchError
from kdbench.slot_tagging import read_tags

State = tuple
OPEN, CLOSE = " (", " )"
_ASCII_SPACE = frozenset(" \t\n\r\f\v")  # what constituency's reader splits words on


class Grammar(Protocol):
    def initial(self) -> State: ...

    def allowed(self, state: State) -> list[str]:
        """Units that may come next; empty once the output is complete, and only then."""

    def advance(self, state: State, unit: str) -> State:
        """The state after `unit`, one of allowed(state)."""


class BracketGrammar:
    """Unlabeled trees in constituency's format over exactly `words`, in order: every word as
    `( word )` (brackets escaped as -LRB-/-RRB-), one root bracket, every node non-empty.

    With `unary`, single-child nodes are allowed (the metric ignores them) and `max_depth`, the
    brackets open at once (a word's included), bounds their chains so decoding ends; its default,
    one more than the word count, fits every tree without unary nodes. Without it, every inner
    node has two or more children, exactly the trees to_unlabeled writes. Unary nodes are the
    default: a few-shot model that opens brackets too eagerly gets harmless unary chains instead
    of being forced into deep left-branching trees (Gemma 3 270M, 8 shots, 30 CRAFT sentences:
    corpus F1 0.44 with unary nodes, 0.30 without).
    """

    def __init__(self, words: Sequence[str], unary: bool = True, max_depth: int | None = None):
        if not words:
            raise KDBenchError("a tree needs at least one word")
        spaced = [w for w in words if not w or _ASCII_SPACE & set(w)]
        if spaced:
            raise KDBenchError(f"words must be non-empty and without spaces: {spaced}")
        self.units = [" " + escape_word(w) for w in words]
        self.min_children = 1 if unary else 2
        self.max_depth = len(words) + 1 if max_depth is None else max_depth
        if self.max_depth < 2:
            raise KDBenchError(f"max_depth = {self.max_depth}: a tree needs at least 2 levels")

    # State: (words placed, child counts of the open nodes from the root in, whether the innermost
    # open node is a leaf that already holds its word). An innermost node with no child yet may
    # still become a leaf or an inner node.
    def initial(self) -> State:
        return (0, (), False)

    def _need(self, open_nodes: tuple[int, ...]) -> int:
        """Fewest words that complete the open nodes: one for the innermost if it has no child
        yet, one per child an inner node still lacks."""
        lacking = sum(max(0, self.min_children - c) for c in open_nodes)
        return lacking - self.min_children + 1 if open_nodes[-1] == 0 else lacking

    def allowed(self, state: State) -> list[str]:
        placed, open_nodes, in_leaf = state
        if in_leaf:
            return [CLOSE]
        if not open_nodes:
            return [OPEN] if placed == 0 else []
        n, depth, children = len(self.units), len(open_nodes), open_nodes[-1]
        units = []
        # Only a one-word sentence's root holds its word directly: `( word )`.
        if children == 0 and placed < n and (depth > 1 or n == 1):
            units.append(self.units[placed])
        # Opening only where the words left can still complete every open node keeps every
        # state completable, and bounds the depth by the word count without unary nodes.
        opened = open_nodes[:-1] + (children + 1, 0)
        if depth < self.max_depth and self._need(opened) <= n - placed:
            units.append(OPEN)
        # Closing the root ends the output, so it waits for the last word.
        if children >= self.min_children and (depth > 1 or placed == n):
            units.append(CLOSE)
        return units

    def advance(self, state: State, unit: str) -> State:
        placed, open_nodes, _ = state
        if unit == OPEN:
            parent = open_nodes[:-1] + (open_nodes[-1] + 1,) if open_nodes else ()
            return (placed, parent + (0,), False)
        if unit == CLOSE:
            return (placed, open_nodes[:-1], False)
        return (placed + 1, open_nodes, True)


class TagGrammar:
    """Exactly one tag from `tags` per word, space separated (slot_tagging's format); with
    bio_valid, I-X only right after B-X or I-X."""

    def __init__(self, n_words: int, tags: Sequence[str], bio_valid: bool = True):
        if n_words < 1:
            raise KDBenchError(f"n_words = {n_words}: need at least one word to tag")
        bad = [t for t in tags if read_tags(t, 1) != [t]]
        if bad or not tags:
            raise KDBenchError(f"tags must be BIO tags without spaces (O, B-type, I-type): {bad}")
        if bio_valid and all(t.startswith("I-") for t in tags):
            raise KDBenchError(f"with bio_valid no tag in {list(tags)} can start a sentence")
        self.n_words = n_words
        self.tags = list(dict.fromkeys(tags))
        self.bio_valid = bio_valid

    # State: (tags written, the last one); "O" before the first, so no I- can open a sentence.
    def initial(self) -> State:
        return (0, "O")

    def allowed(self, state: State) -> list[str]:
        written, previous = state
        if written == self.n_words:
            return []
        return [" " + t for t in self.tags if self._may_follow(t, previous)]

    def _may_follow(self, tag: str, previous: str) -> bool:
        if not self.bio_valid or not tag.startswith("I-"):
            return True
        return previous[:2] in ("B-", "I-") and previous[2:] == tag[2:]

    def advance(self, state: State, unit: str) -> State:
        return (state[0] + 1, unit[1:])


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

    def forward(self, ids: list[int], cache, keep: int):
        """Log-probs after each of the last `keep` ids (under the full softmax), and the cache."""
        out = self.model(self.torch.tensor([ids]), past_key_values=cache, use_cache=True,
                         logits_to_keep=keep)
        return self.torch.log_softmax(out.logits[0].float(), dim=-1), out.past_key_values

    def flush(self, pending: list[int], dist, cache, logprobs: list[float], need_next: bool):
        """Feeds the chosen tokens in one call and records their log-probs; `dist` is the
        distribution before pending[0]. Without need_next the last token is not fed: nothing
        follows it."""
        logprobs.append(float(dist[pending[0]]))
        fed = pending if need_next else pending[:-1]
        if not fed:
            return dist, cache
        rows, cache = self.forward(fed, cache, len(fed))
        logprobs.extend(float(rows[j, token]) for j, token in enumerate(pending[1:]))
        return rows[-1], cache

    def decode(self, grammar: Grammar, feed: list[int], cache) -> Generation:
        rows, cache = self.forward(feed, cache, 1)
        dist = rows[-1]
        state = grammar.initial()
        cursor: _Cursor | None = _Cursor(state, self.candidates(grammar, state), 0)
        units: list[str] = []
        token_ids: list[int] = []
        logprobs: list[float] = []
        pending: list[int] = []
        while cursor is not None:
            options = self.options(grammar, cursor)
            choice = options[0]
            if len(options) > 1:
                if pending:
                    dist, cache = self.flush(pending, dist, cache, logprobs, need_next=True)
                    pending = []
                scores = [math.inf if o.token is None else float(dist[o.token]) for o in options]
                choice = options[max(range(len(options)), key=scores.__getitem__)]
            if choice.completes is not None:
                units.append(choice.completes)
            if choice.fed:
                pending.append(choice.token)
                token_ids.append(choice.token)
            cursor = choice.cursor
        if pending:
            self.flush(pending, dist, cache, logprobs, need_next=False)
        return Generation("".join(units)[1:], token_ids, logprobs)


def generate(model, tokenizer, prefix: str, prompts: Sequence[str], grammars: Sequence[Grammar],
             progress: bool = False, reuse_prefix: bool = True,
             end: str = "\n") -> list[Generation]:
    """Greedy constrained output of `model` (in eval mode) for prefix + each prompt.

    The prefix (few-shot demonstrations, with the tokenizer's special tokens) is tokenized apart
    from each prompt and its KV cache computed once; reuse_prefix=False feeds each whole prompt
    afresh instead (slower, same ids, same result up to float error). Prompts should end right
    after their label ("Tree:", "Tags:"), not with a space: every unit brings its own.

    `end` is what the prompt format puts after an output; its first token is scored only where
    the output could end or go on (a last tag whose tokens begin another tag's); where it
    tokenizes to nothing, ending wins there.
    """
    import torch

    if len(prompts) != len(grammars):
        raise KDBenchError(f"{len(prompts)} prompts for {len(grammars)} grammars")
    decoder = _Decoder(model, tokenizer, end)
    prefix_ids = tokenizer(prefix, add_special_tokens=True)["input_ids"]
    results = []
    start = time.time()
    with torch.no_grad():
        prefix_cache = None
        if reuse_prefix and prefix_ids:
            _, prefix_cache = decoder.forward(prefix_ids, None, 1)
        for i, (prompt, grammar) in enumerate(zip(prompts, grammars, strict=True)):
            ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
            if not ids:
                raise KDBenchError(f"prompt {i} tokenizes to nothing: {prompt!r}")
            if prefix_cache is None:
                results.append(decoder.decode(grammar, prefix_ids + ids, None))
            else:
                # A copy per prompt: sliding-window caches cannot be cropped back to the prefix.
                results.append(decoder.decode(grammar, ids, copy.deepcopy(prefix_cache)))
            if progress and (i + 1) % 10 == 0:
                rate = (i + 1) / (time.time() - start)
                print(f"  generate: {i + 1}/{len(prompts)} ({rate:.2f} ex/s, "
                      f"eta {(len(prompts) - i - 1) / rate:.0f} s)", flush=True)
    return results
