"""Numbers in the docs come from the files the stages write, never from a hand: a doc includes
a results file between markers, and this module fills them in.

    <!-- include: metrics/classification.md table=1 -->
    ...filled in by `python -m kdbench.docs`...
    <!-- end include -->

`table=N` takes the file's N-th markdown table only; without it the whole file is included.
`python -m kdbench.docs` rewrites README.md and docs/*.md; `--check` lists the docs whose
included text differs from the files (a test runs it, so a stale doc fails the tests).
"""

import re
import sys
from pathlib import Path

from kdbench.errors import KDBenchError, report_errors
from kdbench.io import write_text

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"(<!-- include: (?P<path>\S+)(?: table=(?P<table>\d+))? -->\n)"
                   r"(?P<body>.*?)(<!-- end include -->)", re.S)


def _tables(text: str) -> list[str]:
    """The markdown tables of a text: runs of lines starting with `|`."""
    tables, current = [], []
    for line in text.splitlines():
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append("\n".join(current))
            current = []
    if current:
        tables.append("\n".join(current))
    return tables


def included(path: str, table: int | None, root: Path) -> str:
    source = root / path
    if not source.is_file():
        raise KDBenchError(f"docs include {path}, which does not exist: run the stage that "
                           "writes it (dvc repro)")
    text = source.read_text(encoding="utf-8")
    if table is None:
        return text.rstrip("\n") + "\n"
    tables = _tables(text)
    if not 1 <= table <= len(tables):
        raise KDBenchError(f"docs include table {table} of {path}, which has {len(tables)}")
    return tables[table - 1] + "\n"


def render(text: str, root: Path = ROOT) -> str:
    """`text` with every include block filled from its file."""
    def fill(match: re.Match) -> str:
        table = int(match["table"]) if match["table"] else None
        return match.group(1) + included(match["path"], table, root) + match.group(5)

    return BLOCK.sub(fill, text)


def documents(root: Path = ROOT) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def stale(root: Path = ROOT) -> list[Path]:
    """The docs whose includes differ from the files they include."""
    return [doc for doc in documents(root)
            if doc.is_file() and render(doc.read_text(encoding="utf-8"), root)
            != doc.read_text(encoding="utf-8")]


@report_errors
def main() -> None:
    if sys.argv[1:] == ["--check"]:
        found = stale()
        for doc in found:
            print(f"stale: {doc.relative_to(ROOT)}: run python -m kdbench.docs")
        sys.exit(1 if found else 0)
    for doc in documents():
        if doc.is_file():
            text = doc.read_text(encoding="utf-8")
            rendered = render(text)
            if rendered != text:
                write_text(doc, rendered)
                print(f"docs: updated {doc.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
