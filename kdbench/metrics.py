"""Scores on the gold test split (scikit-learn)."""

from sklearn.metrics import accuracy_score, f1_score


def classification_scores(gold: list[str], predicted: list[str], labels: list[str]) -> dict:
    """Accuracy and macro-F1 (every label of the label set counts, present or not)."""
    return {
        "accuracy": float(accuracy_score(gold, predicted)),
        "macro_f1": float(f1_score(gold, predicted, labels=labels, average="macro",
                                   zero_division=0)),
    }
