import json
import subprocess
import sys

import pytest

from kdbench.errors import KDBenchError
from kdbench.gate import compare, load_rules

RULES = [{"metrics": "*_accuracy", "abs": 0.02, "std": 2},
         {"metrics": "teacher_collapsed", "higher_is_better": False, "abs": 0}]


def by_name(checks):
    return {c.metric: c for c in checks}


def test_drop_within_tolerance_passes_and_beyond_fails():
    base = {"llkd_accuracy": 0.80, "sft_accuracy": 0.90, "llkd_wall_s": 80.0}
    checks = by_name(compare({"llkd_accuracy": 0.785, "sft_accuracy": 0.87}, base, RULES))
    assert set(checks) == {"llkd_accuracy", "sft_accuracy"}  # wall time matches no rule
    assert not checks["llkd_accuracy"].regressed  # -0.015 within 0.02
    assert checks["sft_accuracy"].regressed  # -0.03 beyond 0.02
    assert checks["sft_accuracy"].worse_by == pytest.approx(0.03)


def test_improvement_never_fails_and_std_widens_tolerance():
    base = {"llkd_accuracy": 0.80, "llkd_accuracy_std": 0.03}
    checks = by_name(compare({"llkd_accuracy": 0.75}, base, RULES))
    assert checks["llkd_accuracy"].allowed == pytest.approx(0.06)  # 2 x std beats abs 0.02
    assert not checks["llkd_accuracy"].regressed
    assert not by_name(compare({"llkd_accuracy": 0.99}, base, RULES))["llkd_accuracy"].regressed


def test_lower_is_better_and_missing_metric():
    base = {"teacher_collapsed": 0, "llkd_accuracy": 0.8}
    checks = by_name(compare({"teacher_collapsed": 1}, base, RULES))
    assert checks["teacher_collapsed"].regressed
    assert checks["llkd_accuracy"].regressed and checks["llkd_accuracy"].current is None


def test_bad_rules_are_one_line_errors(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text("rules:\n  - metrics: '*'\n    abs: -1\n")
    with pytest.raises(KDBenchError, match="abs must be a number >= 0"):
        load_rules(str(path))
    path.write_text("rules: []\n")
    with pytest.raises(KDBenchError, match="non-empty list"):
        load_rules(str(path))


def test_command_exits_non_zero_on_a_degraded_metric_and_zero_on_the_same_run(tmp_path):
    base = {"llkd_accuracy": 0.8, "vanilla_kd_accuracy": 0.7}
    (tmp_path / "base.json").write_text(json.dumps(base))
    (tmp_path / "worse.json").write_text(json.dumps({**base, "llkd_accuracy": 0.7}))
    (tmp_path / "rules.yaml").write_text("rules:\n  - metrics: '*_accuracy'\n    abs: 0.02\n")

    def gate(current: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "kdbench.gate", "--current", current,
                               "--baseline", str(tmp_path / "base.json"),
                               "--rules", str(tmp_path / "rules.yaml")],
                              capture_output=True, text=True)

    same = gate(str(tmp_path / "base.json"))
    assert same.returncode == 0 and "0 of 2 metrics regressed" in same.stdout
    worse = gate(str(tmp_path / "worse.json"))
    assert worse.returncode == 1
    assert "REGRESSED" in worse.stdout and "['llkd_accuracy']" in worse.stdout
    missing = gate(str(tmp_path / "nope.json"))
    assert missing.returncode == 2 and missing.stderr.startswith("error: missing file")
