"""Output grammars of the sequence tasks: which units (" (", " )", " word", " B-city", each with
its leading space) may come next. Constrained decoding (kdbench.generation) lets a model choose
only among them, so every output parses with the right words."""

from collections.abc import Sequence
from typing import Protocol

from kdbench.bio import may_follow, read_tags
from kdbench.errors import KDBenchError
from kdbench.trees import escape_word

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
        return [" " + t for t in self.tags if not self.bio_valid or may_follow(previous, t)]

    def advance(self, state: State, unit: str) -> State:
        return (state[0] + 1, unit[1:])
