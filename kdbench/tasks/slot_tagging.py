"""Semantic parsing as MCKD frames it: the BIO slot-tag sequence of a sentence, scored by chunk
F1 (conlleval semantics) and exact match (kdbench.bio). Data: ATIS-style travel queries from this
project's templates (offline)."""

from collections.abc import Sequence

from kdbench.bio import chunk_f1, read_tags
from kdbench.grammars import Grammar, TagGrammar
from kdbench.params import text
from kdbench.seqdata import generate_slot_tagging, tag_set
from kdbench.tasks.sequence import SEQUENCE_DATA, SEQUENCE_STUDENT, SEQUENCE_TEACHER, SequenceTask


class SlotTagging(SequenceTask):
    name = "slot_tagging"
    metrics = ("chunk_f1", "exact_match")
    output_field = "Tags"
    schema = {
        "data": {"source": text(choices=("generated",), doc="ATIS-style queries of this "
                                                            "project's templates"),
                 **SEQUENCE_DATA},
        "teacher": SEQUENCE_TEACHER,
        "student": SEQUENCE_STUDENT,
    }

    def load(self, data: dict, seed: int) -> tuple[list[dict], dict]:
        needed = data["n_labeled"] + data["n_unlabeled"] + data["n_test"]
        rows = generate_slot_tagging(needed, seed, min_words=data["min_words"],
                                     max_words=data["max_words"])
        return rows, {"source": data["source"]}

    def tags(self, rows: Sequence[dict]) -> list[str]:
        return tag_set(rows)

    def grammar(self, words: Sequence[str], tags: Sequence[str], unary: bool) -> Grammar:
        return TagGrammar(len(words), tags)

    def readable(self, output: str, words: Sequence[str], tags: Sequence[str]) -> bool:
        read = read_tags(output, len(words))
        return read is not None and set(read) <= set(tags)

    def score(self, outputs: Sequence[str | None], gold: Sequence[dict], meta: dict) -> dict:
        """Chunk F1 (conlleval semantics) and exact match; unreadable outputs predict nothing."""
        scores = chunk_f1([read_tags(o or "", len(r["words"]))
                           for o, r in zip(outputs, gold, strict=True)],
                          [r["target"].split() for r in gold])
        return {"chunk_f1": round(scores["f1"], 4), "exact_match": round(scores["exact_match"], 4),
                "unreadable": scores["unreadable"]}

    def baselines(self, test: list[dict]) -> list[tuple[str, str, list[str]]]:
        return [("baseline", "all O", [" ".join("O" for _ in r["words"]) for r in test])]


TASK = SlotTagging()
