"""The real `dvc repro` of this repository's dvc.yaml on a tiny params file, end to end."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import yaml

from kdbench.project import dvc, environment, run, scratch_project


@pytest.fixture(scope="module")
def project(tmp_path_factory, tiny_teacher_dir, tiny_student_dir):
    """A copy of the project with tiny params and two seeds, after one full `dvc repro`."""
    path = scratch_project(tmp_path_factory.mktemp("scratch") / "project", {
        "seeds": [0, 1],
        "threads": 1,
        # 5 = the teacher's demonstrations, 10 = the labeled pool (SFT's gold)
        "label_budget": {"sizes": [5, 10, 20]},
        "classification": {
            "data": {"n_labeled": 10, "n_unlabeled": 24, "n_test": 10},
            "teacher": {"model": str(tiny_teacher_dir), "shots": 1, "shot_words": 8,
                        "input_words": 12},
            "student": {"model": str(tiny_student_dir), "max_length": 32, "batch_size": 8,
                        "epochs": 1, "sft_epochs": 1, "eval_batch_size": 16}},
        "constituency": {
            "data": {"n_labeled": 6, "n_unlabeled": 12, "n_test": 5, "max_words": 6},
            "teacher": {"model": str(tiny_teacher_dir), "shots": 2},
            "student": {"model": str(tiny_student_dir), "max_length": 32, "batch_size": 4,
                        "epochs": 1, "sft_epochs": 1, "eval_batch_size": 8}},
    })
    result = dvc("repro", cwd=path)
    return path, result


def test_repro_writes_every_row_and_a_table(project):
    path, _ = project
    metrics = json.loads((path / "metrics/classification.json").read_text())
    for row in ("teacher", "sft", "vanilla_kd", "conf_filter", "random_subset", "llkd", "mckd2",
                "mckd3", "supervised"):
        assert 0.0 <= metrics[f"{row}_accuracy"] <= 1.0
        assert 0.0 <= metrics[f"{row}_macro_f1"] <= 1.0
    assert metrics["mckd3_stages"] == 3 and metrics["mckd2_stages"] == 2
    assert metrics["teacher_collapsed"] == int(metrics["teacher_majority_label_fraction"] > 0.9)
    assert metrics["supervised_train_examples"] == 34 and metrics["seeds"] == 2
    # The summary is the mean (and sample std) of the per-seed metrics.
    seeds = [json.loads((path / f"metrics/classification/seeds/seed{s}.json").read_text())
             for s in (0, 1)]
    for key in ("llkd_accuracy", "teacher_macro_f1", "mckd_s1_label_accuracy"):
        a, b = seeds[0][key], seeds[1][key]
        assert metrics[key] == pytest.approx((a + b) / 2, abs=1e-4)
        assert metrics[f"{key}_std"] == pytest.approx(abs(a - b) / 2 ** 0.5, abs=1e-4)
    for task, figures in (("classification", ("teacher_reliability", "llkd_selection",
                                               "score_vs_data", "mckd_stages")),
                          ("constituency", ("teacher_reliability", "score_vs_data",
                                            "mckd_stages"))):
        for figure in figures:
            png = path / f"metrics/plots/{task}/{figure}.png"
            assert png.read_bytes()[:4] == b"\x89PNG"
    assert not (path / "metrics/plots/constituency/llkd_selection.png").exists()
    table = (path / "metrics/classification.md").read_text()
    assert "LLKD" in table and "MCKD, 3 stages" in table and " ± " in table


def test_label_budget_sweep_trains_nested_gold_and_gold_plus_pseudolabels(project):
    path, _ = project
    budget = json.loads((path / "metrics/classification_label_budget.json").read_text())
    assert budget["seeds"] == 2
    for size in (5, 10, 20):
        assert budget[f"gold_b{size}_train_examples"] == size
        assert 0.0 <= budget[f"gold_pseudo_b{size}_accuracy"] <= 1.0
    # Gold alone on exactly the labeled pool is the SFT baseline, not a second training of it.
    for seed in (0, 1):
        folder = path / f"data/classification/seed{seed}"
        assert ((folder / "label_budget/10/gold/predictions.jsonl").read_text()
                == (folder / "students/sft/predictions.jsonl").read_text())
    metrics = json.loads((path / "metrics/classification.json").read_text())
    assert budget["gold_b10_accuracy"] == metrics["sft_accuracy"]
    # 24 pool examples: all pseudolabeled at 5 gold (all from the labeled pool of 10); at 20,
    # 10 of the pool's examples are gold and the other 14 keep their pseudolabels.
    assert budget["gold_pseudo_b5_train_examples"] == 5 + 24
    assert budget["gold_pseudo_b20_train_examples"] == 20 + 14
    table = (path / "metrics/classification_label_budget.md").read_text()
    assert "student on gold + pseudolabels" in table and "beats gold alone at" in table
    assert "LLKD" in table and "MCKD final mckd3" in table
    assert (path / "metrics/plots/classification_label_budget.png").read_bytes()[:4] == b"\x89PNG"


def test_sequence_benchmark_writes_every_row_and_keeps_raw_teacher_outputs(project):
    path, _ = project
    metrics = json.loads((path / "metrics/constituency.json").read_text())
    for row in ("teacher", "baseline", "sft", "vanilla_kd", "mckd2", "mckd3", "supervised"):
        assert 0.0 <= metrics[f"{row}_sentence_f1"] <= 1.0
        assert 0.0 <= metrics[f"{row}_corpus_f1"] <= 1.0
    assert metrics["mckd3_stages"] == 3 and metrics["seeds"] == 2
    assert metrics["supervised_train_examples"] == 18
    # Constrained decoding: every teacher output reads back over its sentence's words.
    assert metrics["teacher_unreadable"] == 0 and metrics["teacher_pool_unreadable"] == 0
    pool = [json.loads(line)
            for line in (path / "data/constituency/seed0/teacher/pool.jsonl").open()]
    assert len(pool) == 12 and all(r["raw"] == r["output"] and 0 < r["confidence"] <= 1
                                   for r in pool)
    table = (path / "metrics/constituency.md").read_text()
    assert "right-branching tree" in table and "MCKD, 3 stages" in table
    assert "pool label sentence F1 before" in table


def test_random_subset_matches_llkd_size_and_log_covers_every_step(project):
    path, _ = project
    folder = path / "data/classification/seed0"
    info = json.loads((folder / "students/llkd/info.json").read_text())
    log = [json.loads(line) for line in (folder / "students/llkd/selection_log.jsonl").open()]
    assert len(log) == info["steps"] == 3  # 24 examples, batch 8, 1 epoch
    assert {i for step in log for i in step["selected"]} == set(info["selected_ids"])
    subset = (folder / "trainsets/random_subset.jsonl").read_text().splitlines()
    assert len(subset) == info["unique_selected"]


@pytest.mark.parametrize("seed_dir", ["data/classification/seed1", "data/constituency/seed1"])
def test_mckd_students_never_label_what_they_trained_on(project, seed_dir):
    path, _ = project
    partitions = json.loads((path / seed_dir / "mckd/partitions.json").read_text())["partitions"]
    for stage in ("s1", "s2"):
        for k, own in enumerate(partitions):
            rows = (path / seed_dir / f"mckd/{stage}/students/p{k}/predictions.jsonl").open()
            labeled = {json.loads(line)["id"] for line in rows}
            assert labeled and not labeled & set(own)
            assert labeled == {i for j, p in enumerate(partitions) if j != k for i in p}
            info = json.loads((path / seed_dir / f"mckd/{stage}/students/p{k}/info.json")
                              .read_text())
            assert info["train_examples"] == len(own)


def test_second_repro_does_nothing(project):
    path, _ = project
    result = dvc("repro", cwd=path)
    assert "Running stage" not in result.stdout
    assert "up to date" in result.stdout


def test_student_change_keeps_teacher_cached_and_teacher_change_does_not(project):
    path, _ = project
    original = (path / "params.yaml").read_text()
    try:
        params = yaml.safe_load(original)
        params["classification"]["student"]["lr"] = 2e-4
        (path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        changed = json.loads(dvc("status", "--json", cwd=path).stdout)
        assert {"train_student@classification-0-sft", "train_final@classification-1-final0",
                "select_llkd@classification-1"} <= set(changed)
        assert not [name for name in changed if name.startswith(("prompt_teacher", "prepare"))]
        # The other task's students track their own block.
        assert not [name for name in changed if "constituency" in name]
        params["classification"]["teacher"]["shots"] = 2
        (path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        changed = json.loads(dvc("status", "--json", cwd=path).stdout)
        assert "prompt_teacher@classification-1-0" in changed
        assert "prompt_teacher@constituency-1-0" not in changed
    finally:
        (path / "params.yaml").write_text(original)
    # An edit of one task's module re-runs that task's stages only.
    module = path / "kdbench/tasks/constituency.py"
    code = module.read_text()
    try:
        module.write_text(code + "\n# an edit\n")
        changed = json.loads(dvc("status", "--json", cwd=path).stdout)
        assert "prepare@constituency-0" in changed and "aggregate@constituency" in changed
        assert not [name for name in changed if "classification" in name]
    finally:
        module.write_text(code)


def test_bad_param_stops_a_stage_with_one_line(project):
    path, _ = project
    bad = yaml.safe_load((path / "params.yaml").read_text())
    bad["llkd"]["momentum"] = 1.5
    (path / "bad.yaml").write_text(yaml.safe_dump(bad))
    result = run([sys.executable, "stages/prepare.py", "--params", "bad.yaml", "--task",
                  "classification", "--seed", "0", "--dir", "x"], path, check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: params: llkd.momentum = 1.5; expected float in [0.0, 1.0]"]
    assert not (path / "x").exists()


def test_killed_stage_leaves_no_temp_file_and_is_rerun_alone(project):
    path, _ = project
    proc = subprocess.Popen(
        [sys.executable, "-m", "dvc", "repro", "--force", "--single-item",
         "train_student@classification-0-supervised"], cwd=path, env=environment(path),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    for line in proc.stdout:
        if "Running stage" in line:
            break
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not list((path / "data").rglob("*.tmp"))
    changed = json.loads(dvc("status", "--json", cwd=path).stdout)
    # Only the killed stage and its seed's evaluation wait: plots reads evaluate's metrics, not
    # the data folders, and the other seed is untouched.
    assert set(changed) == {"train_student@classification-0-supervised",
                            "evaluate@classification-0"}
    rerun = dvc("repro", cwd=path).stdout
    # DVC's run cache restores the killed stage's outputs from its earlier identical run;
    # every other stage is untouched, and the project is whole again.
    acted = [line for line in rerun.splitlines()
             if line.startswith(("Running stage", "Stage")) and "didn't change" not in line]
    assert acted == ["Stage 'train_student@classification-0-supervised' is cached - skipping "
                     "run, checking out outputs"]
    assert json.loads(dvc("status", "--json", cwd=path).stdout) == {}


def test_same_params_and_seed_give_identical_results(project):
    path, _ = project

    def snapshot() -> dict:
        metrics = json.loads((path / "metrics/classification/seeds/seed1.json").read_text())
        # Every data file but timings.
        files = sorted((path / "data/classification/seed1").rglob("*.jsonl"))
        return {
            "metrics": {k: v for k, v in metrics.items()
                        if "wall_s" not in k and "peak_memory" not in k},
            "files": {str(f.relative_to(path)): f.read_text() for f in files},
        }

    before = snapshot()
    # One seed's whole chain, run again.
    dvc("repro", "--force", "evaluate@classification-1", cwd=path)
    after = snapshot()
    assert after["metrics"] == before["metrics"]
    assert after["files"].keys() == before["files"].keys()
    different = [name for name in before["files"] if before["files"][name] != after["files"][name]]
    assert different == []


def test_one_more_mckd_stage_runs_exactly_the_new_stages(project):
    """`dvc exp run -S` on the stage lists does what this edit of params.yaml does: the fourth
    MCKD stage adds one pair of students, one relabel and one final per task and seed, nothing
    else."""
    path, _ = project
    dvc("repro", cwd=path)  # settle what earlier tests forced, so only this change is seen
    original = (path / "params.yaml").read_text()
    try:
        params = yaml.safe_load(original)
        mckd = params["mckd"]
        mckd["pair_stages"].append({"id": "s3", "labels": "mckd/s2/labels.jsonl"})
        mckd["finals"].append({"id": "mckd4", "labels": "mckd/s3/labels.jsonl"})
        (path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        ran = {line.split("'")[1] for line in dvc("repro", cwd=path).stdout.splitlines()
               if line.startswith("Running stage")}
        tasks = ("classification", "constituency")
        new = {f"{name}@{task}-{seed}-{suffix}" for task in tasks for seed in (0, 1)
               for name, suffix in (("train_student_k", "stage2-0"),
                                    ("train_student_k", "stage2-1"),
                                    ("relabel", "stage2"), ("train_final", "final2"))}
        # Downstream of them: the evaluations, the aggregates, the plots (mckd.pair_stages) and
        # the label-budget report, which shows every MCKD final.
        assert ran == new | {f"evaluate@{task}-{seed}" for task in tasks for seed in (0, 1)} | {
            f"{stage}@{task}" for stage in ("aggregate", "plots") for task in tasks} | {
            "label_budget_report@classification"}
        for task in tasks:
            metrics = json.loads((path / f"metrics/{task}.json").read_text())
            assert metrics["mckd4_stages"] == 4 and "mckd_s3_changed_fraction" in metrics
    finally:
        (path / "params.yaml").write_text(original)


def test_a_stage_writes_the_same_files_whatever_omp_num_threads_says(project, tmp_path):
    """params.yaml's threads, not the caller's environment, sets torch's threads."""
    path, _ = project
    params = yaml.safe_load((path / "params.yaml").read_text())
    params["threads"] = 2
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    written = []
    for omp in ("1", "3"):
        folder = tmp_path / f"omp{omp}"
        shutil.copytree(path / "data/classification/seed0", folder)
        shutil.rmtree(folder / "students")
        result = subprocess.run(
            [sys.executable, "stages/train_student.py", "--params", str(tmp_path / "params.yaml"),
             "--task", "classification", "--seed", "0", "--dir", str(folder), "--method",
             "vanilla_kd"], cwd=path, env={**environment(path), "OMP_NUM_THREADS": omp},
            capture_output=True, text=True)
        assert result.returncode == 0, result.stderr[-2000:]
        info = json.loads((folder / "students/vanilla_kd/info.json").read_text())
        assert info["threads"] == 2 and "torch" in info["versions"]
        written.append((folder / "students/vanilla_kd/predictions.jsonl").read_bytes())
    assert written[0] == written[1]
