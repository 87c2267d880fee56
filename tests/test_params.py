"""Params: the repo's params.yaml validates; each kind of mistake stops with one line; a stage
gets only the sections it declares."""

import copy
from pathlib import Path

import pytest
import yaml

from kdbench.errors import KDBenchError
from kdbench.params import load_params, validate_all

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
        validate_all(path)
    message = str(info.value)
    assert "\n" not in message, f"message is not one line: {message!r}"
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"
    return message


def test_repo_params_load(base):
    params = validate_all(REPO_PARAMS)
    assert params == base
    assert params["classification"]["data"]["source"] == "bbc"
    assert params["mckd"]["parts"] == [0, 1]


def test_unmodified_copy_loads(tmp_path, base):
    # The round trip through the helper must itself be valid, or every case below is moot.
    assert validate_all(write(tmp_path, base)) == base


def _set(dotted: str, value):
    def mutate(params: dict) -> None:
        *path, key = dotted.split(".")
        node = params
        for part in path:
            node = node[part]
        node[key] = value

    return mutate


def _delete(dotted: str):
    def mutate(params: dict) -> None:
        *path, key = dotted.split(".")
        node = params
        for part in path:
            node = node[part]
        del node[key]

    return mutate


def _duplicate_stage_id(params: dict) -> None:
    params["mckd"]["finals"][0]["id"] = params["mckd"]["pair_stages"][0]["id"]


def _jsonl_without_path(params: dict) -> None:
    params["classification"]["data"]["source"] = "jsonl"
    params["classification"]["data"]["path"] = None


CASES = [
    pytest.param(_set("bogus", 1), ("bogus",), id="unknown-top-level-key"),
    pytest.param(_set("classification.student.foo", 1), ("classification.student.foo",),
                 id="unknown-nested-key"),
    pytest.param(_set("classification.data.n_test", -1), ("classification.data.n_test", "-1"),
                 id="negative-size"),
    pytest.param(_set("conf_filter.threshold", 1.5), ("conf_filter.threshold", "1.5"),
                 id="threshold-above-1"),
    pytest.param(_set("conf_filter.threshold", -0.1), ("conf_filter.threshold",),
                 id="threshold-below-0"),
    pytest.param(_set("classification.student.epochs", "two"),
                 ("classification.student.epochs", "'two'"), id="wrong-type"),
    pytest.param(_set("constituency.student.epochs", 2.5), ("constituency.student.epochs",),
                 id="float-for-int"),
    pytest.param(_set("llkd.momentum", True), ("llkd.momentum", "True"), id="bool-for-number"),
    pytest.param(_set("classification.teacher.backend", "onnx"),
                 ("classification.teacher.backend", "'onnx'", "'vllm'"), id="choice-not-allowed"),
    pytest.param(_set("threads", 0), ("threads", ">= 1"), id="threads-zero"),
    pytest.param(_set("mckd.parts", [0]), ("mckd.parts",), id="parts-K-below-2"),
    pytest.param(_set("mckd.parts", [1, 2]), ("mckd.parts",), id="parts-not-from-0"),
    pytest.param(_duplicate_stage_id, ("mckd", "unique", "s1"), id="duplicate-stage-id"),
    pytest.param(_jsonl_without_path, ("classification.data.path", "jsonl"),
                 id="jsonl-without-path"),
    pytest.param(_delete("classification.student.lr"), ("missing", "classification.student.lr"),
                 id="missing-key"),
    pytest.param(_set("classification.data.n_labeled", None), ("classification.data.n_labeled",),
                 id="null-required"),
    pytest.param(_set("label_budget.sizes", [50, 15]), ("label_budget.sizes", "increasing"),
                 id="budget-not-increasing"),
    pytest.param(_set("label_budget.sizes", [0, 10]), ("label_budget.sizes", ">= 1"),
                 id="budget-zero"),
    pytest.param(_set("label_budget.sizes", []), ("label_budget.sizes",), id="budget-empty"),
    pytest.param(_set("label_budget.sizes", [15, 15]), ("label_budget.sizes", "distinct"),
                 id="budget-repeated"),
    pytest.param(_set("seeds", [0, 0]), ("seeds", "distinct"), id="seeds-repeated"),
    pytest.param(_set("tasks", ["classification", "ner"]), ("tasks", "slot_tagging"),
                 id="unknown-task"),
    pytest.param(_set("tasks", []), ("tasks",), id="no-task"),
    pytest.param(_set("llkd.tasks", ["slot_tagging"]), ("llkd.tasks", "not among the enabled"),
                 id="method-on-disabled-task"),
    pytest.param(_set("llkd.tasks", ["constituency"]), ("llkd.tasks includes constituency",
                                                        "does not apply"),
                 id="method-that-does-not-apply"),
    pytest.param(_delete("constituency"), ("missing block constituency",), id="missing-block"),
    pytest.param(_set("constituency.data.source", "trees"), ("constituency.data.path",
                                                             "required"), id="trees-without-path"),
    pytest.param(_set("constituency.data.min_words", 99), ("min_words (99)", "max_words (15)"),
                 id="min-above-max"),
    pytest.param(_set("constituency.student.kind", "t5"),
                 ("constituency.student.kind", "'structured'", "'causal_lm'"), id="student-kind"),
    pytest.param(_set("constituency.teacher.batch_size", 0),
                 ("constituency.teacher.batch_size = 0", "int >= 1"), id="batch-size-zero"),
    pytest.param(_set("constituency.student.device", "gpu"),
                 ("constituency.student.device", "'gpu'", "cuda"), id="device-name"),
    pytest.param(_set("classification.student.precision", "fp16"),
                 ("classification.student.precision", "'bf16'"), id="precision"),
    pytest.param(_set("slot_tagging.data.source", "trees"), ("slot_tagging.data.source",
                                                             "'generated'"),
                 id="disabled-block-still-checked"),
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
    params["classification"]["teacher"]["verbalizers"] = None
    assert validate_all(write(tmp_path, params))["llkd"]["init"] is None


def test_in_range_boundaries_are_accepted(tmp_path, base):
    params = copy.deepcopy(base)
    params["conf_filter"]["threshold"] = 1  # an int where a float is expected is fine
    params["llkd"]["momentum"] = 0.0
    params["mckd"]["parts"] = [0, 1, 2]
    loaded = validate_all(write(tmp_path, params))
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


def test_a_stage_gets_only_the_sections_it_declares():
    params = load_params(REPO_PARAMS, "constituency", ("threads", "{task}.teacher.shots"))
    full = yaml.safe_load(Path(REPO_PARAMS).read_text(encoding="utf-8"))
    shots = full["constituency"]["teacher"]["shots"]
    assert params == {"threads": full["threads"], "constituency": {"teacher": {"shots": shots}}}
    with pytest.raises(KeyError):
        params["constituency"]["student"]
    with pytest.raises(KeyError):
        params["seeds"]


def test_a_stage_validates_its_task_block_and_refuses_a_disabled_task(tmp_path, base):
    bad = copy.deepcopy(base)
    bad["constituency"]["teacher"]["shots"] = -1
    path = write(tmp_path, bad)
    # The classification stages do not read the constituency block ...
    assert load_params(path, "classification", ("seeds",)) == {"seeds": [0, 1, 2]}
    # ... the constituency stages refuse it before any work.
    with pytest.raises(KDBenchError, match="constituency.teacher.shots"):
        load_params(path, "constituency", ("seeds",))
    with pytest.raises(KDBenchError, match="'slot_tagging' is not enabled"):
        load_params(REPO_PARAMS, "slot_tagging", ("seeds",))


def test_configuration_doc_is_the_schema():
    """docs/configuration.md is generated: regenerate it with `python -m kdbench.params`."""
    from kdbench.params import configuration_doc

    doc = REPO_PARAMS.parent / "docs" / "configuration.md"
    assert doc.read_text(encoding="utf-8") == configuration_doc(REPO_PARAMS)
