"""load_params: the repo's params.yaml validates; each kind of mistake stops with one line."""

import copy
from pathlib import Path

import pytest
import yaml

from kdbench.errors import KDBenchError
from kdbench.params import load_params

REPO_PARAMS = Path(__file__).resolve().parents[1] / "params.yaml"


@pytest.fixture(scope="module")
def base() -> dict:
    return yaml.safe_load(REPO_PARAMS.read_text(encoding="utf-8"))


def write(tmp_path: Path, params: dict) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    return path


def assert_one_line_error(path: Path, *needles: str) -> str:
    with pytest.raises(KDBenchError) as info:
        load_params(path)
    message = str(info.value)
    assert "\n" not in message, f"message is not one line: {message!r}"
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"
    return message


def test_repo_params_load(base):
    params = load_params(REPO_PARAMS)
    assert params == base
    assert params["data"]["source"] == "bbc"
    assert params["mckd"]["parts"] == [0, 1]


def test_unmodified_copy_loads(tmp_path, base):
    # The round trip through the helper must itself be valid, or every case below is moot.
    assert load_params(write(tmp_path, base)) == base


def _set(section: str | None, key: str, value):
    def mutate(params: dict) -> None:
        (params[section] if section else params)[key] = value

    return mutate


def _delete(section: str, key: str):
    def mutate(params: dict) -> None:
        del params[section][key]

    return mutate


def _duplicate_stage_id(params: dict) -> None:
    params["mckd"]["finals"][0]["id"] = params["mckd"]["pair_stages"][0]["id"]


def _jsonl_without_path(params: dict) -> None:
    params["data"]["source"] = "jsonl"
    params["data"]["path"] = None


CASES = [
    pytest.param(_set(None, "bogus", 1), ("bogus",), id="unknown-top-level-key"),
    pytest.param(_set("student", "foo", 1), ("student.foo",), id="unknown-nested-key"),
    pytest.param(_set("data", "n_test", -1), ("data.n_test", "-1"), id="negative-size"),
    pytest.param(_set("conf_filter", "threshold", 1.5), ("conf_filter.threshold", "1.5"),
                 id="threshold-above-1"),
    pytest.param(_set("conf_filter", "threshold", -0.1), ("conf_filter.threshold",),
                 id="threshold-below-0"),
    pytest.param(_set("student", "epochs", "two"), ("student.epochs", "'two'"), id="wrong-type"),
    pytest.param(_set("student", "epochs", 2.5), ("student.epochs",), id="float-for-int"),
    pytest.param(_set("llkd", "momentum", True), ("llkd.momentum", "True"), id="bool-for-number"),
    pytest.param(_set("teacher", "backend", "onnx"), ("teacher.backend", "'onnx'", "'vllm'"),
                 id="choice-not-allowed"),
    pytest.param(_set("mckd", "parts", [0]), ("mckd.parts",), id="parts-K-below-2"),
    pytest.param(_set("mckd", "parts", [1, 2]), ("mckd.parts",), id="parts-not-from-0"),
    pytest.param(_duplicate_stage_id, ("mckd", "unique", "s1"), id="duplicate-stage-id"),
    pytest.param(_jsonl_without_path, ("data.path", "jsonl"), id="jsonl-without-path"),
    pytest.param(_delete("student", "lr"), ("missing", "student.lr"), id="missing-key"),
    pytest.param(_set("data", "n_labeled", None), ("data.n_labeled",), id="null-required"),
    pytest.param(_set("label_budget", "sizes", [50, 15]), ("label_budget.sizes", "increasing"),
                 id="budget-not-increasing"),
    pytest.param(_set("label_budget", "sizes", [0, 10]), ("label_budget.sizes", ">= 1"),
                 id="budget-zero"),
    pytest.param(_set("label_budget", "sizes", []), ("label_budget.sizes",), id="budget-empty"),
    pytest.param(_set("label_budget", "sizes", [15, 15]), ("label_budget.sizes", "distinct"),
                 id="budget-repeated"),
]


@pytest.mark.parametrize(("mutate", "needles"), CASES)
def test_bad_params_raise_one_line_naming_key(tmp_path, base, mutate, needles):
    params = copy.deepcopy(base)
    mutate(params)
    assert_one_line_error(write(tmp_path, params), *needles)


def test_missing_section_is_reported(tmp_path, base):
    params = copy.deepcopy(base)
    del params["llkd"]
    assert_one_line_error(write(tmp_path, params), "llkd")


def test_optional_null_is_accepted(tmp_path, base):
    params = copy.deepcopy(base)
    params["llkd"]["init"] = None
    params["teacher"]["verbalizers"] = None
    assert load_params(write(tmp_path, params))["llkd"]["init"] is None


def test_in_range_boundaries_are_accepted(tmp_path, base):
    params = copy.deepcopy(base)
    params["conf_filter"]["threshold"] = 1  # an int where a float is expected is fine
    params["llkd"]["momentum"] = 0.0
    params["mckd"]["parts"] = [0, 1, 2]
    loaded = load_params(write(tmp_path, params))
    assert loaded["conf_filter"]["threshold"] == 1
    assert loaded["mckd"]["parts"] == [0, 1, 2]


def test_nan_threshold_rejected(tmp_path, base):
    params = copy.deepcopy(base)
    params["conf_filter"]["threshold"] = float("nan")
    assert_one_line_error(write(tmp_path, params), "conf_filter.threshold")


def test_missing_params_file(tmp_path):
    missing = tmp_path / "nope.yaml"
    assert_one_line_error(missing, "missing params file", str(missing))


def test_invalid_yaml(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("seeds: [0]\ndata: [unclosed\n  source: bbc\n", encoding="utf-8")
    assert_one_line_error(path, "not valid YAML", str(path))


def test_top_level_not_a_mapping(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("- just\n- a list\n", encoding="utf-8")
    assert_one_line_error(path, "must be a mapping")


@pytest.mark.parametrize(("change", "needles"), [
    ({"task": "ner"}, ["sequence.task", "'constituency'", "'slot_tagging'"]),
    ({"source": "trees", "path": None}, ["sequence.path", "required"]),
    ({"source": "trees", "path": "x", "task": "slot_tagging"}, ["'trees'", "constituency"]),
    ({"min_words": 9, "max_words": 4}, ["sequence.min_words (9)", "sequence.max_words (4)"]),
    ({"student": {"kind": "t5"}}, ["sequence.student.kind", "'structured'", "'causal_lm'"]),
    ({"teacher": {"batch_size": 0}}, ["sequence.teacher.batch_size = 0", "int >= 1"]),
    ({"mckd": {"parts": [0]}}, ["sequence.mckd.parts", "K >= 2"]),
])
def test_sequence_block_mistakes_name_the_key(tmp_path, base, change, needles):
    bad = copy.deepcopy(base)
    for key, value in change.items():
        if isinstance(value, dict):
            bad["sequence"][key].update(value)
        else:
            bad["sequence"][key] = value
    assert_one_line_error(write(tmp_path, bad), *needles)
