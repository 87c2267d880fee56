"""What MCKD's sequence tasks share: rows {id, words, target}, a generating teacher (greedy,
grammar-constrained by default; kdbench.seq_teacher), a structured or causal-LM student, and
MCKD's combination of outside students by confidence. Each task (constituency, slot_tagging)
adds its data source, grammar, reader and metrics."""

from collections.abc import Sequence

from kdbench.demonstrations import sampled
from kdbench.errors import KDBenchError
from kdbench.grammars import Grammar
from kdbench.io import read_jsonl
from kdbench.params import STUDENT, TEACHER, flag, integer, text
from kdbench.seqdata import split_by_article
from kdbench.tasks import Prepared, Task

SEQUENCE_DATA = {
    "min_words": integer(1, doc="non-punctuation words per sentence"),
    "max_words": integer(1, doc="at most this many"),
    "n_labeled": integer(1, doc="gold pool: demonstrations and the SFT baseline"),
    "n_unlabeled": integer(2, doc="pool the teacher labels (gold kept aside)"),
    "n_test": integer(1, doc="gold test split"),
}
SEQUENCE_TEACHER = {
    **TEACHER,
    "backend": text(choices=("transformers", "openai"),
                    doc="openai: a served model (server), free decoding only"),
    "constrained": flag("grammar-constrained decoding: every output a well-formed answer"),
    "unary": flag("trees may have single-child nodes (the metric ignores them)"),
    "batch_size": integer(1, doc="sentences decoded together (constrained only)"),
}
# structured: an encoder with a span scorer (parsing) or a tagger; causal_lm: a decoder-only LM
# (smollm2-135m-instruct or a dir) writes the output; seq2seq: an encoder-decoder (a T5 or BART
# dir, or all-minilm-l6-v2-seq2seq) writes it.
SEQUENCE_STUDENT = {**STUDENT, "kind": text(
    choices=("structured", "causal_lm", "seq2seq"),
    doc="structured: encoder + span or tag head; causal_lm: a decoder-only LM writes the output; "
        "seq2seq: an encoder-decoder writes it")}


class SequenceTask(Task):
    target = "target"
    output = "output"
    methods = frozenset({"conf_filter"})
    teacher_kind = "generation"
    output_field: str  # the prompt's name for the output ("Tree", "Tags")

    def check(self, block: dict) -> None:
        data = block["data"]
        if data["min_words"] > data["max_words"]:
            raise KDBenchError(f"params: {self.name}.data.min_words ({data['min_words']}) is "
                               f"above {self.name}.data.max_words ({data['max_words']})")

    # --- what each sequence task declares ------------------------------------------------------

    def load(self, data: dict, seed: int) -> tuple[list[dict], dict]:
        """Enough rows for the three splits, and what loading dropped."""
        raise NotImplementedError

    def grammar(self, words: Sequence[str], tags: Sequence[str], unary: bool) -> Grammar:
        raise NotImplementedError

    def readable(self, output: str, words: Sequence[str], tags: Sequence[str]) -> bool:
        raise NotImplementedError

    def tags(self, rows: Sequence[dict]) -> list[str]:
        """The output vocabulary a tagging task constrains to; empty for parsing."""
        return []

    # --- shared ------------------------------------------------------------------------------

    def prepare(self, data: dict, seed: int) -> Prepared:
        rows, counts = self.load(data, seed)
        labeled, unlabeled, test = split_by_article(rows, data["n_labeled"], data["n_unlabeled"],
                                                    data["n_test"], seed)
        # The pool's gold target moves to "gold" so that nothing can train on it by accident.
        pool = [{**{k: v for k, v in r.items() if k != "target"}, "gold": r["target"]}
                for r in unlabeled]
        meta = {"tags": self.tags(rows), "sentences_available": len(rows), **counts}
        print(f"prepare: {self.name}: {len(rows)} sentences")
        return Prepared(labeled, pool, test, meta)

    def demonstrations(self, teacher, labeled, meta, seed):
        return sampled(labeled, teacher["shots"], seed)

    def read_rows(self, path: str, meta: dict) -> list[dict]:
        return read_jsonl(path)

    def confidence(self, prediction: dict) -> float:
        return prediction["confidence"]

    def combine(self, predictions: list[dict], meta: dict) -> dict:
        # The most confident outside student's output (first on ties): this project's choice for
        # K > 2; the paper has K = 2, where there is one outside student.
        return max(predictions, key=lambda p: p["confidence"])

    def trainset_row(self, row: dict, prediction: dict) -> dict:
        return {"id": row["id"], "words": row["words"], "target": prediction["output"],
                "confidence": prediction["confidence"]}

    def teacher_row(self, info: dict) -> dict:
        return {"pool_unreadable": info["pool_unreadable"]}

    def describe(self, setup: dict, teacher: dict) -> str:
        return (f"Task {self.name} ({setup['source']} data). Per seed: {setup['labeled']} "
                f"labeled, {setup['unlabeled']} unlabeled, {setup['test']} test sentences; "
                f"student {setup['student']}. Teacher outputs the metric could not read: "
                f"{teacher.get('unreadable', 0):.1f} of {setup['test']} test sentences (mean).")
