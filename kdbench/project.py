"""A scratch copy of this project with other params, run with the real `dvc repro`: what the
small CI pipeline and the end-to-end tests do, so that both exercise the same dvc.yaml."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from kdbench.errors import KDBenchError

ROOT = Path(__file__).resolve().parents[1]
PROJECT_FILES = ("dvc.yaml", "stages", "kdbench")


def merge(base: dict, overrides: dict) -> dict:
    """base with overrides applied key by key (nested mappings merged, anything else replaced)."""
    out = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            out[key] = merge(base[key], value)
        else:
            out[key] = value
    return out


def scratch_project(dest: Path, overrides: dict) -> Path:
    """Copy the pipeline to dest with params.yaml + overrides, as a fresh git and DVC repo."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, dest / name)
    params = merge(yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8")), overrides)
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    run(["git", "init", "-q"], dest)
    dvc("init", "-q", cwd=dest)
    return dest


def environment(cwd: Path) -> dict:
    # Stages run `python`: make it this interpreter, importing the copy's kdbench first
    # (and still what PYTHONPATH adds, such as packages installed beside the interpreter's).
    path = os.pathsep.join(p for p in (str(cwd), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "DVC_NO_ANALYTICS": "1", "PYTHONPATH": path,
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def run(cmd: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, cwd=cwd, env=environment(cwd), capture_output=True, text=True)
    if check and result.returncode != 0:
        sys.stderr.write(result.stdout[-4000:] + result.stderr[-4000:])  # the stage's own story
        raise KDBenchError(f"{' '.join(cmd)} failed in {cwd}: "
                           + (result.stderr.strip().splitlines() or ["(no output)"])[-1])
    return result


def dvc(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "dvc", *args], cwd, check)
