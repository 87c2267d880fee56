"""The code a stage runs, derived from imports: dvc.yaml's code deps must equal it.

A stage's code is its script plus every module of this package the script imports, directly or
through other modules (imports inside functions count: they run when the stage does), plus the
module of its task (kdbench/tasks/<task>.py, imported by name at run time: declared as
`kdbench/tasks/${item.task}.py`, so each matrix item depends on its own task's module) and what
the task modules import. A stage with a matrix over tasks is one definition for whichever tasks
params.yaml enables, so the modules they import are declared for every item.
`python -m kdbench.codedeps` prints what each pipeline (PIPELINES) should declare (`--write` puts
it there); tests/test_codedeps.py fails when it differs.
"""

import ast
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "kdbench"
SCRIPT = re.compile(r"python (stages/\w+\.py)")
# Each matrix item depends on its own task's module only: an edit of one task re-runs its stages
# alone. What task modules import is shared code, declared for every item.
TASK_MODULE = "kdbench/tasks/${item.task}.py"
# Every pipeline of the project: the benchmark and the studies beside it.
PIPELINES = (ROOT / "dvc.yaml", ROOT / "studies" / "dvc.yaml")


def _module_path(name: str) -> Path | None:
    parts = name.split(".")
    if parts[0] != PACKAGE:
        return None
    base = ROOT.joinpath(*parts)
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return None


def _imports(path: Path) -> set[Path]:
    """Package modules `path` imports (and the packages that contain them)."""
    found: set[Path] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from kdbench.tasks import sequence` may name a module as well as an attribute.
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            parts = name.split(".")
            # Importing a.b.c runs a/__init__.py and a/b/__init__.py too.
            for end in range(1, len(parts) + 1):
                module = _module_path(".".join(parts[:end]))
                if module is not None:
                    found.add(module)
    return found


def closure(start: list[Path]) -> set[Path]:
    """`start` and every package module reachable from it by imports."""
    seen: set[Path] = set()
    todo = list(start)
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        todo.extend(_imports(path) - seen)
    return seen


def _relative(paths: set[Path]) -> list[str]:
    return sorted(str(p.relative_to(ROOT)) for p in paths)


def derived(stage: dict) -> list[str]:
    """The code deps a stage definition should declare, paths relative to the project root."""
    from kdbench.params import TASK_NAMES

    script = SCRIPT.search(stage["cmd"])
    if script is None:
        raise ValueError(f"no `python stages/<name>.py` in cmd {stage['cmd']!r}")
    start = [ROOT / script.group(1)]
    if "--task" not in stage["cmd"]:
        return _relative(closure(start))
    modules = [ROOT / PACKAGE / "tasks" / f"{task}.py" for task in TASK_NAMES]
    code = closure(start + modules) - set(modules)
    return sorted([*_relative(code), TASK_MODULE])


def declared(stage: dict) -> list[str]:
    """The .py deps a stage definition declares (data deps left out)."""
    return sorted(d for d in stage.get("deps", []) if isinstance(d, str) and d.endswith(".py"))


def stages(dvc_yaml: Path = ROOT / "dvc.yaml") -> dict[str, dict]:
    """dvc.yaml's stage definitions as written (a matrix stage is one definition)."""
    return yaml.safe_load(dvc_yaml.read_text(encoding="utf-8"))["stages"]


def mismatches(dvc_yaml: Path = ROOT / "dvc.yaml") -> dict[str, tuple[list[str], list[str]]]:
    """{stage: (declared but not imported, imported but not declared)} where they differ."""
    out = {}
    for name, stage in stages(dvc_yaml).items():
        want, have = set(derived(stage)), set(declared(stage))
        if want != have:
            out[name] = (sorted(have - want), sorted(want - have))
    return out


def rewrite(dvc_yaml: Path = ROOT / "dvc.yaml") -> None:
    """Replace each stage's code deps in dvc.yaml with the derived ones (data deps, comments and
    layout elsewhere kept): the script first, then the modules, wrapped at 99 columns."""
    text = dvc_yaml.read_text(encoding="utf-8")
    definitions = stages(dvc_yaml)
    parts = re.split(r"(?m)^(  [\w-]+:\n)", text)
    out = parts[0]
    for head, body in zip(parts[1::2], parts[2::2], strict=True):
        stage = definitions[head.strip().rstrip(":")]
        match = re.search(r"(?ms)^    deps: \[(.*?)\]\n", body)
        if match:
            data = [d for d in stage.get("deps", []) if not d.endswith(".py")]
            code = derived(stage)
            script = SCRIPT.search(stage["cmd"]).group(1)
            items = [script] + [f'"{c}"' if "${" in c else c for c in code if c != script]
            items += [f'"{d}"' for d in data]
            lines, line = [], "    deps: ["
            for k, item in enumerate(items):
                piece = item + ("]" if k == len(items) - 1 else ",")
                if len(line) + len(piece) + 1 > 99 and line.strip() != "deps: [":
                    lines.append(line.rstrip())
                    line = "           "
                line += piece + " "
            lines.append(line.rstrip())
            body = body[:match.start()] + "\n".join(lines) + "\n" + body[match.end():]
        out += head + body
    dvc_yaml.write_text(out, encoding="utf-8")


def main() -> None:
    wrong = False
    for pipeline in PIPELINES:
        if sys.argv[1:] == ["--write"]:
            rewrite(pipeline)
        where = pipeline.relative_to(ROOT)
        for name, stage in stages(pipeline).items():
            print(f"{where}:{name}: [{', '.join(derived(stage))}]")
        for name, (extra, missing) in mismatches(pipeline).items():
            wrong = True
            print(f"{where}:{name}: declared but not imported {extra}; imported but not "
                  f"declared {missing}", file=sys.stderr)
    sys.exit(1 if wrong else 0)


if __name__ == "__main__":
    main()
