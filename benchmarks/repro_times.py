"""Where a `dvc repro` spends its time: runs it (arguments after `--` passed on) and times every
stage it runs from DVC's own output, each stage's wall clock from its "Running stage" line to
the next stage's line (so the stage's Python start, imports and model loading, and DVC's hashing
and lock writing after it, count with it). Stages are grouped by name (the part before `@`).
Writes a JSON of every stage's seconds and a markdown table by group beside it.

    python benchmarks/repro_times.py --out benchmarks/results/repro_cpu.json -- --force

Only stages DVC runs are timed; stages it skips or restores from the run cache count into the
gap before the next one.
"""

import argparse
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

from kdbench.io import write_json, write_text
from kdbench.report import markdown_table

MARKER = re.compile(r"^(?:Running stage|Stage) '([^']+)'")


def timed_repro(args: list[str]) -> tuple[list[tuple[str, float]], float, int]:
    """(stage, seconds) in the order run, the whole command's seconds and its exit code."""
    start = time.time()
    proc = subprocess.Popen([sys.executable, "-m", "dvc", "repro", *args], text=True,
                            stdout=subprocess.PIPE, bufsize=1)
    marks: list[tuple[str, float, bool]] = []
    for line in proc.stdout:
        sys.stdout.write(line)
        match = MARKER.match(line)
        if match:
            marks.append((match.group(1), time.time(), line.startswith("Running stage")))
    code = proc.wait()
    end = time.time()
    ends = [t for _, t, _ in marks[1:]] + [end]
    stages = [(name, round(stop - t, 2)) for (name, t, ran), stop in zip(marks, ends, strict=True)
              if ran]
    return stages, round(end - start, 2), code


def groups(stages: list[tuple[str, float]], total: float) -> list[dict]:
    by_group: dict[str, list[float]] = {}
    for name, seconds in stages:
        by_group.setdefault(name.split("@")[0].split(":")[-1], []).append(seconds)
    rows = [{"group": group, "stages": len(times), "seconds": round(sum(times), 1),
             "mean_s": round(sum(times) / len(times), 1),
             "share": round(sum(times) / total, 3)} for group, times in by_group.items()]
    return sorted(rows, key=lambda r: -r["seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="JSON path; the markdown table goes beside")
    parser.add_argument("repro_args", nargs="*", help="arguments of dvc repro (after --)")
    args = parser.parse_args()
    stages, total, code = timed_repro(args.repro_args)
    rows = groups(stages, total)
    command = " ".join(["dvc", "repro", *args.repro_args])
    machine = f"{platform.machine()}, {os.cpu_count()} cores"
    write_json(args.out, {"command": command, "exit_code": code, "machine": machine,
                          "total_s": total, "stages": dict(stages), "groups": rows})
    whole = markdown_table([{"minutes": round(total / 60, 1), "stages": len(stages),
                             "command": f"`{command}`", "machine": machine}],
                           [("minutes", "minutes"), ("stages", "stages run"),
                            ("command", "command"), ("machine", "machine")])
    table = markdown_table(rows, [("group", "stage"), ("stages", "runs"),
                                  ("seconds", "seconds"), ("mean_s", "s / run"),
                                  ("share", "share of the run")])
    write_text(str(Path(args.out).with_suffix(".md")),
               f"{whole}\n\nBy stage (each from its start to the next stage's):\n\n{table}\n")
    print(f"repro_times: {total / 60:.1f} min, {len(stages)} stages; {args.out}")
    sys.exit(code)


if __name__ == "__main__":
    main()
