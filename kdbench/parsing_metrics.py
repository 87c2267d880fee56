"""Unlabeled bracket F1 in two modes: `project` (kdbench.trees, the pipeline's metric) and
`mckd`, the MCKD authors' scorer as docs/methods.md records it, so that results can be read
against the paper's numbers.

The `mckd` mode differs in three ways, everything else as in kdbench.trees:
- a word counts only if its gold tag is one of the 36 word tags of the Penn Treebank tag set
  (Marcus et al. 1993), so `AFX`, `$`, `#` and any other tag are dropped as well as punctuation;
- words split on any Unicode whitespace, in the gold and in the prediction: a gold word with a
  space inside counts as one word per piece, each with the word's tag, and the word's brackets
  make a span over its pieces (my reading: the authors' tag alignment for such words is not
  recorded);
- a sentence without spans (fewer than two kept words) scores 0, where `project` gives a
  readable prediction of it 1.0.

The pipeline's task module scores with `project`; this module serves the metric-mode study
(studies/dvc.yaml) and reuses the trees module's span arithmetic.
"""

import re
from collections.abc import Sequence
from pathlib import Path

from kdbench.errors import KDBenchError
from kdbench.params import Field, text
from kdbench.report import aggregate, markdown_table, mean_std
from kdbench.seqdata import load_treebank
from kdbench.studies import read_section
from kdbench.tasks import Task, read_prepared
from kdbench.trees import (
    PUNCT_TAGS,
    Span,
    Tree,
    _cleaned,
    _prf,
    _without_punct,
    corpus_f1,
    parse_tree,
    right_branching,
    sentence_f1,
    tags,
)
from kdbench.trees import words as tree_words

MODES = ("project", "mckd")

WORD_TAGS = frozenset(
    "CC CD DT EX FW IN JJ JJR JJS LS MD NN NNS NNP NNPS PDT POS PRP PRP$ RB RBR RBS RP SYM TO "
    "UH VB VBD VBG VBN VBP VBZ WDT WP WP$ WRB".split())

_UNICODE_TOKEN = re.compile(r"[()]|[^\s()]+")

# Why the two modes can score a gold sentence differently.
REASONS = ("word tag outside the 36", "Unicode space inside a word", "no spans")


def _gold(tree: Tree) -> tuple[list[str], set[Span]]:
    """Tags per word piece and the spans over pieces (punctuation not yet removed)."""
    piece_tags: list[str] = []
    spans: set[Span] = set()
    # Iterative, so that deep treebank trees need no recursion limit.
    stack: list[tuple[Tree, int | None]] = [(tree, None)]
    while stack:
        node, start = stack.pop()
        if start is not None:  # the node's children are done: close its span
            if len(piece_tags) - start > 1:
                spans.add((start, len(piece_tags)))
            continue
        if node.word is not None:
            pieces = node.word.split() or [node.word]
            if len(pieces) > 1:
                spans.add((len(piece_tags), len(piece_tags) + len(pieces)))
            piece_tags.extend([node.label] * len(pieces))
            continue
        stack.append((node, len(piece_tags)))
        stack.extend((child, None) for child in reversed(node.children))
    return piece_tags, spans


def _predicted(text: str, n_words: int) -> set[Span] | None:
    """Spans of a prediction read with Unicode whitespace splitting words, or None."""
    tokens = _UNICODE_TOKEN.findall(text)
    if "(" not in tokens:
        return None
    n = 0
    spans: set[Span] = set()
    open_at: list[int] = []
    for token in tokens:
        if token == "(":
            open_at.append(n)
        elif token == ")":
            if open_at:
                start = open_at.pop()
                if n - start > 1:
                    spans.add((start, n))
        else:
            n += 1
    if n == 0 or n != n_words:
        return None
    spans.update((start, n) for start in open_at if n - start > 1)
    if n > 1:
        spans.add((0, n))
    return spans


def mckd_spans(pred: str, gold: Tree) -> tuple[set[Span] | None, set[Span]]:
    """The prediction's and the gold's spans as the authors' scorer compares them."""
    piece_tags, gold_spans = _gold(_cleaned(gold))
    keep = [tag in WORD_TAGS for tag in piece_tags]
    predicted = _predicted(pred, len(keep))
    gold_kept = _without_punct(gold_spans, keep)
    return (None if predicted is None else _without_punct(predicted, keep)), gold_kept


def mckd_sentence_f1(pred: str, gold: Tree) -> float:
    """The authors' sentence F1: 0 when unreadable or when the gold has no spans."""
    return _mckd_sentence(*mckd_spans(pred, gold))


def _mckd_sentence(pred_spans: set[Span] | None, gold_spans: set[Span]) -> float:
    if pred_spans is None or not gold_spans:
        return 0.0
    return _prf(len(pred_spans & gold_spans), len(pred_spans), len(gold_spans))["f1"]


def score(preds: Sequence[str], golds: Sequence[Tree], mode: str) -> dict[str, float | int]:
    """Corpus precision, recall, F1 and the mean sentence F1 in one mode (keys as
    kdbench.trees.corpus_f1's)."""
    if mode not in MODES:
        raise KDBenchError(f"unknown parsing metric mode {mode!r}; allowed: {', '.join(MODES)}")
    if mode == "project":
        return corpus_f1(preds, golds)
    if len(preds) != len(golds):
        raise KDBenchError(f"{len(preds)} predictions for {len(golds)} gold trees")
    if not golds:
        raise KDBenchError("no sentences to score")
    matched = n_pred = n_gold = unreadable = 0
    sentence_sum = 0.0
    for pred, gold in zip(preds, golds, strict=True):
        pred_spans, gold_spans = mckd_spans(pred, gold)
        n_gold += len(gold_spans)
        if pred_spans is None:
            unreadable += 1
            continue
        matched += len(pred_spans & gold_spans)
        n_pred += len(pred_spans)
        sentence_sum += _mckd_sentence(pred_spans, gold_spans)
    return {**_prf(matched, n_pred, n_gold), "mean_sentence_f1": sentence_sum / len(golds),
            "unreadable": unreadable, "sentences": len(golds)}


def differences(tree: Tree) -> list[str]:
    """Why the two modes may score this gold sentence differently (empty: they cannot)."""
    cleaned = _cleaned(tree)
    piece_tags, spans = _gold(cleaned)
    reasons = []
    if any(t not in WORD_TAGS and t not in PUNCT_TAGS for t in tags(cleaned)):
        reasons.append(REASONS[0])
    if any(len(w.split()) > 1 for w in tree_words(cleaned)):
        reasons.append(REASONS[1])
    if not _without_punct(spans, [t in WORD_TAGS for t in piece_tags]):
        reasons.append(REASONS[2])
    return reasons


# The metric-mode study: the pipeline's test predictions and a treebank's right-branching trees
# scored in both modes.
SCHEMA = {
    "seeds": Field(list, doc="the pipeline's constituency seeds whose predictions are re-scored"),
    "treebank": text(optional=True, doc="a directory of Penn .tree files whose right-branching "
                                        "trees are scored too (null: none)"),
    "treebank_words": Field(list, doc="[min, max] non-punctuation words of the treebank slice "
                                      "scored beside all its sentences"),
}


def read_study(path: str | Path) -> dict:
    """studies/params.yaml's `parsing_metrics`, validated."""
    study = read_section(path, "parsing_metrics", SCHEMA)
    low_high = study["treebank_words"]
    if (len(low_high) != 2 or not all(isinstance(v, int) and not isinstance(v, bool)
                                      for v in low_high) or not 1 <= low_high[0] <= low_high[1]):
        raise KDBenchError(f"params: parsing_metrics.treebank_words = {low_high}; expected "
                           "[min, max] with 1 <= min <= max")
    return study


def both_modes(preds: Sequence[str], golds: Sequence[Tree]) -> dict[str, float | int]:
    """Sentence and corpus F1 in each mode, and the sentences whose F1 differs between them."""
    out: dict[str, float | int] = {}
    for mode in MODES:
        result = score(preds, golds, mode)
        out[f"{mode}_sentence_f1"] = round(result["mean_sentence_f1"], 4)
        out[f"{mode}_corpus_f1"] = round(result["f1"], 4)
    out["sentences"] = len(golds)
    out["sentences_differ"] = sum(
        abs(sentence_f1(p, g)["f1"] - mckd_sentence_f1(p, g)) > 1e-9
        for p, g in zip(preds, golds, strict=True))
    return out


def rescore(task: Task, folder: str | Path, evaluated: dict) -> list[dict]:
    """Every row of one seed's evaluation (its rows.json) re-scored in both modes from the
    predictions the evaluate stage scored."""
    prepared = read_prepared(folder)
    golds = [parse_tree(r["tree"]) for r in prepared.test]
    baselines = {name: outputs for name, _, outputs in task.baselines(prepared.test)}
    rows = []
    for row in evaluated["rows"]:
        name = row["name"]
        if name in baselines:
            preds = baselines[name]
        else:
            path = (f"{folder}/teacher/test.jsonl" if name == "teacher"
                    else f"{folder}/students/{name}/predictions.jsonl")
            by_id = {p["id"]: p[task.output] for p in task.read_rows(path, prepared.meta)}
            preds = [by_id[r["id"]] or "" for r in prepared.test]
        rows.append({"name": name, "method": row["method"], **both_modes(preds, golds)})
    return rows


def treebank_rows(path: str | Path, words: Sequence[int]) -> list[dict]:
    """Right-branching trees over a treebank, all sentences and the [min, max]-word slice, scored
    in both modes, with how many gold sentences each difference touches."""
    rows = []
    for name, (low, high) in (("all sentences", (1, None)),
                              (f"{words[0]}-{words[1]} words", tuple(words))):
        golds = [parse_tree(r["tree"]) for r in load_treebank(path, low, high)]
        preds = [right_branching(tree_words(g)) for g in golds]
        reasons: dict[str, int] = dict.fromkeys(REASONS, 0)
        for gold in golds:
            for reason in differences(gold):
                reasons[reason] += 1
        rows.append({"name": name, "method": "right-branching tree", **both_modes(preds, golds),
                     **reasons})
    return rows


COLUMNS = [("project_sentence_f1", "sentence F1 (project)"),
           ("mckd_sentence_f1", "sentence F1 (mckd)"),
           ("project_corpus_f1", "corpus F1 (project)"), ("mckd_corpus_f1", "corpus F1 (mckd)"),
           ("sentences_differ", "sentences that differ")]


def table(per_seed: list[list[dict]], treebank: list[dict] | None) -> tuple[dict, str]:
    """The pipeline's rows, mean ± std over seeds, and the treebank's rows: JSON and markdown."""
    rows = aggregate(per_seed)
    shown = [{"method": r["method"], **{k: mean_std(r, k) for k, _ in COLUMNS}} for r in rows]
    markdown = markdown_table(shown, [("method", "method"), *COLUMNS])
    if treebank:
        markdown += "\n\nRight-branching trees over the treebank:\n\n" + markdown_table(
            treebank, [("name", "sentences scored"), ("sentences", "sentences"), *COLUMNS,
                       *[(reason, reason) for reason in REASONS]])
    return {"rows": rows, "treebank": treebank}, markdown
