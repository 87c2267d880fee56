"""Figures a person would rather look at than read: PNG files (offline) from the run's outputs."""

import os

import matplotlib

matplotlib.use("Agg")  # no display on servers and CI

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def reliability_bins(confidence: np.ndarray, correct: np.ndarray,
                     bins: int = 10) -> list[dict]:
    """Per confidence bin: count, mean confidence and accuracy (empty bins left out)."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    rows = []
    for b in range(bins):
        members = index == b
        if members.any():
            rows.append({"bin_low": round(float(edges[b]), 2), "count": int(members.sum()),
                         "confidence": round(float(confidence[members].mean()), 4),
                         "accuracy": round(float(correct[members].mean()), 4)})
    return rows


def expected_calibration_error(rows: list[dict]) -> float:
    total = sum(r["count"] for r in rows)
    return round(sum(r["count"] * abs(r["accuracy"] - r["confidence"]) for r in rows) / total, 4)


def plot_reliability(rows: list[dict], path: str, title: str) -> None:
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], ls="--", color="grey", label="perfect calibration")
    ax.plot([r["confidence"] for r in rows], [r["accuracy"] for r in rows], "o-",
            label="teacher")
    for r in rows:
        ax.annotate(str(r["count"]), (r["confidence"], r["accuracy"]), fontsize=7,
                    textcoords="offset points", xytext=(4, -10))
    ax.set(xlabel="teacher confidence (probability of its label)", ylabel="accuracy",
           xlim=(0, 1), ylim=(0, 1), title=title)
    ax.legend(loc="upper left")
    _save(fig, path)


def plot_llkd_selection(log: list[dict], path: str, note: str) -> None:
    """Global thresholds and the share of each batch selected; keys step, teacher_threshold,
    student_threshold, selected_fraction."""
    steps = [e["step"] for e in log]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(steps, [e["teacher_threshold"] for e in log], label="teacher-confidence threshold")
    ax.plot(steps, [e["student_threshold"] for e in log], label="student-uncertainty threshold")
    ax.plot(steps, [e["selected_fraction"] for e in log], ".", alpha=0.6,
            label="fraction of batch selected")
    ax.set(xlabel="training step", ylim=(0, 1),
           title=f"LLKD: global thresholds and selection ({note})")
    ax.legend(loc="lower right", fontsize=8)
    _save(fig, path)


def plot_accuracy_vs_data(rows: list[dict], path: str, metric: str = "accuracy") -> None:
    """Each method's score (keys <metric>, <metric>_std) against the examples it trained on."""
    label = metric.replace("_", " ")
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for row in rows:
        ax.errorbar(row["train_examples"], row[metric], yerr=row.get(f"{metric}_std", 0.0),
                    fmt="o", capsize=3)
        ax.annotate(row["name"], (row["train_examples"], row[metric]), fontsize=8,
                    textcoords="offset points", xytext=(5, 3))
    ax.set(xlabel="examples the student trained on (LLKD: unique selected)",
           ylabel=f"test {label} (mean ± std over seeds)", ylim=(0, 1),
           title=f"{label.capitalize()} vs data used")
    _save(fig, path)


def plot_mckd_stages(stages: list[dict], path: str, metric: str = "accuracy",
                     title: str = "MCKD stage by stage") -> None:
    """Pool-label quality and test quality per stage; keys pool_label_<metric>, test_<metric>."""
    names = [s["name"] for s in stages]
    label = metric.replace("_", " ")
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(names, [s[f"pool_label_{metric}"] for s in stages], "o-",
            label="pool labels vs kept-aside gold")
    ax.plot(names, [s[f"test_{metric}"] for s in stages], "s--",
            label=f"test {label} (teacher, then each stage's pair students)")
    ax.set(xlabel="labels after", ylabel=label, ylim=(0, 1), title=title)
    ax.legend(loc="lower left", fontsize=8)
    _save(fig, path)


def _save(fig, path: str) -> None:
    fig.tight_layout()
    partial = f"{path}.partial"  # renamed when complete, like every other output
    fig.savefig(partial, dpi=100, format="png")
    plt.close(fig)
    os.replace(partial, path)


def plot_label_budget(curves: dict[str, list[dict]], fixed: list[dict], path: str) -> None:
    """Accuracy vs gold labels: a curve per student kind (points {gold_labels, accuracy,
    accuracy_std}) and a flat line per method whose gold use does not grow with the budget."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    sizes = [p["gold_labels"] for points in curves.values() for p in points]
    for name, points in curves.items():
        x = np.array([p["gold_labels"] for p in points])
        y = np.array([p["accuracy"] for p in points])
        std = np.array([p["accuracy_std"] for p in points])
        ax.plot(x, y, "o-", label=name)
        ax.fill_between(x, y - std, y + std, alpha=0.2)
    for i, row in enumerate(fixed):
        ax.hlines(row["accuracy"], row["gold_labels"], max(sizes), linestyles="dashed",
                  colors=f"C{2 + i}", label=f"{row['name']} (uses "
                  f"{row['gold_labels']:.0f} gold)")
    ax.set_xscale("log")
    ax.minorticks_off()  # the log axis's own ticks would crowd the budgets' labels
    ax.set_xticks(sorted(set(sizes)), [str(s) for s in sorted(set(sizes))])
    ax.set(xlabel="gold labels (nested budgets)", ylabel="test accuracy (mean ± std over seeds)",
           ylim=(0, 1), title="Label budget: when is distillation worth it?")
    ax.legend(loc="lower right", fontsize=8)
    _save(fig, path)
