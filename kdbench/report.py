"""Results: flat metrics for `dvc exp show` and a markdown table (tabulate)."""

import numpy as np
from tabulate import tabulate


def flat_metrics(rows: list[dict]) -> dict:
    """{'<row>_<metric>': value} for every numeric field of every row."""
    flat = {}
    for row in rows:
        for key, value in row.items():
            if key != "name" and _numeric(value):
                flat[f"{row['name']}_{key}"] = value
    return flat


def markdown_table(rows: list[dict], columns: list[tuple[str, str]]) -> str:
    """A GitHub table of the (key, title) columns; None shows as '-'."""
    body = [[_cell(row.get(key)) for key, _ in columns] for row in rows]
    return tabulate(body, headers=[title for _, title in columns], tablefmt="github")


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}" if value < 100 else f"{value:.0f}"
    return str(value)


def aggregate(per_seed: list[list[dict]]) -> list[dict]:
    """Rows averaged over seeds, matched by name, in the first seed's order: every numeric field
    becomes its mean, with `<field>_std` (sample std, 0 for one seed) beside it."""
    by_name: dict[str, list[dict]] = {}
    for rows in per_seed:
        for row in rows:
            by_name.setdefault(row["name"], []).append(row)
    out = []
    for name, rows in by_name.items():
        merged = {"name": name, "seeds": len(rows)}
        for key, value in rows[0].items():
            values = [r[key] for r in rows if key in r]
            if _numeric(value):
                merged[key] = round(float(np.mean(values)), 4)
                spread = np.std(values, ddof=1) if len(values) > 1 else 0.0
                merged[f"{key}_std"] = round(float(spread), 4)
            elif key != "name":
                merged[key] = value
        out.append(merged)
    return out


def mean_std(row: dict, key: str) -> str:
    """`mean ± std` of an aggregated field, 3 decimals; '-' when absent."""
    if row.get(key) is None:
        return "-"
    return f"{row[key]:.3f} ± {row.get(f'{key}_std', 0.0):.3f}"


def _numeric(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
