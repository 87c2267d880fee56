"""JSON/JSONL files between stages: round trips, atomic writes, clear errors on bad input."""

import json
from pathlib import Path

import pytest

from kdbench.errors import KDBenchError
from kdbench.io import read_json, read_jsonl, read_labeled, write_json, write_jsonl, write_text

ROWS = [
    {"id": "1", "text": "café – naïve ☃", "label": "a", "probs": [0.25, 0.75]},
    {"id": "2", "text": "line\nbreak and \"quotes\"", "gold": "b"},
    {"id": "3", "text": "", "label": "b", "nested": {"k": [1, None, True]}},
]
OLD = '{"old": "content"}\n'


def entries(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())  # includes hidden .tmp files


def test_jsonl_round_trip(tmp_path):
    path = tmp_path / "sub" / "rows.jsonl"  # the parent directory is created
    write_jsonl(path, ROWS)
    assert read_jsonl(path) == ROWS
    text = path.read_text(encoding="utf-8")
    assert text.count("\n") == len(ROWS)  # one object per line; the inner \n is escaped
    assert "café" in text  # written as UTF-8, not \u escapes


def test_jsonl_round_trip_from_generator_and_empty(tmp_path):
    path = tmp_path / "rows.jsonl"
    write_jsonl(path, (row for row in ROWS))
    assert read_jsonl(path) == ROWS
    write_jsonl(path, [])
    assert read_jsonl(path) == []


def test_read_jsonl_skips_blank_lines(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"a": 1}\n\n   \n{"a": 2}\n', encoding="utf-8")
    assert read_jsonl(path) == [{"a": 1}, {"a": 2}]


def test_json_round_trip(tmp_path):
    path = tmp_path / "obj.json"
    obj = {"accuracy": 0.5, "labels": ["a", "b"], "none": None}
    write_json(path, obj)
    assert read_json(path) == obj
    assert entries(tmp_path) == ["obj.json"]


def test_write_overwrites_previous_content(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text(OLD, encoding="utf-8")
    write_jsonl(path, ROWS[:1])
    assert read_jsonl(path) == ROWS[:1]
    assert entries(tmp_path) == ["rows.jsonl"]


def _fails_after_one_row():
    yield {"id": "1"}
    raise RuntimeError("boom")


def test_write_jsonl_failing_generator_leaves_target_untouched(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text(OLD, encoding="utf-8")
    with pytest.raises(RuntimeError, match="boom"):
        write_jsonl(path, _fails_after_one_row())
    assert path.read_text(encoding="utf-8") == OLD
    assert entries(tmp_path) == ["rows.jsonl"]


def test_write_jsonl_unserialisable_row_leaves_target_untouched(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text(OLD, encoding="utf-8")
    with pytest.raises(TypeError):
        write_jsonl(path, [{"id": "1"}, {"id": "2", "bad": object()}])
    assert path.read_text(encoding="utf-8") == OLD
    assert entries(tmp_path) == ["rows.jsonl"]


def test_write_json_unserialisable_leaves_target_untouched(tmp_path):
    path = tmp_path / "obj.json"
    path.write_text(OLD, encoding="utf-8")
    with pytest.raises(TypeError):
        write_json(path, {"fine": 1, "bad": {1, 2}})
    assert path.read_text(encoding="utf-8") == OLD
    assert entries(tmp_path) == ["obj.json"]


def test_atomic_write_failing_mid_write_leaves_no_tmp(tmp_path, monkeypatch):
    # Fail inside _atomic_write itself (after the temporary file exists), not before it.
    path = tmp_path / "out.txt"
    path.write_text(OLD, encoding="utf-8")

    def broken_replace(src, dst):
        assert Path(src).exists() and Path(src).name.endswith(".tmp")
        raise OSError("disk gone")

    monkeypatch.setattr("kdbench.io.os.replace", broken_replace)
    with pytest.raises(OSError, match="disk gone"):
        write_text(path, "new content")
    assert path.read_text(encoding="utf-8") == OLD
    assert entries(tmp_path) == ["out.txt"]


def test_read_jsonl_missing_file(tmp_path):
    path = tmp_path / "absent.jsonl"
    with pytest.raises(KDBenchError, match="missing file") as info:
        read_jsonl(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_read_json_missing_and_invalid(tmp_path):
    with pytest.raises(KDBenchError, match="missing file"):
        read_json(tmp_path / "absent.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(KDBenchError, match="not valid JSON"):
        read_json(bad)


def test_read_jsonl_bad_line_names_line_number(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"a": 1}\n\n{"a": 2}\n{"a": oops}\n{"a": 4}\n', encoding="utf-8")
    with pytest.raises(KDBenchError, match=r"line 4 is not valid JSON") as info:
        read_jsonl(path)
    assert str(path) in str(info.value)


def test_read_jsonl_non_utf8(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b'{"a": 1}\n\xff\xfe\n')
    with pytest.raises(KDBenchError):
        read_jsonl(path)


def _labeled_file(tmp_path: Path, rows: list[dict]) -> Path:
    path = tmp_path / "labeled.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_read_labeled_accepts_labels_in_set(tmp_path):
    rows = [{"id": "1", "label": "a"}, {"id": "2", "label": "b"}]
    assert read_labeled(_labeled_file(tmp_path, rows), ["a", "b"]) == rows


def test_read_labeled_custom_field(tmp_path):
    rows = [{"id": "1", "gold": "a"}]
    assert read_labeled(_labeled_file(tmp_path, rows), ["a"], label_field="gold") == rows
    with pytest.raises(KDBenchError, match="row 1 has no 'label' field"):
        read_labeled(_labeled_file(tmp_path, rows), ["a"])


def test_read_labeled_rejects_label_outside_set(tmp_path):
    rows = [{"id": "1", "label": "a"}, {"id": "2", "label": "z"}]
    with pytest.raises(KDBenchError, match=r"row 2: label 'z' is not in the label set"):
        read_labeled(_labeled_file(tmp_path, rows), ["a", "b"])


def test_read_labeled_rejects_row_without_field(tmp_path):
    rows = [{"id": "1", "label": "a"}, {"id": "2", "probs": [1.0]}]
    with pytest.raises(KDBenchError, match="row 2 has no 'label' field"):
        read_labeled(_labeled_file(tmp_path, rows), ["a", "b"])
