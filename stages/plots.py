"""Draw a task's figures into <out>/ from the evaluate and aggregate stages' metrics: teacher
reliability (test predictions of every seed pooled), the primary metric against the data each
method used, MCKD label quality per stage (means over seeds) and, where LLKD runs, its thresholds
over training (first seed). PNGs for reading offline, JSON series for `dvc plots`; the teacher's
calibration error is a metric."""

from pathlib import Path

import numpy as np

from kdbench.errors import report_errors
from kdbench.io import read_json, write_json
from kdbench.params import load_params, stage_parser
from kdbench.plots import (
    expected_calibration_error,
    plot_accuracy_vs_data,
    plot_llkd_selection,
    plot_mckd_stages,
    plot_reliability,
    reliability_bins,
)
from kdbench.tasks import get_task

PARAMS = ("seeds", "mckd.pair_stages", "llkd.tasks")


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
    parser = stage_parser(__doc__, seed=False)
    parser.add_argument("--seeds-dir", required=True,
                        help="evaluate's folder of per-seed metrics (seed<N>.figures.json)")
    parser.add_argument("--metrics", required=True, help="the task's aggregate metrics")
    parser.add_argument("--out", required=True, help="folder of the figures")
    parser.add_argument("--summary", required=True, help="JSON metrics of the figures")
    args = parser.parse_args()
    params = load_params(args.params, args.task, PARAMS)
    task = get_task(args.task)
    metric = task.metrics[0]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    metrics = read_json(args.metrics)

    figures = {seed: read_json(f"{args.seeds_dir}/seed{seed}.figures.json")
               for seed in params["seeds"]}
    pooled = [pair for seed in params["seeds"] for pair in figures[seed]["teacher_test"]]
    confidence = [pair["confidence"] for pair in pooled]
    correct = [pair["correct"] for pair in pooled]
    bins = reliability_bins(np.array(confidence), np.array(correct))
    ece = expected_calibration_error(bins)
    write_json(out / "teacher_reliability.json", bins)
    plot_reliability(bins, str(out / "teacher_reliability.png"),
                     f"{args.task}: teacher on the test splits of {len(params['seeds'])} seeds "
                     f"(ECE {ece:.3f})")

    names = [k.removesuffix("_train_examples") for k in metrics if k.endswith("_train_examples")]
    rows = [{"name": n, metric: metrics[f"{n}_{metric}"],
             f"{metric}_std": metrics[f"{n}_{metric}_std"],
             "train_examples": metrics[f"{n}_train_examples"]} for n in names]
    write_json(out / "score_vs_data.json", rows)
    plot_accuracy_vs_data(rows, str(out / "score_vs_data.png"), metric)

    stages = mckd_curve(metrics, params["mckd"]["pair_stages"], metric)
    write_json(out / "mckd_stages.json", stages)
    plot_mckd_stages(stages, str(out / "mckd_stages.png"), metric,
                     f"MCKD stage by stage: {args.task}")

    if args.task in params["llkd"]["tasks"]:
        first = params["seeds"][0]
        series = figures[first]["llkd_selection"]
        write_json(out / "llkd_selection.json", series)
        plot_llkd_selection(series, str(out / "llkd_selection.png"), f"seed {first}")
    write_json(args.summary, {"teacher_test_ece": ece})
    print(f"plots: wrote {len(list(out.glob('*.png')))} figures to {out}; teacher ECE {ece}")


if __name__ == "__main__":
    main()
