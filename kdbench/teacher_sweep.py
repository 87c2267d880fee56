"""The teacher-quality sweep: the pipeline run as `dvc exp` experiments that differ from
params.yaml only in the task's teacher block, each method's test score set against its teacher's
and against SFT's on the same seed.

    python -m kdbench.teacher_sweep queue     # queue one experiment per config, start a worker
    python -m kdbench.teacher_sweep collect   # read them back into metrics/teacher_sweep/<task>/

A config of no overrides is the committed pipeline: its rows are read from metrics/ at HEAD, whose
lock `make lockcheck` keeps fresh. An experiment is read back only when every stage behind its
evaluation ran this checkout's code and params (the overrides aside); each cell keeps the code
hashes and params it was checked against, so a test can tell when the code has moved on since.
"""

import argparse
import copy
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from kdbench.errors import KDBenchError, report_errors
from kdbench.io import read_json, write_json
from kdbench.params import Field, read_params, validate_block
from kdbench.plots import _save, plt
from kdbench.report import markdown_table
from kdbench.studies import read_section

SCHEMA = {
    "tasks": Field(list, doc="tasks swept, each with its grid"),
    "seeds": Field(list, doc="seeds each experiment runs (the pipeline's splits)"),
    "grids": Field(dict, doc="per task: rows (the students reported beside the teacher, `sft` "
                             "among them) and configs (name: overrides of <task>.teacher; {} is "
                             "the committed pipeline)"),
}


def read_study(path: str | Path, task: str) -> dict:
    """studies/params.yaml's `teacher_sweep` for one task: {task, seeds, rows, configs}."""
    section = read_section(path, "teacher_sweep", SCHEMA)
    grid = section["grids"].get(task)
    if task not in section["tasks"] or not isinstance(grid, dict) \
            or set(grid) != {"rows", "configs"}:
        raise KDBenchError(f"params: teacher_sweep.grids.{task} = {grid!r} with tasks "
                           f"{section['tasks']}; a swept task needs a grid with `rows` and "
                           "`configs`")
    if not isinstance(grid["rows"], list) or "sft" not in grid["rows"]:
        raise KDBenchError(f"params: teacher_sweep.grids.{task}.rows = {grid['rows']!r}; the "
                           "methods are set against SFT, so `sft` must be one of them")
    configs = grid["configs"]
    if not isinstance(configs, dict) or not configs \
            or not all(isinstance(o, dict) for o in configs.values()):
        raise KDBenchError(f"params: teacher_sweep.grids.{task}.configs = {configs!r}; "
                           "expected {name: {teacher key: value}} ({} for the pipeline's)")
    return {"task": task, "seeds": section["seeds"], **grid}


def check_params(study: dict, params: dict) -> None:
    """The study fits params.yaml: its task enabled, its seeds the pipeline's, every config a
    valid teacher block once applied."""
    task = study["task"]
    if task not in params["tasks"]:
        raise KDBenchError(f"params: teacher_sweep sweeps {task!r}, which params.yaml's tasks "
                           f"{params['tasks']} do not enable")
    if not study["seeds"] or any(s not in params["seeds"] for s in study["seeds"]):
        raise KDBenchError(f"params: teacher_sweep.seeds = {study['seeds']}; expected some of "
                           f"params.yaml's seeds {params['seeds']}")
    for overrides in study["configs"].values():
        validate_block(with_overrides(params, task, overrides), task)


def with_overrides(params: dict, task: str, overrides: dict) -> dict:
    """A copy of params with the task's teacher keys set to the overrides."""
    out = copy.deepcopy(params)
    out[task]["teacher"].update(overrides)
    return out


def _value(value) -> str:
    return json.dumps(value) if isinstance(value, bool) or value is None else str(value)


def describe(overrides: dict) -> str:
    """A config as the params it sets, e.g. `shots=1, calibrate=false`."""
    return ", ".join(f"{key}={_value(value)}" for key, value in overrides.items()) \
        or "params.yaml's"


def queue_commands(study: dict, done: set[str] = frozenset()) -> list[list[str]]:
    """One `dvc exp run --queue` per config with overrides and not `done`, named as the config,
    reproducing the task's evaluation on the study's seeds."""
    task = study["task"]
    commands = []
    for name, overrides in study["configs"].items():
        if not overrides or name in done:
            continue
        sets = [arg for key, value in overrides.items()
                for arg in ("-S", f"{task}.teacher.{key}={_value(value)}")]
        targets = [f"evaluate@{task}-{seed}" for seed in study["seeds"]]
        commands.append(["dvc", "exp", "run", "--queue", "-n", name, *sets, *targets])
    return commands


def _git(*args: str) -> str:
    result = subprocess.run(["git", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise KDBenchError(f"git {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


def experiment_ref(name: str) -> str:
    """The newest experiment of this name (`dvc exp` keeps them under refs/exps/)."""
    refs = _git("for-each-ref", "--sort=-committerdate", "--format=%(refname)",
                "refs/exps").split()
    matching = [r for r in refs if r.rsplit("/", 1)[-1] == name]
    if not matching:
        raise KDBenchError(f"no experiment named {name!r}: queue the sweep with "
                           "`python -m kdbench.teacher_sweep queue` and let it finish")
    return matching[0]


def upstream(lock: dict, targets: list[str]) -> list[str]:
    """The targets and every stage of lock whose outputs they depend on, transitively (a lock
    also keeps records of stages an experiment did not run)."""
    outs = {name: [o["path"] for o in record.get("outs", [])]
            for name, record in lock["stages"].items()}

    def feeds(out: str, dep: str) -> bool:
        return out == dep or out.startswith(dep + "/") or dep.startswith(out + "/")

    seen, todo = set(), [t for t in targets if t in lock["stages"]]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for dep in lock["stages"][name].get("deps", []):
            todo += [other for other, paths in outs.items()
                     if other not in seen and any(feeds(o, dep["path"]) for o in paths)]
    return sorted(seen)


def _dotted(params: dict, key: str):
    node = params
    for part in key.split("."):
        node = node[part]
    return node


def md5(path: str | Path) -> str:
    """A file's hash as dvc.lock records it."""
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


def check_lock(lock: dict, task: str, seeds: list[int], params: dict) -> tuple[dict, dict]:
    """The code hashes and params the stages behind the task's evaluation on these seeds ran
    with in lock, once both are checked against this checkout's files and params (the
    overrides applied); a mismatch is a one-line error naming what differs."""
    code: dict[str, str] = {}
    used: dict = {}
    stale = []
    for stage in upstream(lock, [f"evaluate@{task}-{seed}" for seed in seeds]):
        record = lock["stages"][stage]
        for dep in record.get("deps", []):
            path = dep["path"]
            if path.startswith("data/") or not Path(path).is_file():
                continue
            code[path] = dep["md5"]
            if md5(path) != dep["md5"]:
                stale.append(path)
        for key, value in record.get("params", {}).get("params.yaml", {}).items():
            used[key] = value
            if _dotted(params, key) != value:
                stale.append(f"param {key}")
    if not code:
        raise KDBenchError(f"the experiment's lock has no evaluate@{task} of seeds {seeds}")
    if stale:
        raise KDBenchError("the experiment ran other code or params than this checkout: "
                           f"{', '.join(sorted(set(stale)))}; queue the sweep again")
    return dict(sorted(code.items())), dict(sorted(used.items()))


def _key_rows(rows: list[dict], study: dict) -> list[dict]:
    wanted = ["teacher", *study["rows"]]
    by_name = {r["name"]: r for r in rows}
    missing = [n for n in wanted if n not in by_name]
    if missing:
        raise KDBenchError(f"the run has no rows {missing}; it has {sorted(by_name)}")
    return [by_name[n] for n in wanted]


def kept_cells(study: dict, committed: dict[str, dict], params: dict) -> dict[str, dict]:
    """The committed cells of the study's configs that are still this checkout's: same
    overrides, and the code and params their experiments ran still the checkout's."""
    return {name: cell for name, cell in committed.items()
            if name in study["configs"] and cell["overrides"] == study["configs"][name]
            and not stale_cells({name: cell}, study["task"], params)}


def collect(study: dict, params_path: str = "params.yaml",
            committed: dict[str, dict] | None = None) -> tuple[dict[str, dict], list[str]]:
    """({config: cell}, configs without one): cells read from the experiments (the committed
    pipeline's metrics for {}). A config whose experiment is not in this clone (`dvc exp` keeps
    them in the local git) keeps its committed cell while that cell is still this checkout's,
    and is listed as without a cell otherwise."""
    task, seeds = study["task"], study["seeds"]
    params = yaml.safe_load(Path(params_path).read_text(encoding="utf-8"))
    kept = kept_cells(study, committed or {}, params)
    cells, missing = {}, []
    for name, overrides in study["configs"].items():
        cell = {"config": name, "overrides": overrides}
        if not overrides:
            cell["source"] = "the pipeline at HEAD (dvc.lock)"
            per_seed = {s: read_json(f"metrics/{task}/seeds/seed{s}.rows.json")["rows"]
                        for s in seeds}
        else:
            try:
                ref = experiment_ref(name)
            except KDBenchError:
                if name in kept:
                    cells[name] = kept[name]
                else:
                    missing.append(name)
                continue
            sha = _git("rev-parse", ref).strip()
            try:
                code, used = check_lock(yaml.safe_load(_git("show", f"{sha}:dvc.lock")), task,
                                        seeds, with_overrides(params, task, overrides))
            except KDBenchError as err:
                raise KDBenchError(f"experiment {name} ({sha[:7]}): {err}") from None
            cell.update(source=f"dvc exp {name}", experiment=sha,
                        baseline=_git("rev-parse", f"{sha}^").strip(), code=code, params=used)
            per_seed = {s: json.loads(_git("show", f"{sha}:metrics/{task}/seeds/seed{s}.rows.json"))
                        ["rows"] for s in seeds}
        cell["seeds"] = {str(s): _key_rows(rows, study) for s, rows in per_seed.items()}
        cells[name] = cell
    return cells, missing


def stale_cells(cells: dict[str, dict], task: str, params: dict) -> list[str]:
    """Why committed cells are no longer this checkout's: code or params changed since their
    experiments ran, or the pipeline's rows moved on."""
    problems = []
    for name, cell in cells.items():
        if not cell["overrides"]:
            for seed, rows in cell["seeds"].items():
                current = read_json(f"metrics/{task}/seeds/seed{seed}.rows.json")["rows"]
                now = {r["name"]: r for r in current}
                if any(now.get(r["name"]) != r for r in rows):
                    problems.append(f"{name}: seed {seed} differs from metrics/{task}/seeds")
            continue
        changed = [p for p, h in cell["code"].items() if not Path(p).is_file() or md5(p) != h]
        moved = with_overrides(params, task, cell["overrides"])
        changed += [f"param {k}" for k, v in cell["params"].items() if _dotted(moved, k) != v]
        if changed:
            problems.append(f"{name}: {', '.join(changed)}")
    return problems


def runs(cells: list[dict], metric: str) -> list[dict]:
    """One row per config and seed, by teacher test score: the teacher's scores, each
    student's, and each student's margin over its teacher and over SFT."""
    out = []
    for cell in cells:
        for seed, rows in cell["seeds"].items():
            teacher, students = rows[0], rows[1:]
            sft = next(r for r in students if r["name"] == "sft")[metric]
            row = {"config": cell["config"], "seed": int(seed),
                   "teacher": teacher[metric], "teacher_dev": teacher.get(f"dev_{metric}"),
                   "teacher_pool": teacher.get(f"pool_label_{metric}")}
            for student in students:
                name, score = student["name"], student[metric]
                row[name] = score
                if name != "sft":
                    row[f"{name}_minus_teacher"] = round(score - teacher[metric], 4)
                    row[f"{name}_minus_sft"] = round(score - sft, 4)
            out.append(row)
    return sorted(out, key=lambda r: (r["teacher"], r["config"], r["seed"]))


def pays(rows: list[dict], methods: list[str]) -> list[dict]:
    """Per method: in how many runs it beats its teacher and SFT, and the teacher scores that
    bracket where it starts to beat SFT."""
    out = []
    for method in methods:
        above = [r["teacher"] for r in rows if r[f"{method}_minus_sft"] > 0]
        below = [r["teacher"] for r in rows if r[f"{method}_minus_sft"] <= 0]
        out.append({"method": method,
                    "beats_teacher": f"{sum(r[f'{method}_minus_teacher'] > 0 for r in rows)}"
                                     f"/{len(rows)}",
                    "beats_sft": f"{len(above)}/{len(rows)}",
                    "weakest_teacher_beating_sft": min(above) if above else None,
                    "strongest_teacher_below_sft": max(below) if below else None})
    return out


def tables(rows: list[dict], methods: list[str], metric: str) -> str:
    """The sweep's three markdown tables: scores, margins, and where each method pays."""
    label = metric.replace("_", " ")
    students = ["sft", *methods]
    scores = markdown_table(rows, [("config", "teacher config"), ("seed", "seed"),
                                   ("teacher_dev", f"teacher dev {label}"),
                                   ("teacher_pool", "pool labels"),
                                   ("teacher", f"teacher test {label}"),
                                   *[(m, m) for m in students]])
    margins = [{"config": r["config"], "seed": r["seed"], "teacher": r["teacher"],
                **{m: f"{r[f'{m}_minus_teacher']:+.3f} / {r[f'{m}_minus_sft']:+.3f}"
                   for m in methods}} for r in rows]
    margin_table = markdown_table(margins, [("config", "teacher config"), ("seed", "seed"),
                                            ("teacher", f"teacher test {label}"),
                                            *[(m, m) for m in methods]])
    pay_table = markdown_table(pays(rows, methods), [
        ("method", "method"), ("beats_teacher", "runs above its teacher"),
        ("beats_sft", "runs above SFT"),
        ("weakest_teacher_beating_sft", "weakest teacher it beats SFT with"),
        ("strongest_teacher_below_sft", "strongest teacher it stays at or below SFT with")])
    return (f"Test {label}:\n\n{scores}\n\nEach student's margin over its teacher / over SFT "
            f"(test {label}):\n\n{margin_table}\n\nWhere each method pays (teacher test "
            f"{label}):\n\n{pay_table}\n")


def plot(rows: list[dict], methods: list[str], metric: str, path: str) -> None:
    """Each method's margin over its teacher (left) and over SFT (right) against the teacher's
    test score, one point per config and seed."""
    label = metric.replace("_", " ")
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharex=True)
    for ax, (against, title) in zip(axes, (("teacher", "its teacher"),
                                           ("sft", "SFT on the gold labels")), strict=True):
        for method, marker in zip(methods, "osD^vP", strict=False):
            ax.plot([r["teacher"] for r in rows], [r[f"{method}_minus_{against}"] for r in rows],
                    marker, label=method, alpha=0.8)
        ax.axhline(0.0, color="grey", lw=1)
        ax.set(xlabel=f"teacher test {label}", ylabel=f"student minus {title} (test {label})",
               title=f"Margin over {title}")
    axes[0].legend(fontsize=8)
    _save(fig, path)


@report_errors
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("queue", "collect"))
    parser.add_argument("--study", default="studies/params.yaml")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args()
    tasks = read_section(args.study, "teacher_sweep", SCHEMA)["tasks"]
    studies = [read_study(args.study, task) for task in tasks]
    params = read_params(args.params)
    for study in studies:
        check_params(study, params)
    folders = {study["task"]: Path(f"metrics/teacher_sweep/{study['task']}")
               for study in studies}
    committed = {task: {path.stem: read_json(path) for path in folder.glob("*.json")}
                 for task, folder in folders.items()}
    if args.action == "queue":
        # The worker runs each experiment in its own copy of the project: PYTHONPATH makes its
        # stages import that copy's kdbench, not the editable install's.
        env = {**os.environ, "PYTHONPATH": "."}
        commands = []
        for study in studies:
            # A config whose committed cell is still this checkout's needs no experiment: a
            # sweep interrupted after some `collect`s resumes where it stopped.
            done = {name for name in kept_cells(study, committed[study["task"]], params)
                    if study["configs"][name]}
            for name in sorted(done):
                print(f"{study['task']} {name}: its committed cell is this checkout's, not queued")
            commands += queue_commands(study, done)
        if not commands:
            print("nothing to queue: run `make sweep-report`")
            return
        # One worker: two experiments at once on a small machine slow both.
        for command in [*commands, ["dvc", "queue", "start", "-j", "1"]]:
            print(" ".join(command), flush=True)
            if subprocess.run([sys.executable, "-m", *command], env=env).returncode != 0:
                raise KDBenchError(f"`{' '.join(command[:6])}` failed (its message is above); "
                                   "an experiment of that name may exist: `dvc exp list`, "
                                   "`dvc exp remove <name>`")
        print("watch it with `dvc queue status`; when it is done, run `make sweep-report`")
        return
    missing = []
    for study in studies:
        folder = folders[study["task"]]
        cells, without = collect(study, args.params, committed[study["task"]])
        # Only cells of this checkout stay: the report never mixes code versions.
        for old in folder.glob("*.json"):
            if old.stem not in cells:
                old.unlink()
        for name, cell in cells.items():
            write_json(folder / f"{name}.json", cell)
            print(f"{study['task']} {name}: {cell['source']}")
        missing += [f"{study['task']} {name}" for name in without]
    if missing:
        raise KDBenchError(f"no experiment yet for {', '.join(missing)} (the others are "
                           "written): `make sweep` queues only those, then collect again")


if __name__ == "__main__":
    main()
