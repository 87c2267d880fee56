"""The teacher-quality sweep: its params, the experiments it queues, the check that an
experiment ran this checkout's code and params, reading experiments back from git, its tables,
and that the committed cells are still this checkout's."""

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from kdbench import teacher_sweep
from kdbench.errors import KDBenchError
from kdbench.teacher_sweep import (
    check_lock,
    check_params,
    collect,
    kept_cells,
    md5,
    pays,
    queue_commands,
    read_study,
    runs,
    stale_cells,
    tables,
)

ROOT = Path(__file__).resolve().parent.parent
STUDY = {"tasks": ["classification"], "seeds": [0],
         "grids": {"classification": {"rows": ["sft", "llkd"],
                                      "configs": {"default": {},
                                                  "weak": {"shots": 1, "calibrate": False}}}}}


def write_study(tmp_path: Path, study: dict) -> Path:
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump({"teacher_sweep": study}), encoding="utf-8")
    return path


def test_the_study_is_checked_against_itself_and_params_yaml(tmp_path):
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    study = read_study(write_study(tmp_path, STUDY), "classification")
    assert study["configs"]["weak"] == {"shots": 1, "calibrate": False}
    check_params(study, params)
    with pytest.raises(KDBenchError, match="classification.teacher.shotz"):
        check_params({**study, "configs": {"x": {"shotz": 1}}}, params)
    with pytest.raises(KDBenchError, match="teacher_sweep.seeds"):
        check_params({**study, "seeds": [7]}, params)
    no_sft = {**STUDY, "grids": {"classification": {"rows": ["llkd"], "configs": {"x": {}}}}}
    with pytest.raises(KDBenchError, match="`sft` must be one of them"):
        read_study(write_study(tmp_path, no_sft), "classification")
    with pytest.raises(KDBenchError, match="grids.constituency"):
        read_study(write_study(tmp_path, STUDY), "constituency")


def test_queue_runs_one_experiment_per_config_with_overrides():
    study = {"task": "classification", "seeds": [0, 1], **STUDY["grids"]["classification"]}
    assert queue_commands(study) == [[
        "dvc", "exp", "run", "--queue", "-n", "weak",
        "-S", "classification.teacher.shots=1", "-S", "classification.teacher.calibrate=false",
        "evaluate@classification-0", "evaluate@classification-1"]]


def lock_of(code: Path, params: dict) -> dict:
    shards = "data/classification/seed0/teacher_shards"
    return {"stages": {
        "prompt_teacher@classification-0-0": {
            "deps": [{"path": str(code), "md5": md5(code)},
                     {"path": "data/classification/seed0/prepared", "md5": "x.dir"}],
            "params": {"params.yaml": params},
            "outs": [{"path": f"{shards}/0", "md5": "y.dir"}]},
        "evaluate@classification-0": {"deps": [{"path": shards, "md5": "z.dir"}]},
        # Records the experiment did not run (another seed, a stage off the path to evaluate):
        # kept from the baseline's lock, not checked.
        "prompt_teacher@classification-1-0": {
            "deps": [{"path": str(code), "md5": "0" * 32}]},
        "label_budget@classification-0-15": {
            "deps": [{"path": f"{shards}/0", "md5": "y.dir"}],
            "params": {"params.yaml": {"classification.teacher.shots": 99}}}}}


def test_check_lock_names_the_code_or_param_that_moved(tmp_path):
    code = tmp_path / "stage.py"
    code.write_text("print(1)\n")
    params = {"classification": {"teacher": {"shots": 1}}}
    lock = lock_of(code, {"classification.teacher": {"shots": 1}})
    hashes, used = check_lock(lock, "classification", [0], params)
    assert hashes == {str(code): md5(code)} and used == {"classification.teacher": {"shots": 1}}
    with pytest.raises(KDBenchError, match="param classification.teacher"):
        check_lock(lock, "classification", [0], {"classification": {"teacher": {"shots": 3}}})
    code.write_text("print(2)\n")
    with pytest.raises(KDBenchError, match=f"this checkout: {code}"):
        check_lock(lock, "classification", [0], params)


def rows(teacher: float, sft: float, llkd: float) -> list[dict]:
    return [{"name": "teacher", "accuracy": teacher, "dev_accuracy": teacher,
             "pool_label_accuracy": teacher},
            {"name": "sft", "accuracy": sft}, {"name": "llkd", "accuracy": llkd}]


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout.strip()


def test_collect_reads_an_experiment_back_from_its_ref(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    Path("params.yaml").write_text(yaml.safe_dump(params))
    Path("stage.py").write_text("print(1)\n")
    seeds = Path("metrics/classification/seeds")
    seeds.mkdir(parents=True)
    (seeds / "seed0.rows.json").write_text(json.dumps({"rows": rows(0.7, 0.9, 0.8)}))
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "-A")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "baseline")
    baseline = git(tmp_path, "rev-parse", "HEAD")
    # The experiment: the weak teacher's params and rows, committed under refs/exps/.
    weak = teacher_sweep.with_overrides(params, "classification", {"shots": 1,
                                                                   "calibrate": False})
    Path("dvc.lock").write_text(yaml.safe_dump(lock_of(
        Path("stage.py"), {"classification.teacher": weak["classification"]["teacher"]})))
    (seeds / "seed0.rows.json").write_text(json.dumps({"rows": rows(0.4, 0.9, 0.5)}))
    git(tmp_path, "add", "-A")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "exp")
    sha = git(tmp_path, "rev-parse", "HEAD")
    git(tmp_path, "update-ref", f"refs/exps/aa/{baseline}/weak", sha)
    git(tmp_path, "reset", "-q", "--hard", baseline)

    study = {"task": "classification", "seeds": [0], **STUDY["grids"]["classification"]}
    cells, missing = collect(study)
    assert missing == []
    assert cells["weak"]["experiment"] == sha and cells["weak"]["baseline"] == baseline
    assert [r["accuracy"] for r in cells["weak"]["seeds"]["0"]] == [0.4, 0.9, 0.5]
    assert [r["accuracy"] for r in cells["default"]["seeds"]["0"]] == [0.7, 0.9, 0.8]
    assert stale_cells(cells, "classification", params) == []
    Path("stage.py").write_text("print(2)\n")
    assert stale_cells(cells, "classification", params) == ["weak: stage.py"]
    with pytest.raises(KDBenchError, match="experiment weak .*stage.py"):
        collect(study)
    assert collect({**study, "configs": {"other": {"shots": 5}}}) == ({}, ["other"])
    # A clone without the experiment keeps the committed cell while it is this checkout's.
    git(tmp_path, "update-ref", "-d", f"refs/exps/aa/{baseline}/weak")
    assert collect(study, committed={"weak": cells["weak"]})[1] == ["weak"]
    Path("stage.py").write_text("print(1)\n")
    kept, missing = collect(study, committed={"weak": cells["weak"]})
    assert kept["weak"] == cells["weak"] and missing == []
    assert collect({**study, "configs": {"weak": {"shots": 2}, "default": {}}},
                   committed={"weak": cells["weak"]})[1] == ["weak"]
    # So a resumed sweep queues only the configs without a cell of this checkout.
    assert queue_commands(study, set(kept_cells(study, kept, params))) == []
    Path("stage.py").write_text("print(2)\n")
    assert [c[5] for c in queue_commands(study, set(kept_cells(study, kept, params)))] == ["weak"]


def test_margins_and_where_each_method_pays():
    cells = [{"config": "weak", "seeds": {"0": rows(0.4, 0.9, 0.5)}},
             {"config": "strong", "seeds": {"0": rows(0.8, 0.9, 0.95), "1": rows(0.7, 0.9, 0.85)}}]
    out = runs(cells, "accuracy")
    assert [r["teacher"] for r in out] == [0.4, 0.7, 0.8]
    assert out[2]["llkd_minus_teacher"] == 0.15 and out[2]["llkd_minus_sft"] == 0.05
    [llkd] = pays(out, ["llkd"])
    assert llkd == {"method": "llkd", "beats_teacher": "3/3", "beats_sft": "1/3",
                    "weakest_teacher_beating_sft": 0.8, "strongest_teacher_below_sft": 0.7}
    assert "+0.150 / +0.050" in tables(out, ["llkd"], "accuracy")


def test_the_committed_cells_are_this_checkouts(monkeypatch):
    """The sweep's committed results were run on the code and params at HEAD (the experiments'
    locks), and its pipeline config is the committed pipeline's rows."""
    monkeypatch.chdir(ROOT)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    section = yaml.safe_load((ROOT / "studies/params.yaml").read_text())["teacher_sweep"]
    for task in section["tasks"]:
        folder = ROOT / "metrics" / "teacher_sweep" / task
        cells = {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}
        assert set(cells) == set(section["grids"][task]["configs"])
        assert stale_cells(cells, task, params) == []


def test_queue_starts_one_worker_after_its_experiments_and_stops_on_a_failure(monkeypatch,
                                                                              capsys):
    monkeypatch.chdir(ROOT)
    calls, codes = [], iter(lambda: 0, 1)

    class Done:
        def __init__(self, code: int):
            self.returncode = code

    def run(command, env):
        calls.append((command[2:], env["PYTHONPATH"]))
        return Done(next(codes))

    monkeypatch.setattr(teacher_sweep.subprocess, "run", run)
    monkeypatch.setattr("sys.argv", ["teacher_sweep", "queue"])
    # Every config without a committed cell of this checkout (as after a code change).
    monkeypatch.setattr(teacher_sweep, "kept_cells", lambda study, committed, params: {})
    teacher_sweep.main()
    sweep = yaml.safe_load((ROOT / "studies/params.yaml").read_text())["teacher_sweep"]
    queued = [c[0][5] for c in calls[:-1]]
    assert queued == [name for task in sweep["tasks"]
                      for name, overrides in sweep["grids"][task]["configs"].items() if overrides]
    assert calls[-1] == (["dvc", "queue", "start", "-j", "1"], ".")
    calls.clear()
    codes = iter([1])
    with pytest.raises(SystemExit) as stop:
        teacher_sweep.main()
    assert stop.value.code == 2 and len(calls) == 1
    assert "failed" in capsys.readouterr().err
    # With every config's cell this checkout's there is nothing to run: no worker either.
    calls.clear()
    monkeypatch.setattr(teacher_sweep, "kept_cells",
                        lambda study, committed, params: dict(study["configs"]))
    teacher_sweep.main()
    assert calls == [] and "nothing to queue" in capsys.readouterr().out
