"""Run the small pipeline CI can afford and check it with the regression gate.

This repository's dvc.yaml with the real models on tiny sizes (ci/small_params.yaml overrides
params.yaml) runs with `dvc repro` in a scratch copy; each results file metrics/<name>.json is
compared with its committed baseline ci/baselines/<name>.json under gate.yaml. Exit 1 when a
metric regressed.

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

from kdbench.errors import KDBenchError, report_errors
from kdbench.project import ROOT, dvc, scratch_project

BASELINES = sorted(p.stem for p in (ROOT / "ci/baselines").glob("*.json"))


@report_errors
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default=str(ROOT / "ci/small_params.yaml"))
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
        for name in BASELINES:
            for suffix in (".json", ".md"):
                written = project / "metrics" / f"{name}{suffix}"
                if not written.is_file():
                    raise KDBenchError(f"the small pipeline wrote no metrics/{name}{suffix}, "
                                       f"which ci/baselines/{name}.json expects")
                shutil.copy(written, out)
    print(f"small pipeline: dvc repro in {time.time() - start:.0f} s")
    failed = False
    for name in BASELINES:
        print((out / f"{name}.md").read_text(encoding="utf-8"))
        baseline = ROOT / "ci/baselines" / f"{name}.json"
        if args.write_baseline:
            shutil.copy(out / f"{name}.json", baseline)
            print(f"wrote {baseline}")
            continue
        gate = subprocess.run([sys.executable, "-m", "kdbench.gate", "--current",
                               str(out / f"{name}.json"), "--baseline", str(baseline),
                               "--rules", args.rules])
        failed |= gate.returncode != 0
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
