"""Draw the run's figures: teacher reliability (test predictions of every seed pooled), LLKD
thresholds over training (first seed), accuracy vs data used and MCKD label quality per stage
(means over seeds), for classification and for the sequence benchmark. PNGs for reading
offline, JSON series for `dvc plots`."""

import argparse
from pathlib import Path

import numpy as np

from kdbench.errors import report_errors
from kdbench.io import read_json, read_jsonl, write_json
from kdbench.params import load_params
from kdbench.plots import (
    expected_calibration_error,
    plot_accuracy_vs_data,
    plot_llkd_selection,
    plot_mckd_stages,
    plot_reliability,
    reliability_bins,
)
from kdbench.tasks import get_task


def mckd_curve(metrics: dict, pair_stages: list[dict], metric: str) -> list[dict]:
    """The teacher, then each pair stage: its relabeled pool's quality and its students' test
    score (means over seeds, from an aggregate's flat metrics)."""
    stages = [{"name": "teacher", f"pool_label_{metric}": metrics[f"teacher_pool_label_{metric}"],
               f"test_{metric}": metrics[f"teacher_{metric}"]}]
    for stage in pair_stages:
        key = f"mckd_{stage['id']}"
        stages.append({"name": stage["id"],
                       f"pool_label_{metric}": metrics[f"{key}_label_{metric}"],
                       f"test_{metric}": metrics[f"{key}_pair_test_{metric}"]})
    return stages


@report_errors
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--data", default="data", help="folder of the seed folders seed<N>")
    parser.add_argument("--metrics", default="metrics/classification.json")
    parser.add_argument("--sequence-metrics", default="metrics/sequence.json")
    parser.add_argument("--out", default="metrics/plots")
    args = parser.parse_args()
    params = load_params(args.params)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    metrics = read_json(args.metrics)

    confidence, correct = [], []
    for seed in params["seeds"]:
        gold = {r["id"]: r["label"]
                for r in read_jsonl(f"{args.data}/seed{seed}/prepared/test.jsonl")}
        for r in read_jsonl(f"{args.data}/seed{seed}/teacher/test.jsonl"):
            confidence.append(max(r["probs"]))
            correct.append(r["label"] == gold[r["id"]])
    bins = reliability_bins(np.array(confidence), np.array(correct))
    ece = expected_calibration_error(bins)
    write_json(out / "teacher_reliability.json", bins)
    plot_reliability(bins, str(out / "teacher_reliability.png"),
                     f"Teacher on the test splits of {len(params['seeds'])} seeds (ECE {ece:.3f})")

    first = params["seeds"][0]
    log = read_jsonl(f"{args.data}/seed{first}/students/llkd/selection_log.jsonl")
    write_json(out / "llkd_selection.json", [
        {"step": e["step"], "teacher_threshold": e["teacher_threshold"],
         "student_threshold": e["student_threshold"],
         "selected_fraction": round(len(e["selected"]) / e["batch"], 4)} for e in log])
    plot_llkd_selection(log, str(out / "llkd_selection.png"), f"seed {first}")

    names = [k.removesuffix("_train_examples") for k in metrics if k.endswith("_train_examples")]
    rows = [{"name": n, "accuracy": metrics[f"{n}_accuracy"],
             "accuracy_std": metrics[f"{n}_accuracy_std"],
             "train_examples": metrics[f"{n}_train_examples"]} for n in names]
    write_json(out / "accuracy_vs_data.json", rows)
    plot_accuracy_vs_data(rows, str(out / "accuracy_vs_data.png"))

    stages = mckd_curve(metrics, params["mckd"]["pair_stages"], "accuracy")
    write_json(out / "mckd_stages.json", stages)
    plot_mckd_stages(stages, str(out / "mckd_stages.png"))
    sequence = params["sequence"]
    metric = get_task(sequence["task"]).metrics[0]
    stages = mckd_curve(read_json(args.sequence_metrics), sequence["mckd"]["pair_stages"], metric)
    write_json(out / "sequence_mckd_stages.json", stages)
    plot_mckd_stages(stages, str(out / "sequence_mckd_stages.png"), metric,
                     f"MCKD stage by stage: {sequence['task']} ({sequence['source']} data)")
    write_json(out / "summary.json", {"teacher_test_ece": ece})
    print(f"plots: wrote {len(list(out.glob('*.png')))} figures to {out}; teacher ECE {ece}")


if __name__ == "__main__":
    main()
