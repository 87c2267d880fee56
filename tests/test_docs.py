"""Docs include results files between markers; a stale include fails here."""

import pytest

from kdbench.docs import render, stale
from kdbench.errors import KDBenchError

TABLE = "Intro line.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nBetween.\n\n| c |\n|---|\n| 3 |\n"


def test_an_include_is_filled_from_its_file_whole_or_one_table(tmp_path):
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics" / "t.md").write_text(TABLE)
    doc = ("Before.\n<!-- include: metrics/t.md table=2 -->\nold numbers\n<!-- end include -->\n"
           "<!-- include: metrics/t.md -->\n<!-- end include -->\nAfter.\n")
    out = render(doc, tmp_path)
    assert out == ("Before.\n<!-- include: metrics/t.md table=2 -->\n| c |\n|---|\n| 3 |\n"
                   "<!-- end include -->\n<!-- include: metrics/t.md -->\n" + TABLE
                   + "<!-- end include -->\nAfter.\n")
    assert render(out, tmp_path) == out  # filled once, stable


def test_a_missing_file_or_table_is_one_line(tmp_path):
    with pytest.raises(KDBenchError, match="metrics/none.md, which does not exist"):
        render("<!-- include: metrics/none.md -->\n<!-- end include -->\n", tmp_path)
    (tmp_path / "t.md").write_text(TABLE)
    with pytest.raises(KDBenchError, match="table 3 of t.md, which has 2"):
        render("<!-- include: t.md table=3 -->\n<!-- end include -->\n", tmp_path)


def test_the_repository_docs_match_the_results_they_include():
    assert stale() == []
