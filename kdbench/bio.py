"""Semantic parsing as MCKD frames it: generate the BIO slot-tag sequence of a sentence, scored by
chunk F1 with conlleval's semantics (see docs/methods.md, MCKD "Tasks and metrics").

Tags are whole strings (`B-fromloc.city_name` has type `fromloc.city_name`): the released MCKD
scorer split tag strings into characters, a bug this module does not reproduce.
"""

from collections.abc import Sequence

from kdbench.errors import KDBenchError

Chunk = tuple[str, int, int]


def split_tag(tag: str) -> tuple[str, str]:
    """(prefix, type) of a tag: ("O", "") or ("B" | "I", type); raises for anything else."""
    if tag == "O":
        return "O", ""
    if tag[:2] in ("B-", "I-") and len(tag) > 2:
        return tag[0], tag[2:]
    raise KDBenchError(f"not a BIO tag: {tag!r} (expected O, B-type or I-type)")


def may_follow(previous: str, tag: str) -> bool:
    """Whether `tag` may come right after `previous` ("O" before a sentence's first tag) in a
    BIO-valid sequence: I-x only continues a chunk of type x."""
    prefix, kind = split_tag(tag)
    if prefix != "I":
        return True
    before, before_kind = split_tag(previous)
    return before != "O" and before_kind == kind


def chunks(tags: Sequence[str]) -> set[Chunk]:
    """The (type, start, end) chunks of a BIO/IOB2 sequence, end exclusive.

    As conlleval: a chunk starts at B-X, or at I-X after O or after another type; it ends before
    O, B-, or an I- of another type.
    """
    found: set[Chunk] = set()
    start: int | None = None
    current = ""
    for i, tag in enumerate(tags):
        prefix, kind = split_tag(tag)
        # Only an I- of the open chunk's own type continues it.
        if start is not None and not (prefix == "I" and kind == current):
            found.add((current, start, i))
            start = None
        if prefix != "O" and start is None:
            start, current = i, kind
    if start is not None:
        found.add((current, start, len(tags)))
    return found


def read_tags(text: str, n_words: int) -> list[str] | None:
    """A generated tag string as a tag list; None if it has the wrong length or a non-BIO tag."""
    tags = text.split()
    if len(tags) != n_words:
        return None
    try:
        for tag in tags:
            split_tag(tag)
    except KDBenchError:
        return None
    return tags


def chunk_f1(pred_seqs: Sequence[Sequence[str] | None],
             gold_seqs: Sequence[Sequence[str]]) -> dict[str, float | int]:
    """Micro chunk precision/recall/F1 over the corpus (as conlleval, as fractions), the fraction
    of sentences whose tag sequence equals the gold exactly, and the count of unreadable (None)
    predictions, which predict no chunks."""
    if len(pred_seqs) != len(gold_seqs):
        raise KDBenchError(f"{len(pred_seqs)} predictions for {len(gold_seqs)} gold sequences")
    if not gold_seqs:
        raise KDBenchError("no sentences to score")
    matched = n_pred = n_gold = exact = unreadable = 0
    for i, (pred, gold) in enumerate(zip(pred_seqs, gold_seqs, strict=True)):
        gold_chunks = chunks(gold)
        n_gold += len(gold_chunks)
        if pred is None:
            unreadable += 1
            continue
        if len(pred) != len(gold):
            raise KDBenchError(f"prediction {i} has {len(pred)} tags for {len(gold)} words")
        pred_chunks = chunks(pred)
        n_pred += len(pred_chunks)
        matched += len(pred_chunks & gold_chunks)
        exact += list(pred) == list(gold)
    precision = matched / n_pred if n_pred else 0.0
    recall = matched / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1,
            "exact_match": exact / len(gold_seqs), "unreadable": unreadable}
