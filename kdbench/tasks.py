"""The MCKD sequence tasks, each a small definition: where its rows come from, the grammar that
constrains the teacher, which outputs are readable, its metrics and its trivial baseline.

Rows: {"id", "words", "target"} (see seqdata); an output is a string in the target's format.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from kdbench.constituency import corpus_f1, parse_tree, read_unlabeled, right_branching
from kdbench.errors import KDBenchError
from kdbench.generation import BracketGrammar, Grammar, TagGrammar
from kdbench.seqdata import generate_slot_tagging, generate_treebank, load_treebank, tag_set
from kdbench.slot_tagging import chunk_f1, read_tags

# Generated data: sentences per synthetic article, and the spare sentences drawn so that holding
# out whole articles for test still leaves enough for the other splits.
ARTICLE_SIZE = 20


@dataclass(frozen=True)
class Constituency:
    name: str = "constituency"
    output_field: str = "Tree"
    metrics: tuple[str, ...] = ("sentence_f1", "corpus_f1")
    baseline_name: str = "right-branching tree"

    def grammar(self, words: Sequence[str], tags: Sequence[str], unary: bool) -> Grammar:
        return BracketGrammar(words, unary=unary)

    def readable(self, output: str, words: Sequence[str], tags: Sequence[str]) -> bool:
        return read_unlabeled(output, len(words)) is not None

    def score(self, outputs: Sequence[str], gold: Sequence[dict]) -> dict:
        """Sentence-averaged and corpus unlabeled bracket F1; unreadable outputs score 0."""
        scores = corpus_f1(outputs, [parse_tree(r["tree"]) for r in gold])
        return {"sentence_f1": round(scores["mean_sentence_f1"], 4),
                "corpus_f1": round(scores["f1"], 4), "unreadable": scores["unreadable"]}

    def baseline(self, words: Sequence[str]) -> str:
        return right_branching(words)


@dataclass(frozen=True)
class SlotTagging:
    name: str = "slot_tagging"
    output_field: str = "Tags"
    metrics: tuple[str, ...] = ("chunk_f1", "exact_match")
    baseline_name: str = "all O"

    def grammar(self, words: Sequence[str], tags: Sequence[str], unary: bool) -> Grammar:
        return TagGrammar(len(words), tags)

    def readable(self, output: str, words: Sequence[str], tags: Sequence[str]) -> bool:
        read = read_tags(output, len(words))
        return read is not None and set(read) <= set(tags)

    def score(self, outputs: Sequence[str], gold: Sequence[dict]) -> dict:
        """Chunk F1 (conlleval semantics) and exact match; unreadable outputs predict nothing."""
        scores = chunk_f1([read_tags(o, len(r["words"])) for o, r in zip(outputs, gold,
                                                                         strict=True)],
                          [r["target"].split() for r in gold])
        return {"chunk_f1": round(scores["f1"], 4), "exact_match": round(scores["exact_match"], 4),
                "unreadable": scores["unreadable"]}

    def baseline(self, words: Sequence[str]) -> str:
        return " ".join("O" for _ in words)


TASKS = {task.name: task for task in (Constituency(), SlotTagging())}


def get_task(name: str) -> Constituency | SlotTagging:
    if name not in TASKS:
        raise KDBenchError(f"unknown sequence task {name!r}; expected one of {sorted(TASKS)}")
    return TASKS[name]


def load_rows(sequence: dict, seed: int) -> tuple[list[dict], dict]:
    """The task's rows (enough for the three splits) and what loading them dropped."""
    counts: dict = {}
    needed = sequence["n_labeled"] + sequence["n_unlabeled"] + sequence["n_test"]
    if sequence["source"] == "trees":
        rows = load_treebank(sequence["path"], sequence["min_words"], sequence["max_words"],
                             counts=counts)
    elif sequence["task"] == "constituency":
        rows = generate_treebank(needed + ARTICLE_SIZE, seed, sentences_per_article=ARTICLE_SIZE,
                                 min_words=sequence["min_words"],
                                 max_words=sequence["max_words"])
    else:
        rows = generate_slot_tagging(needed, seed, min_words=sequence["min_words"],
                                     max_words=sequence["max_words"])
    return rows, counts


def output_tags(rows: Sequence[dict], task: str) -> list[str]:
    """The tag vocabulary of a tagging task (from every split's gold), empty for parsing."""
    return tag_set(rows) if task == "slot_tagging" else []
