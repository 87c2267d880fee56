"""Constituency parsing (MCKD's headline task): unlabeled bracket trees, scored by sentence-level
and corpus-level unlabeled bracket F1 (kdbench.trees). Data: sentences of this project's grammar
(offline) or a directory of Penn `.tree` files such as CRAFT, test held out by article."""

from collections.abc import Sequence

from kdbench.errors import KDBenchError
from kdbench.grammars import BracketGrammar, Grammar
from kdbench.params import text
from kdbench.seqdata import generate_treebank, load_treebank
from kdbench.tasks.sequence import SEQUENCE_DATA, SEQUENCE_STUDENT, SEQUENCE_TEACHER, SequenceTask
from kdbench.trees import corpus_f1, parse_tree, read_unlabeled, right_branching

# Generated data: sentences per synthetic article, and the spare sentences drawn so that holding
# out whole articles for test still leaves enough for the other splits.
ARTICLE_SIZE = 20


class Constituency(SequenceTask):
    name = "constituency"
    metrics = ("sentence_f1", "corpus_f1")
    output_field = "Tree"
    schema = {
        "data": {
            "source": text(choices=("generated", "trees"),
                           doc="generated (this project's grammar) | trees (Penn .tree files)"),
            "path": text(optional=True, doc="directory of .tree files (source trees)"),
            **SEQUENCE_DATA,
        },
        "teacher": SEQUENCE_TEACHER,
        "student": SEQUENCE_STUDENT,
    }

    def check(self, block: dict) -> None:
        super().check(block)
        if block["data"]["source"] == "trees" and not block["data"]["path"]:
            raise KDBenchError("params: constituency.data.path (a directory of Penn .tree "
                               "files) is required when constituency.data.source is 'trees'")

    def load(self, data: dict, seed: int) -> tuple[list[dict], dict]:
        counts: dict = {}
        if data["source"] == "trees":
            rows = load_treebank(data["path"], data["min_words"], data["max_words"],
                                 counts=counts)
        else:
            needed = data["n_labeled"] + data["n_unlabeled"] + data["n_test"]
            rows = generate_treebank(needed + ARTICLE_SIZE, seed,
                                     sentences_per_article=ARTICLE_SIZE,
                                     min_words=data["min_words"], max_words=data["max_words"])
        return rows, {"source": data["source"], **counts}

    def grammar(self, words: Sequence[str], tags: Sequence[str], unary: bool) -> Grammar:
        return BracketGrammar(words, unary=unary)

    def readable(self, output: str, words: Sequence[str], tags: Sequence[str]) -> bool:
        return read_unlabeled(output, len(words)) is not None

    def score(self, outputs: Sequence[str | None], gold: Sequence[dict], meta: dict) -> dict:
        """Sentence-averaged and corpus unlabeled bracket F1; unreadable outputs score 0."""
        scores = corpus_f1([o or "" for o in outputs], [parse_tree(r["tree"]) for r in gold])
        return {"sentence_f1": round(scores["mean_sentence_f1"], 4),
                "corpus_f1": round(scores["f1"], 4), "unreadable": scores["unreadable"]}

    def baselines(self, test: list[dict]) -> list[tuple[str, str, list[str]]]:
        return [("baseline", "right-branching tree", [right_branching(r["words"]) for r in test])]


TASK = Constituency()
