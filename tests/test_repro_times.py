"""benchmarks/repro_times.py: stages read from DVC's output and grouped by name."""

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks/repro_times.py"
spec = importlib.util.spec_from_file_location("repro_times", SCRIPT)
repro_times = importlib.util.module_from_spec(spec)
spec.loader.exec_module(repro_times)


def test_markers_name_run_and_skipped_stages():
    lines = {"Running stage 'train_student@classification-0-sft':":
                 "train_student@classification-0-sft",
             "Stage 'prepare@classification-0' didn't change, skipping": "prepare@classification-0",
             "Running stage 'studies/dvc.yaml:select_student@classification-1':":
                 "studies/dvc.yaml:select_student@classification-1"}
    for line, name in lines.items():
        assert repro_times.MARKER.match(line).group(1) == name
    assert repro_times.MARKER.match("> python stages/prepare.py --task classification") is None


def test_groups_add_up_by_stage_name_largest_first():
    stages = [("prepare@classification-0", 2.0), ("train_student@classification-0-sft", 30.0),
              ("train_student@classification-0-vanilla_kd", 50.0),
              ("studies/dvc.yaml:select_student@classification-0", 18.0)]
    rows = repro_times.groups(stages, total=100.0)
    assert [(r["group"], r["stages"], r["seconds"], r["share"]) for r in rows] == [
        ("train_student", 2, 80.0, 0.8), ("select_student", 1, 18.0, 0.18),
        ("prepare", 1, 2.0, 0.02)]
    assert rows[0]["mean_s"] == 40.0
