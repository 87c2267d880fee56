"""The label-budget sweep: with B gold labels, is distillation worth more than finetuning on them?

Gold budgets are nested: the teacher's demonstrations come first (every method that prompts the
teacher has seen them, so they count against its budget), then the rest of the labeled pool,
then the unlabeled pool with its kept-aside gold, each in its prepared (seeded) order. So the
budget-B gold set grows by adding labels, as it would for a user who labels more, and the
teacher's pseudolabels stay the same at every budget.
"""

from kdbench.errors import KDBenchError
from kdbench.report import markdown_table


def gold_order(labeled: list[dict], pool: list[dict], demo_ids: list[str]) -> list[dict]:
    """Every example with a gold label in the order budgets take them: the demonstrations, the
    rest of the labeled pool, then the unlabeled pool with its kept-aside gold as target
    (`pool`, kdbench.tasks.pool_gold)."""
    by_id = {r["id"]: r for r in labeled}
    missing = [i for i in demo_ids if i not in by_id]
    if missing:
        raise KDBenchError(f"label budget: demonstrations {missing[:3]} are not in the labeled "
                           "pool; re-run prepare and prompt_teacher")
    demos = [by_id[i] for i in demo_ids]
    shown = set(demo_ids)
    rest = [r for r in labeled if r["id"] not in shown]
    return demos + rest + pool


def budget_trainsets(order: list[dict], pseudolabeled: list[dict], size: int,
                     n_demonstrations: int) -> dict[str, list[dict]]:
    """The two students of one budget: `gold` (the first `size` gold examples alone) and
    `gold_pseudo` (those, plus the teacher's pseudolabels of every pool example not among them)."""
    if not n_demonstrations <= size <= len(order):
        raise KDBenchError(
            f"label_budget.sizes: {size} is outside {n_demonstrations}..{len(order)}; a budget "
            f"includes the teacher's {n_demonstrations} demonstrations and cannot exceed the "
            f"{len(order)} gold labels of the labeled and unlabeled pools")
    gold = order[:size]
    taken = {r["id"] for r in gold}
    pseudo = [r for r in pseudolabeled if r["id"] not in taken]
    return {"gold": gold, "gold_pseudo": gold + pseudo}


def is_sft(gold: list[dict], labeled: list[dict]) -> bool:
    """Whether a budget's gold set is exactly the labeled pool, so that its gold-alone student
    would be the SFT baseline again (trained on the same examples in another order)."""
    return sorted(r["id"] for r in gold) == sorted(r["id"] for r in labeled)


STUDENTS = {"gold": "student on gold alone (SFT)",
            "gold_pseudo": "student on gold + pseudolabels"}


def budget_curves(rows: list[dict], sizes: list[int]) -> dict[str, list[dict]]:
    """Per student kind, its points {gold_labels, accuracy, accuracy_std} over the budgets."""
    by_name = {r["name"]: r for r in rows}
    return {title: [{"gold_labels": size, "accuracy": by_name[f"{name}_b{size}"]["accuracy"],
                     "accuracy_std": by_name[f"{name}_b{size}"]["accuracy_std"]}
                    for size in sizes]
            for name, title in STUDENTS.items()}


def budget_table(rows: list[dict], sizes: list[int], fixed_metrics: dict,
                 fixed: list[tuple[str, str]], seeds: int) -> str:
    """Markdown: a row per method, a column of test accuracy (mean ± std) per budget, and the
    budgets at which the method's mean beats gold alone. `rows` are the sweep's aggregated rows
    (names gold_b<size>, gold_pseudo_b<size>); `fixed` names methods of the classification
    aggregate (flat metrics `fixed_metrics`) whose gold use does not grow with the budget."""
    by_name = {r["name"]: r for r in rows}
    sft = {size: by_name[f"gold_b{size}"]["accuracy"] for size in sizes}

    def line(title: str, cells: dict[int, tuple[float, float]], gold: str) -> dict:
        beats = [str(s) for s, (mean, _) in cells.items() if mean > sft[s]]
        return {"method": title, "gold": gold, "beats": ", ".join(beats) or "none",
                **{s: f"{mean:.3f} ± {std:.3f}" for s, (mean, std) in cells.items()}}

    body = []
    for name, title in STUDENTS.items():
        cells = {s: (by_name[f"{name}_b{s}"]["accuracy"], by_name[f"{name}_b{s}"]["accuracy_std"])
                 for s in sizes}
        body.append(line(title, cells, "the budget"))
    for name, title in fixed:
        if f"{name}_accuracy" not in fixed_metrics:
            raise KDBenchError(f"label budget: the classification metrics have no {name}_accuracy;"
                               " run the aggregate stage first")
        used = round(fixed_metrics[f"{name}_gold_labels"])
        value = (fixed_metrics[f"{name}_accuracy"], fixed_metrics[f"{name}_accuracy_std"])
        body.append(line(title, {s: value for s in sizes if s >= used}, f"{used} at every budget"))
    table = markdown_table(body, [("method", "method"), ("gold", "gold labels used"),
                                  *((s, f"{s} gold") for s in sizes),
                                  ("beats", "beats gold alone at")])
    return (f"Test accuracy, mean ± sample std over {seeds} seeds, by the number of gold labels "
            f"(nested: each budget adds labels to the previous one; the teacher's demonstrations "
            f"are part of every budget). Methods that only prompt the teacher use its "
            f"demonstrations and no other gold, so their accuracy is the same at every budget.\n\n"
            f"{table}\n")
