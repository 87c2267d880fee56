"""The lock check: which `dvc status` reports make a committed lock stale."""

from kdbench.lockcheck import stale


def test_missing_data_is_not_stale_but_changed_code_params_and_commands_are():
    status = {
        # A clean clone: upstream outputs are not there. Not a failure.
        "train_student@classification-0-sft": [
            {"changed deps": {"data/classification/seed0/prepared": "deleted"}},
            {"changed outs": {"data/classification/seed0/students/sft": "deleted"}}],
        "prepare@classification-0": [
            {"changed deps": {"kdbench/data.py": "modified",
                              "params.yaml": {"classification.data.n_test": "modified"}}}],
        "evaluate@classification-0": ["changed command"],
        "plots@classification": [{"changed deps": {"kdbench/plots.py": "new"}}],
    }
    # A stage never run: dvc status calls all its deps changed, the check says why once.
    status["aggregate@classification"] = [{"changed deps": {"stages/aggregate.py": "modified"}}]
    stages = list(status)
    found = stale(status, set(status) - {"aggregate@classification"}, stages)
    assert found == {
        "prepare@classification-0": ["kdbench/data.py modified",
                                     "param classification.data.n_test modified"],
        "evaluate@classification-0": ["changed command"],
        "plots@classification": ["kdbench/plots.py new"],
        "aggregate@classification": ["never run (no record in dvc.lock)"],
    }
    assert stale({}, set(stages), stages) == {}


def test_a_study_lock_counts_with_its_pipeline_prefix(tmp_path, monkeypatch):
    from kdbench.lockcheck import locked_stages

    monkeypatch.chdir(tmp_path)
    (tmp_path / "dvc.lock").write_text("schema: '2.0'\nstages:\n  prepare@classification-0: {}\n")
    (tmp_path / "studies").mkdir()
    (tmp_path / "studies" / "dvc.lock").write_text(
        "schema: '2.0'\nstages:\n  select_teacher@classification-0: {}\n")
    assert locked_stages() == {"prepare@classification-0",
                               "studies/dvc.yaml:select_teacher@classification-0"}
