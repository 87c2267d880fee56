"""Results: flat metrics for `dvc exp show` and a markdown table (tabulate)."""

from tabulate import tabulate

COLUMNS = [
    ("method", "method"),
    ("accuracy", "accuracy"),
    ("macro_f1", "macro-F1"),
    ("gold_labels", "gold labels"),
    ("train_examples", "train examples"),
    ("data_usage", "pool used"),
    ("wall_s", "wall s"),
]


def flat_metrics(rows: list[dict]) -> dict:
    """{'<row>_<metric>': value} for every numeric field of every row."""
    flat = {}
    for row in rows:
        for key, value in row.items():
            if key != "name" and isinstance(value, int | float) and not isinstance(value, bool):
                flat[f"{row['name']}_{key}"] = value
    return flat


def markdown_table(rows: list[dict], columns: list[tuple[str, str]] = COLUMNS) -> str:
    body = [[_cell(row.get(key)) for key, _ in columns] for row in rows]
    return tabulate(body, headers=[title for _, title in columns], tablefmt="github")


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}" if value < 100 else f"{value:.0f}"
    return str(value)
