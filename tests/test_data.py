"""Loading, cleaning and splitting data sets into labeled, unlabeled and test pools."""

import csv
import json
from collections import Counter
from pathlib import Path

import pytest

from kdbench.data import clean, load_bbc, load_rows, split
from kdbench.errors import KDBenchError

LABELS = ["a", "b", "c"]
SIZES = {"a": 60, "b": 40, "c": 20}  # unequal classes, so stratification is visible
N_LABELED, N_UNLABELED, N_TEST = 15, 45, 30


def make_rows(sizes: dict[str, int] = SIZES) -> list[dict]:
    rows = []
    for label, n in sizes.items():
        rows += [{"id": f"{label}-{i:03d}", "text": f"article {i} about {label}", "label": label}
                 for i in range(n)]
    return rows


def do_split(seed: int = 0, rows: list[dict] | None = None):
    return split(rows if rows is not None else make_rows(), LABELS, N_LABELED, N_UNLABELED,
                 N_TEST, seed)


def pools(splits) -> dict[str, list[dict]]:
    return {"labeled": splits.labeled, "unlabeled": splits.unlabeled, "test": splits.test}


# --- split -----------------------------------------------------------------------------------


def test_split_sizes():
    splits = do_split()
    assert len(splits.labeled) == N_LABELED
    assert len(splits.unlabeled) == N_UNLABELED
    assert len(splits.test) == N_TEST
    assert splits.labels == LABELS


def test_split_pools_pairwise_disjoint_by_id_and_text():
    named = pools(do_split())
    names = list(named)
    for i, first in enumerate(names):
        for second in names[i + 1:]:
            for field in ("id", "text"):
                a = {r[field] for r in named[first]}
                b = {r[field] for r in named[second]}
                assert not a & b, f"{first} and {second} share {field}s {sorted(a & b)[:3]}"
    # and no pool repeats a row internally
    for name, rows in named.items():
        assert len({r["id"] for r in rows}) == len(rows), name


def test_split_rows_come_from_input_unchanged():
    rows = make_rows()
    by_id = {r["id"]: r for r in rows}
    splits = do_split(rows=rows)
    for row in splits.labeled + splits.test:
        assert row == by_id[row["id"]]
    for row in splits.unlabeled:
        original = by_id[row["id"]]
        assert (row["text"], row["gold"]) == (original["text"], original["label"])


def test_split_same_seed_is_identical():
    first, second = do_split(seed=7), do_split(seed=7)
    assert pools(first) == pools(second)


def test_split_does_not_depend_on_input_order():
    rows = make_rows()
    assert pools(do_split(seed=3, rows=rows)) == pools(do_split(seed=3, rows=rows[::-1]))


def test_split_other_seed_differs():
    first, second = pools(do_split(seed=0)), pools(do_split(seed=1))
    for name in first:
        assert {r["id"] for r in first[name]} != {r["id"] for r in second[name]}, name


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_split_is_stratified(seed):
    total = sum(SIZES.values())
    for name, rows in pools(do_split(seed=seed)).items():
        counts = Counter(r.get("label", r.get("gold")) for r in rows)
        for label, size in SIZES.items():
            share = len(rows) * size / total
            assert abs(counts[label] - share) <= 1, (name, label, counts[label], share)


def test_unlabeled_rows_carry_gold_not_label():
    splits = do_split()
    for row in splits.unlabeled:
        assert set(row) == {"id", "text", "gold"}
        assert row["gold"] in LABELS
    for row in splits.labeled + splits.test:
        assert "gold" not in row
        assert row["label"] in LABELS


def test_split_asking_for_too_many_rows_raises():
    rows = make_rows()
    with pytest.raises(KDBenchError, match=r"= 121 but only 120"):
        split(rows, LABELS, 1, 100, 20, 0)


def test_split_using_every_row_succeeds():
    splits = split(make_rows(), LABELS, 20, 40, 60, 0)
    assert len(splits.labeled) + len(splits.unlabeled) + len(splits.test) == 120


# --- clean -----------------------------------------------------------------------------------


def _rows_with_problems() -> list[dict]:
    return [
        {"id": "1", "text": "first text", "label": "a"},
        {"id": "2", "text": "", "label": "b"},
        {"id": "3", "text": "first text", "label": "a"},
        {"id": "4", "text": "second text", "label": "b"},
        {"id": "5", "text": "second text", "label": "b"},
        {"id": "6", "text": "third text", "label": "c"},
    ]


def test_clean_drops_empty_and_duplicate_texts():
    kept, labels, report = clean(_rows_with_problems(), None, dedup=True)
    assert [r["id"] for r in kept] == ["1", "4", "6"]  # the first of each text is kept
    assert labels == ["a", "b", "c"]
    assert report == {"loaded": 6, "dropped_empty": 1, "dropped_duplicates": 2, "kept": 3}


def test_clean_keeps_duplicates_without_dedup():
    kept, _, report = clean(_rows_with_problems(), None, dedup=False)
    assert [r["id"] for r in kept] == ["1", "3", "4", "5", "6"]
    assert report["dropped_empty"] == 1
    assert report["kept"] == 5
    assert "dropped_duplicates" not in report


def test_clean_keeps_given_label_order():
    _, labels, _ = clean(_rows_with_problems(), ["c", "b", "a", "d"], dedup=True)
    assert labels == ["c", "b", "a", "d"]


def test_clean_label_outside_label_set_raises():
    with pytest.raises(KDBenchError, match=r"\['c'\] outside data.labels"):
        clean(_rows_with_problems(), ["a", "b"], dedup=True)


def test_clean_fewer_than_two_labels_raises():
    rows = [{"id": str(i), "text": f"text {i}", "label": "a"} for i in range(5)]
    with pytest.raises(KDBenchError, match="1 distinct label"):
        clean(rows, None, dedup=True)


def test_clean_given_single_label_raises():
    rows = [{"id": str(i), "text": f"text {i}", "label": "a"} for i in range(5)]
    with pytest.raises(KDBenchError, match="needs >= 2"):
        clean(rows, ["a"], dedup=True)


def test_clean_duplicate_ids_raise():
    rows = [{"id": "x", "text": "one", "label": "a"}, {"id": "x", "text": "two", "label": "b"},
            {"id": "y", "text": "three", "label": "b"}]
    with pytest.raises(KDBenchError, match="duplicate ids.*'x'"):
        clean(rows, None, dedup=True)


# --- load_rows -------------------------------------------------------------------------------


def _data(source: str, path: Path, text_field: str = "body", label_field: str = "topic") -> dict:
    return {"source": source, "path": str(path), "hub_split": "train",
            "text_field": text_field, "label_field": label_field}


def test_load_rows_jsonl_custom_fields(tmp_path):
    path = tmp_path / "d.jsonl"
    records = [{"id": 10, "body": "  hello \n world ", "topic": "x"},
               {"body": "second", "topic": "y", "extra": 1}]
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + "\n", encoding="utf-8")
    rows = load_rows(_data("jsonl", path))
    assert rows == [{"id": "10", "text": "hello world", "label": "x"},
                    {"id": "row1", "text": "second", "label": "y"}]


def test_load_rows_csv_custom_fields(tmp_path):
    path = tmp_path / "d.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["topic", "body"])
        writer.writerow(["sport", "a goal, then\nanother"])  # quoted comma and newline
        writer.writerow(["tech", "chips"])
    rows = load_rows(_data("csv", path))
    assert rows == [{"id": "row0", "text": "a goal, then another", "label": "sport"},
                    {"id": "row1", "text": "chips", "label": "tech"}]


@pytest.mark.parametrize("source", ["jsonl", "csv"])
def test_load_rows_missing_file(tmp_path, source):
    path = tmp_path / f"absent.{source}"
    with pytest.raises(KDBenchError, match="does not exist") as info:
        load_rows(_data(source, path))
    assert str(path) in str(info.value)


@pytest.mark.parametrize("source", ["jsonl", "csv"])
def test_load_rows_non_utf8(tmp_path, source):
    path = tmp_path / f"d.{source}"
    path.write_bytes(b"\xff\xfe" + "body,topic\n".encode("utf-16-le"))
    with pytest.raises(KDBenchError, match="not UTF-8") as info:
        load_rows(_data(source, path))
    assert str(path) in str(info.value)


def test_load_rows_jsonl_record_missing_text_field(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"body": "ok", "topic": "x"}\n{"text": "wrong", "topic": "y"}\n',
                    encoding="utf-8")
    with pytest.raises(KDBenchError, match=r"record 1 lacks field 'body'") as info:
        load_rows(_data("jsonl", path))
    assert "data.text_field" in str(info.value)


def test_load_rows_csv_missing_text_column(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("text,topic\nhello,x\n", encoding="utf-8")
    with pytest.raises(KDBenchError, match=r"record 0 lacks field 'body'"):
        load_rows(_data("csv", path))


def test_load_rows_invalid_json_line(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"body": "ok", "topic": "x"}\n{"body": oops}\n', encoding="utf-8")
    with pytest.raises(KDBenchError, match="line 2 is not valid JSON"):
        load_rows(_data("jsonl", path))


def test_load_rows_invalid_json_line_names_file_line(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"body": "a", "topic": "x"}\n{"body": "b", "topic": "x"}\n{"body": oops}\n',
                    encoding="utf-8")
    with pytest.raises(KDBenchError, match=r"line 3\b"):
        load_rows(_data("jsonl", path))


def test_load_rows_jsonl_line_not_an_object(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"body": "ok", "topic": "x"}\n5\n', encoding="utf-8")
    with pytest.raises(KDBenchError):
        load_rows(_data("jsonl", path))


def test_load_rows_csv_short_row_rejected(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("body,topic\nhello,x\nworld\n", encoding="utf-8")
    with pytest.raises(KDBenchError):
        load_rows(_data("csv", path))


def test_load_bbc():
    rows = load_bbc()
    assert len(rows) == 2225
    assert sorted({r["label"] for r in rows}) == [
        "business", "entertainment", "politics", "sports", "tech"]
    assert len({r["id"] for r in rows}) == 2225
    assert all(r["text"] and set(r) == {"id", "text", "label"} for r in rows)


def test_split_reports_test_texts_that_leak_into_training():
    # 60 texts, each twice under different ids: without dedup some test texts must leak.
    rows = [{"id": f"{copy}-{i}", "text": f"text {i}", "label": "ab"[i % 2]}
            for copy in range(2) for i in range(60)]
    kept, labels, _ = clean(rows, None, dedup=False)
    leaky = split(kept, labels, n_labeled=10, n_unlabeled=60, n_test=30, seed=0)
    assert leaky.report["test_texts_also_in_training"] > 0
    kept, labels, _ = clean(rows, None, dedup=True)
    clean_split = split(kept, labels, n_labeled=10, n_unlabeled=20, n_test=30, seed=0)
    assert clean_split.report["test_texts_also_in_training"] == 0
