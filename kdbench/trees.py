"""Constituency parsing as MCKD frames it: Penn trees in, unlabeled bracket strings out, and
unlabeled bracketing F1 (see docs/methods.md, MCKD "Tasks and metrics").

Target format: labels and POS tags dropped, every word as `( word )`, unary chains collapsed,
every node with two or more children bracketed. A word containing `(` or `)` would break that
format, so each such character is written as `-LRB-` / `-RRB-` (the Penn escapes), e.g. the word
`(` becomes `( -LRB- )`. Penn trees already escape brackets, so this only touches hand-made trees.

Metric: a span is the (start, end) word offsets, end exclusive, of a constituent covering more
than one word, the whole sentence included. Words whose gold POS tag is in PUNCT_TAGS are removed
first, from the gold and from the prediction at the same positions (a readable prediction has the
gold's number of words; its words themselves are not compared). Spans count once each (sets).
"""

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from kdbench.errors import KDBenchError

# This project's choice (the paper does not list its tags): EVALB's COLLINS.prm set
# (, : `` '' .) plus brackets and OntoNotes/CRAFT's HYPH and NFP. SYM, `#` and `$` are words.
PUNCT_TAGS = frozenset({",", ".", ":", "``", "''", "-LRB-", "-RRB-", "HYPH", "NFP"})

Span = tuple[int, int]

# Only ASCII whitespace separates tokens: CRAFT has words with a hair or no-break space inside
# (`Xpd\u200aTTD`), which Python's \s would split.
_TOKEN = re.compile(r"[()]|[^ \t\n\r\f\v()]+")


@dataclass(frozen=True)
class Tree:
    """A constituent: a preterminal has a word and no children, any other node has children."""

    label: str
    children: tuple["Tree", ...] = ()
    word: str | None = None


class Bracketing(NamedTuple):
    """Words and spans (all spans over more than one word) of an unlabeled bracket string."""

    words: list[str]
    spans: set[Span]


def _build(tokens: list[str]) -> Tree:
    """One tree from its tokens; raises with what is wrong."""
    if not tokens:
        raise KDBenchError("empty input: expected a bracketed tree")
    stack: list[tuple[str, list[Tree | str]]] = []
    root: Tree | None = None
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token == "(":
            if root is not None:
                raise KDBenchError("text after the end of the tree: expected exactly one tree")
            label = ""
            if i + 1 < len(tokens) and tokens[i + 1] not in ("(", ")"):
                label = tokens[i + 1]
                i += 1
            stack.append((label, []))
        elif token == ")":
            if not stack:
                raise KDBenchError("unbalanced brackets: ')' without a matching '('")
            label, kids = stack.pop()
            node = _node(label, kids)
            if stack:
                stack[-1][1].append(node)
            else:
                root = node
        else:
            if not stack:
                raise KDBenchError(f"text outside brackets: {token!r}")
            stack[-1][1].append(token)
        i += 1
    if stack:
        raise KDBenchError(f"unbalanced brackets: {len(stack)} '(' never closed")
    assert root is not None
    # PTB and CRAFT wrap each tree in an unlabeled root; it carries nothing.
    if root.label == "" and len(root.children) == 1:
        return root.children[0]
    return root


def _node(label: str, kids: list["Tree | str"]) -> Tree:
    if not kids:
        if not label:
            raise KDBenchError("empty brackets '()'")
        raise KDBenchError(f"{label!r} has no children: expected (TAG word) or (LABEL subtrees)")
    kid_words = [k for k in kids if isinstance(k, str)]
    if not kid_words:
        return Tree(label, tuple(k for k in kids if isinstance(k, Tree)))
    # A word-bearing node always has a label: an unlabeled '(' is followed by another '('.
    if len(kid_words) != len(kids):
        raise KDBenchError(f"{label!r} mixes words and subtrees")
    if len(kid_words) > 1:
        raise KDBenchError(f"preterminal {label!r} has {len(kid_words)} words, expected one")
    return Tree(label, word=kid_words[0])


def parse_tree(text: str) -> Tree:
    """One Penn-style bracketed tree (may span lines); an unlabeled single-child root is dropped,
    so CRAFT's `( (S ...) )` gives the S tree."""
    return _build(_TOKEN.findall(text))


def read_tree_file(path: str | Path) -> list[Tree]:
    """Every tree of a `.tree` file: one per top-level bracket group, blank lines ignored."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise KDBenchError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    except OSError as err:
        raise KDBenchError(f"{path}: cannot read ({err.strerror})") from None
    trees: list[Tree] = []
    tokens: list[str] = []
    depth = 0
    start_line = 0
    for line_no, line in enumerate(text.split("\n"), start=1):
        for token in _TOKEN.findall(line):
            if depth == 0:
                if token != "(":
                    raise KDBenchError(f"{path}: line {line_no}, tree {len(trees) + 1}: "
                                       f"{token!r} outside any tree")
                start_line = line_no
            tokens.append(token)
            depth += {"(": 1, ")": -1}.get(token, 0)
            if depth == 0:
                trees.append(_parse_numbered(tokens, path, len(trees) + 1, start_line))
                tokens = []
    if tokens:
        raise KDBenchError(f"{path}: tree {len(trees) + 1} (line {start_line}): "
                           f"unbalanced brackets: {depth} '(' never closed")
    return trees


def _parse_numbered(tokens: list[str], path: str | Path, number: int, line: int) -> Tree:
    try:
        return _build(tokens)
    except KDBenchError as err:
        raise KDBenchError(f"{path}: tree {number} (line {line}): {err}") from None


def _strip_label(label: str) -> str:
    # Labels starting with '-' (-LRB-, -NONE-) are whole names, not tagged ones.
    if label.startswith("-"):
        return label
    return re.split(r"[-=]", label, maxsplit=1)[0]


def clean(tree: Tree) -> Tree | None:
    """Without empty elements (-NONE-) and nodes they leave childless, with function tags and
    indices stripped from labels (NP-SBJ-1 -> NP, NP=2 -> NP); None if nothing is left."""
    if tree.word is not None:
        if tree.label == "-NONE-":
            return None
        return Tree(_strip_label(tree.label), word=tree.word)
    kids = tuple(c for c in (clean(child) for child in tree.children) if c is not None)
    if not kids:
        return None
    return Tree(_strip_label(tree.label), kids)


def _preterminals(tree: Tree) -> Iterator[Tree]:
    if tree.word is not None:
        yield tree
    for child in tree.children:
        yield from _preterminals(child)


def words(tree: Tree) -> list[str]:
    return [t.word for t in _preterminals(tree) if t.word is not None]


def tags(tree: Tree) -> list[str]:
    return [t.label for t in _preterminals(tree)]


def _cleaned(tree: Tree) -> Tree:
    # Scoring or converting a tree with traces would count them as words; cleaning is idempotent.
    result = clean(tree)
    if result is None:
        raise KDBenchError("tree has no words once empty elements (-NONE-) are removed")
    return result


def escape_word(word: str) -> str:
    """A word as the bracket format writes it: `(` and `)` as their Penn escapes."""
    return word.replace("(", "-LRB-").replace(")", "-RRB-")


def _unlabeled(tree: Tree) -> str:
    if tree.word is not None:
        return f"( {escape_word(tree.word)} )"
    if len(tree.children) == 1:
        return _unlabeled(tree.children[0])
    return "( " + " ".join(_unlabeled(child) for child in tree.children) + " )"


def to_unlabeled(tree: Tree) -> str:
    """The MCKD target string of a tree (cleaned first)."""
    return _unlabeled(_cleaned(tree))


def _collect_spans(tree: Tree, start: int, out: set[Span]) -> int:
    if tree.word is not None:
        return start + 1
    end = start
    for child in tree.children:
        end = _collect_spans(child, end, out)
    if end - start > 1:
        out.add((start, end))
    return end


def tree_spans(tree: Tree) -> set[Span]:
    """Spans of the cleaned tree over all its words (punctuation not yet removed)."""
    out: set[Span] = set()
    _collect_spans(_cleaned(tree), 0, out)
    return out


def read_unlabeled(text: str, n_words: int | None = None) -> Bracketing | None:
    """Words and spans of a (possibly generated) unlabeled bracket string, or None.

    Repairs: an unmatched ')' is dropped, an unclosed '(' is closed at the end, and the whole
    sentence always counts as a span (so several top-level groups read as one sentence). Any token
    that is not a bracket is a word, so `( a b )` reads like `( ( a ) ( b ) )`. None if there is
    no '(' or no word, or if n_words is given and the word count differs.
    """
    tokens = _TOKEN.findall(text)
    if "(" not in tokens:
        return None
    found: list[str] = []
    spans: set[Span] = set()
    open_at: list[int] = []
    for token in tokens:
        if token == "(":
            open_at.append(len(found))
        elif token == ")":
            if open_at:
                start = open_at.pop()
                if len(found) - start > 1:
                    spans.add((start, len(found)))
        else:
            found.append(token)
    n = len(found)
    if n == 0 or (n_words is not None and n != n_words):
        return None
    spans.update((start, n) for start in open_at if n - start > 1)
    if n > 1:
        spans.add((0, n))
    return Bracketing(found, spans)


def _without_punct(spans: set[Span], keep: list[bool]) -> set[Span]:
    # kept_before[i] = kept words before position i, so a span maps to its kept-word offsets.
    kept_before = [0]
    for k in keep:
        kept_before.append(kept_before[-1] + k)
    mapped = {(kept_before[s], kept_before[e]) for s, e in spans}
    return {(s, e) for s, e in mapped if e - s > 1}


def scored_spans(pred: str, gold: Tree) -> tuple[set[Span] | None, set[Span]]:
    """The prediction's and the gold's spans as the metric compares them (punctuation removed);
    the prediction's are None when it is unreadable or has the wrong number of words."""
    gold = _cleaned(gold)
    keep = [tag not in PUNCT_TAGS for tag in tags(gold)]
    gold_spans = _without_punct(tree_spans(gold), keep)
    read = read_unlabeled(pred, n_words=len(keep))
    if read is None:
        return None, gold_spans
    return _without_punct(read.spans, keep), gold_spans


def _prf(matched: int, n_pred: int, n_gold: int) -> dict[str, float]:
    precision = matched / n_pred if n_pred else 0.0
    recall = matched / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def _sentence_scores(pred_spans: set[Span] | None, gold_spans: set[Span]) -> dict[str, float]:
    if pred_spans is None:
        return _prf(0, 0, len(gold_spans))
    if not gold_spans and not pred_spans:
        return {"precision": 1.0, "recall": 1.0, "f1": 1.0}
    return _prf(len(pred_spans & gold_spans), len(pred_spans), len(gold_spans))


def sentence_f1(pred: str, gold: Tree) -> dict[str, float]:
    """Unlabeled bracketing precision, recall, F1 of one prediction; 0 if unreadable.

    A sentence with fewer than two non-punctuation words has no spans: a readable prediction of it
    scores 1.0 (there is nothing to get wrong), an unreadable one 0.
    """
    return _sentence_scores(*scored_spans(pred, gold))


def corpus_f1(preds: Sequence[str], golds: Sequence[Tree]) -> dict[str, float | int]:
    """EVALB-style micro precision/recall/F1 over all spans, the mean of sentence F1 beside it,
    and how many predictions were unreadable (or had the wrong number of words)."""
    if len(preds) != len(golds):
        raise KDBenchError(f"{len(preds)} predictions for {len(golds)} gold trees")
    if not golds:
        raise KDBenchError("no sentences to score")
    matched = n_pred = n_gold = unreadable = 0
    sentence_sum = 0.0
    for pred, gold in zip(preds, golds, strict=True):
        pred_spans, gold_spans = scored_spans(pred, gold)
        n_gold += len(gold_spans)
        if pred_spans is None:
            unreadable += 1
        else:
            matched += len(pred_spans & gold_spans)
            n_pred += len(pred_spans)
        sentence_sum += _sentence_scores(pred_spans, gold_spans)["f1"]
    return {**_prf(matched, n_pred, n_gold), "mean_sentence_f1": sentence_sum / len(golds),
            "unreadable": unreadable, "sentences": len(golds)}


def right_branching(sentence_words: Sequence[str]) -> str:
    """The right-branching tree over the words, in the unlabeled format:
    `( ( a ) ( ( b ) ( c ) ) )` for a, b, c."""
    if not sentence_words:
        raise KDBenchError("right-branching baseline needs at least one word")
    # Built from the last word back, so long sentences need no recursion.
    out = f"( {escape_word(sentence_words[-1])} )"
    for word in reversed(sentence_words[:-1]):
        out = f"( ( {escape_word(word)} ) {out} )"
    return out
