"""Fail when a committed lock (dvc.lock, studies/dvc.lock) is not the run of this commit's code
and params.

Works on a clean clone without the DVC cache: only what is in git is compared. A stage fails the
check when no lock has a record of it, or when `dvc status` reports its command, a param or a
dep that exists in the clone (code, params) as changed since the recorded run. Deps and outputs
that are missing (data other stages produce, not in git) are not a failure.

    python -m kdbench.lockcheck        # exit 1 and one line per stale stage
"""

import json
import subprocess
import sys
from pathlib import Path

import yaml


def dvc(*args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "dvc", *args], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"lock check: dvc {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def stale(status: dict, locked: set[str], stages: list[str]) -> dict[str, list[str]]:
    """{stage: reasons} for every stage whose record in dvc.lock does not match the clone."""
    out: dict[str, list[str]] = {}
    for name in stages:
        if name not in locked:
            out[name] = ["never run (no record in dvc.lock)"]
    for name, changes in status.items():
        if name in out:  # never run: what dvc status says of its deps adds nothing
            continue
        reasons = []
        for change in changes:
            if isinstance(change, str):  # "changed command", "always changed"
                reasons.append(change)
                continue
            for path, state in change.get("changed deps", {}).items():
                if isinstance(state, dict):  # a params file: {key: modified | new | deleted}
                    reasons += [f"param {key} {how}" for key, how in state.items()]
                elif state != "deleted":
                    reasons.append(f"{path} {state}")
        if reasons:
            out.setdefault(name, []).extend(reasons)
    return out


# Every pipeline's lock and the prefix DVC gives its stages' names (none for the project's own).
LOCKS = {"dvc.lock": "", "studies/dvc.lock": "studies/dvc.yaml:"}


def locked_stages() -> set[str]:
    """The stages some dvc.lock of the project in the working directory has a record of."""
    names: set[str] = set()
    for path, prefix in LOCKS.items():
        if Path(path).is_file():
            names |= {prefix + name for name in yaml.safe_load(Path(path).read_text())["stages"]}
    return names


def main() -> None:
    locked = locked_stages()
    stages = [line.split()[0] for line in dvc("stage", "list", "--all").splitlines()
              if line.strip()]
    problems = stale(json.loads(dvc("status", "--json") or "{}"), locked, stages)
    for name, reasons in sorted(problems.items()):
        print(f"stale: {name}: {'; '.join(reasons)}")
    if problems:
        print(f"lock check: {len(problems)} of {len(stages)} stages do not match dvc.lock; run "
              "`dvc repro` and commit dvc.lock and metrics/")
        sys.exit(1)
    print(f"lock check: all {len(stages)} stages match dvc.lock")


if __name__ == "__main__":
    main()
