"""The small pipeline on a CUDA machine: every model on the GPU with the transformers teacher,
the same on the CPU in fp32 beside it (the two at once, each in a scratch copy of this
project), and with the vLLM teacher where the vllm extra is installed; writes a JSON of each
run's wall time, the devices its stages recorded, the GPU, the versions and the metrics, and the
largest score difference of the GPU run from the CPU one and from the vLLM one.

    python benchmarks/gpu_check.py --out benchmarks/results/gpu_check.json

ci/small_params.yaml sets the sizes (`--params` another file of overrides, e.g. other model
dirs); `--device` (default cuda) goes to every teacher and student. Without CUDA it stops with
one line: nothing here runs on a CPU alone.
"""

import argparse
import importlib.util
import json
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch
import yaml

from kdbench.errors import KDBenchError, report_errors
from kdbench.gate import compare, load_rules
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


def largest_score_difference(a: dict, b: dict) -> float:
    """Over the result files' scores: the metrics gate.yaml's rules check."""
    rules = load_rules(str(ROOT / "gate.yaml"))
    return max(abs(c.current - c.baseline) for name in RESULTS
               for c in compare(b[name], a[name], rules) if c.current is not None)


def commit() -> str:
    result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True)
    return result.stdout.strip() or "unknown (no git here: pass --commit)"


@report_errors
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default=str(ROOT / "ci/small_params.yaml"))
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/gpu_check.json"))
    parser.add_argument("--commit", default=None, help="the commit measured (default: git's)")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise KDBenchError("gpu_check: torch sees no CUDA device; run it on a GPU machine")
    small = yaml.safe_load(Path(args.params).read_text(encoding="utf-8"))

    def on(device: str) -> dict:
        # The CPU reference trains in fp32: bf16 autocast is for CUDA only.
        student = {"device": device, **({"precision": "fp32"} if device == "cpu" else {})}
        return merge(small, {task: {"teacher": {"device": device}, "student": student}
                             for task in ("classification", "constituency")})

    base = on(args.device)
    with ThreadPoolExecutor(2) as pool:
        gpu, cpu = pool.map(run, (base, on("cpu")))
    report = {
        "gpu": torch.cuda.get_device_name(0), "cuda": torch.version.cuda,
        "versions": {**versions(), "torch": torch.__version__},
        "commit": args.commit or commit(), "params": small,
        "runs": {"transformers": gpu, "transformers_cpu": cpu},
        "cpu_largest_score_difference": largest_score_difference(gpu["metrics"],
                                                                 cpu["metrics"]),
    }
    print(f"transformers: {gpu['repro_s']} s on {gpu['devices']}, {cpu['repro_s']} s on "
          f"{cpu['devices']}", flush=True)
    if importlib.util.find_spec("vllm") is None:
        report["runs"]["vllm"] = "not installed (pip install -e '.[vllm]')"
    else:
        report["runs"]["vllm"] = run(merge(base, {"classification": {"teacher": {
            "backend": "vllm", "gpu_memory_utilization": 0.5}}}))
        report["vllm_largest_score_difference"] = largest_score_difference(
            gpu["metrics"], report["runs"]["vllm"]["metrics"])
        print(f"vllm: {report['runs']['vllm']['repro_s']} s", flush=True)
    write_json(args.out, report)
    print(json.dumps({k: v for k, v in report.items() if k != "runs"}, indent=2))


if __name__ == "__main__":
    main()
