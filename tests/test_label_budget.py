"""The label-budget sweep: nested gold sets, gold + pseudolabel sets, and its table."""

import pytest

from kdbench.errors import KDBenchError
from kdbench.label_budget import (
    budget_curves,
    budget_table,
    budget_trainsets,
    gold_order,
    is_sft,
)
from kdbench.tasks import get_task, pool_gold


def rows(prefix: str, n: int, label: str = "a") -> list[dict]:
    return [{"id": f"{prefix}{i}", "text": f"text {prefix}{i}", "label": label} for i in range(n)]


@pytest.fixture
def pools():
    labeled = rows("l", 6, "gold")
    # The pool as prepared keeps its gold aside; budgets take it back as the target.
    unlabeled = pool_gold(get_task("classification"),
                          [{"id": f"u{i}", "text": f"text u{i}", "gold": "gold"} for i in range(8)])
    # The teacher's pseudolabels: every pool example, labeled "teacher".
    pseudo = [{"id": r["id"], "text": r["text"], "label": "teacher", "probs": [1.0]}
              for r in unlabeled]
    return labeled, unlabeled, pseudo


def test_gold_order_puts_demonstrations_first_then_labeled_then_pool(pools):
    labeled, unlabeled, _ = pools
    order = gold_order(labeled, unlabeled, ["l4", "l1"])
    assert [r["id"] for r in order] == (["l4", "l1", "l0", "l2", "l3", "l5"]
                                        + [f"u{i}" for i in range(8)])
    assert all(r["label"] == "gold" and set(r) == {"id", "text", "label"} for r in order)


def test_gold_order_refuses_demonstrations_outside_the_labeled_pool(pools):
    labeled, unlabeled, _ = pools
    with pytest.raises(KDBenchError, match="u3"):
        gold_order(labeled, unlabeled, ["l0", "u3"])


def test_budgets_are_nested_and_pseudolabels_fill_the_rest_of_the_pool(pools):
    labeled, unlabeled, pseudo = pools
    order = gold_order(labeled, unlabeled, ["l0", "l1"])
    previous: list[dict] = []
    for size in (2, 4, 6, 9, 14):
        sets = budget_trainsets(order, pseudo, size, n_demonstrations=2)
        gold, mixed = sets["gold"], sets["gold_pseudo"]
        assert len(gold) == size and gold[:len(previous)] == previous
        previous = gold
        # Gold first, then exactly the pool examples gold does not cover, each once.
        assert mixed[:size] == gold
        ids = [r["id"] for r in mixed]
        assert len(ids) == len(set(ids))
        pool_ids = {r["id"] for r in unlabeled}
        gold_ids = {r["id"] for r in gold}
        assert {r["id"] for r in mixed[size:]} == pool_ids - gold_ids
        assert all(r["label"] == "teacher" for r in mixed[size:])
        assert all(r["label"] == "gold" for r in gold)
    # Past the labeled pool, gold comes from the pool itself: 14 = every example, no pseudo.
    assert budget_trainsets(order, pseudo, 14, 2)["gold_pseudo"] == order


@pytest.mark.parametrize("size", [1, 15])
def test_budget_outside_demonstrations_and_gold_is_refused(pools, size):
    labeled, unlabeled, pseudo = pools
    order = gold_order(labeled, unlabeled, ["l0", "l1"])
    with pytest.raises(KDBenchError, match=rf"{size} is outside 2\.\.14"):
        budget_trainsets(order, pseudo, size, n_demonstrations=2)


def cell(name: str, size: int, accuracy: float, std: float = 0.01) -> dict:
    return {"name": f"{name}_b{size}", "accuracy": accuracy, "accuracy_std": std}


def test_table_says_where_each_method_beats_gold_alone():
    sizes = [10, 50, 200]
    rows_ = [cell("gold", 10, 0.50), cell("gold", 50, 0.80), cell("gold", 200, 0.95),
             cell("gold_pseudo", 10, 0.70), cell("gold_pseudo", 50, 0.79),
             cell("gold_pseudo", 200, 0.96)]
    fixed = {"teacher_accuracy": 0.75, "teacher_accuracy_std": 0.02,
             "teacher_gold_labels": 10.0,
             "llkd_accuracy": 0.85, "llkd_accuracy_std": 0.0, "llkd_gold_labels": 50.0}
    text = budget_table(rows_, sizes, fixed, [("teacher", "teacher"), ("llkd", "LLKD")], 3)
    lines = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
             for line in text.splitlines() if line.startswith("| ")}
    assert lines["student on gold alone (SFT)"][-1] == "none"
    assert lines["student on gold + pseudolabels"][-1] == "10, 200"
    assert lines["teacher"][-1] == "10"
    # LLKD uses 50 gold labels: no cell below that budget, and it beats gold alone at 50.
    assert lines["LLKD"][1:4] == ["-", "0.850 ± 0.000", "0.850 ± 0.000"]
    assert lines["LLKD"][-1] == "50"
    assert "3 seeds" in text
    curves = budget_curves(rows_, sizes)
    assert [p["accuracy"] for p in curves["student on gold + pseudolabels"]] == [0.70, 0.79, 0.96]
    assert [p["gold_labels"] for p in curves["student on gold alone (SFT)"]] == sizes


def test_table_names_the_missing_method():
    with pytest.raises(KDBenchError, match="llkd_accuracy"):
        budget_table([cell("gold", 10, 0.5), cell("gold_pseudo", 10, 0.6)], [10], {},
                     [("llkd", "LLKD")], 1)


def test_a_budget_of_exactly_the_labeled_pool_is_sft(pools):
    labeled, pool = pools[0], pools[1]
    order = gold_order(labeled, pool, [labeled[-1]["id"]])
    assert is_sft(order[:len(labeled)], labeled)  # the same examples in another order
    assert not is_sft(order[:len(labeled) - 1], labeled)
    assert not is_sft(order[1:len(labeled) + 1], labeled)
