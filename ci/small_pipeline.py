"""Run the small pipeline CI can afford and check it with the regression gate.

This repository's dvc.yaml with the real models on tiny sizes (ci/small_params.yaml overrides
params.yaml) runs with `dvc repro` in a scratch copy; its metrics are compared with the committed
baseline ci/baseline.json under gate.yaml. Exit 1 when a metric regressed.

    python ci/small_pipeline.py                      # run + gate
    python ci/small_pipeline.py --write-baseline     # run, then make this run the baseline
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from kdbench.errors import report_errors
from kdbench.project import ROOT, dvc, scratch_project


@report_errors
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default=str(ROOT / "ci/small_params.yaml"))
    parser.add_argument("--baseline", default=str(ROOT / "ci/baseline.json"))
    parser.add_argument("--rules", default=str(ROOT / "gate.yaml"))
    parser.add_argument("--out", default=str(ROOT / "ci/last_run"),
                        help="where the run's metrics are copied")
    parser.add_argument("--write-baseline", action="store_true")
    args = parser.parse_args()
    overrides = yaml.safe_load(Path(args.params).read_text(encoding="utf-8"))
    start = time.time()
    with tempfile.TemporaryDirectory() as scratch:
        project = scratch_project(Path(scratch) / "project", overrides)
        dvc("repro", cwd=project)
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        for name in ("classification.json", "classification.md"):
            shutil.copy(project / "metrics" / name, out / name)
    print(f"small pipeline: dvc repro in {time.time() - start:.0f} s")
    print((out / "classification.md").read_text(encoding="utf-8"))
    if args.write_baseline:
        shutil.copy(out / "classification.json", args.baseline)
        print(f"wrote {args.baseline}")
        return
    gate = subprocess.run([sys.executable, "-m", "kdbench.gate", "--current",
                           str(out / "classification.json"), "--baseline", args.baseline,
                           "--rules", args.rules])
    sys.exit(gate.returncode)


if __name__ == "__main__":
    main()
