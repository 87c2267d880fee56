"""The small pipeline on a CUDA machine: every model on the GPU, once with the transformers
teacher and once with the vLLM one (where the vllm extra is installed), each in a scratch copy of
this project; writes a JSON of each run's wall time, the GPU, the versions and the metrics, and
the largest metric difference between the two runs.

    python benchmarks/gpu_check.py --out benchmarks/results/gpu_check.json

ci/small_params.yaml sets the sizes; `--device` (default cuda) goes to every teacher and
student. Without CUDA it stops with one line: nothing here runs on a CPU.
"""

import argparse
import importlib.util
import json
import subprocess
import tempfile
import time
from pathlib import Path

import torch
import yaml

from kdbench.errors import KDBenchError, report_errors
from kdbench.io import write_json
from kdbench.project import ROOT, dvc, merge, scratch_project
from kdbench.runtime import versions

RESULTS = ("classification", "constituency", "classification_label_budget")


def run(overrides: dict) -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        project = scratch_project(Path(scratch) / "project", overrides)
        start = time.time()
        dvc("repro", cwd=project)
        seconds = round(time.time() - start, 1)
        metrics = {name: json.loads((project / f"metrics/{name}.json").read_text())
                   for name in RESULTS}
        infos = {str(p.relative_to(project / "data")): json.loads(p.read_text())
                 for p in sorted((project / "data").rglob("info.json"))}
    devices = sorted({i["device"] for i in infos.values() if "device" in i})
    return {"repro_s": seconds, "devices": devices, "metrics": metrics}


@report_errors
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default=str(ROOT / "ci/small_params.yaml"))
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/gpu_check.json"))
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise KDBenchError("gpu_check: torch sees no CUDA device; run it on a GPU machine")
    small = yaml.safe_load(Path(args.params).read_text(encoding="utf-8"))
    on_gpu = {task: {"teacher": {"device": args.device}, "student": {"device": args.device}}
              for task in ("classification", "constituency")}
    base = merge(small, on_gpu)
    report = {
        "gpu": torch.cuda.get_device_name(0), "cuda": torch.version.cuda,
        "versions": versions(),
        "commit": subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                                 text=True).stdout.strip(),
        "runs": {"transformers": run(base)},
    }
    print(f"transformers: {report['runs']['transformers']['repro_s']} s", flush=True)
    if importlib.util.find_spec("vllm") is None:
        report["runs"]["vllm"] = "not installed (pip install -e '.[vllm]')"
    else:
        report["runs"]["vllm"] = run(merge(base, {"classification": {"teacher": {
            "backend": "vllm", "gpu_memory_utilization": 0.5}}}))
        a = report["runs"]["transformers"]["metrics"]["classification"]
        b = report["runs"]["vllm"]["metrics"]["classification"]
        report["vllm_largest_teacher_metric_difference"] = max(
            abs(a[k] - b[k]) for k in a if k.startswith("teacher_") and isinstance(a[k], float))
        print(f"vllm: {report['runs']['vllm']['repro_s']} s", flush=True)
    write_json(args.out, report)
    print(json.dumps({k: v for k, v in report.items() if k != "runs"}, indent=2))


if __name__ == "__main__":
    main()
