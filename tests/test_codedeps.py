"""dvc.yaml declares exactly the code each stage runs and the params each script reads."""

import ast
import importlib
import re

import yaml

from kdbench.codedeps import (
    PIPELINES,
    ROOT,
    SCRIPT,
    TASK_MODULE,
    closure,
    derived,
    mismatches,
    stages,
)


def every_stage():
    return [(f"{p.parent.name}:{name}", stage) for p in PIPELINES
            for name, stage in stages(p).items()]


def test_declared_code_deps_equal_the_modules_each_stage_imports():
    assert len(PIPELINES) == 2
    for pipeline in PIPELINES:
        assert mismatches(pipeline) == {}, pipeline


def test_a_removed_or_extra_dep_is_caught(tmp_path):
    text = (ROOT / "dvc.yaml").read_text(encoding="utf-8")
    definitions = yaml.safe_load(text)
    deps = definitions["stages"]["evaluate"]["deps"]
    deps.remove("kdbench/trees.py")
    definitions["stages"]["partition"]["deps"].append("kdbench/gate.py")
    edited = tmp_path / "dvc.yaml"
    edited.write_text(yaml.safe_dump(definitions), encoding="utf-8")
    wrong = mismatches(edited)
    assert wrong == {"evaluate": ([], ["kdbench/trees.py"]),
                     "partition": (["kdbench/gate.py"], [])}


def test_imports_inside_functions_count_and_scoring_stages_skip_model_code():
    # params.validate_block imports the task registry inside the function.
    reached = {str(p.relative_to(ROOT)) for p in closure([ROOT / "kdbench/params.py"])}
    assert "kdbench/tasks/__init__.py" in reached and "kdbench/gate.py" not in reached
    assert {"kdbench/seq_teacher.py", "kdbench/teacher.py", "kdbench/generation.py"} <= set(
        derived(stages()["prompt_teacher"]))
    # A stage that only scores files depends on no teacher or student code.
    model_code = {"kdbench/teacher.py", "kdbench/seq_teacher.py", "kdbench/student.py",
                  "kdbench/structured_student.py", "kdbench/seq_student.py",
                  "kdbench/generation.py"}
    for name in ("prepare", "evaluate", "relabel", "aggregate", "plots"):
        assert not model_code & set(derived(stages()[name])), name


def test_each_matrix_item_depends_on_its_own_task_module_only():
    for name, stage in every_stage():
        deps = derived(stage)
        assert TASK_MODULE in deps, name
        assert not [d for d in deps if d in ("kdbench/tasks/classification.py",
                                             "kdbench/tasks/constituency.py",
                                             "kdbench/tasks/slot_tagging.py")], name
        # What the task modules share is declared for every item.
        assert "kdbench/tasks/sequence.py" in deps, name


def _declared_params(script: str) -> list[str]:
    tree = ast.parse((ROOT / script).read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and [t.id for t in node.targets] == ["PARAMS"]:
            return list(ast.literal_eval(node.value))
    raise AssertionError(f"{script} declares no PARAMS")


def test_each_stage_tracks_exactly_the_params_its_script_reads():
    # Keys of the project's params.yaml (a study's own params file is a mapping entry).
    for name, stage in every_stage():
        script = SCRIPT.search(stage["cmd"]).group(1)
        reads = [p.replace("{task}", "${item.task}") for p in _declared_params(script)]
        tracked = [p for p in stage.get("params", []) if isinstance(p, str)]
        assert sorted(tracked) == sorted(reads), name


def _study_keys(stage: dict) -> list[str]:
    return [key for p in stage.get("params", []) if isinstance(p, dict)
            for key in p.get("studies/params.yaml", [])]


def test_each_study_cell_tracks_every_setting_of_its_study_but_its_matrix():
    # A setting a cell reads but does not track leaves its results stale when it changes.
    checked = 0
    for name, stage in stages(PIPELINES[1]).items():
        if "seed" not in stage["matrix"] or "--study" not in stage["cmd"]:
            continue
        script = (ROOT / SCRIPT.search(stage["cmd"]).group(1)).read_text(encoding="utf-8")
        module = re.search(r"from kdbench\.(\w+) import .*\bread_study\b", script).group(1)
        schema = importlib.import_module(f"kdbench.{module}").SCHEMA
        tracked = _study_keys(stage)
        sections = {key.split(".")[0] for key in tracked}
        assert len(sections) == 1, name
        section = sections.pop()
        if section in tracked:
            continue
        keys = {key.split(".")[1] for key in tracked}
        assert set(schema) - {"tasks", "seeds"} <= keys, name
        checked += 1
    assert checked >= 3
