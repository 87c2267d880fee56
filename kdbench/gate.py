"""A metric regression gate for CI: `dvc metrics diff` always exits 0 and has no tolerance.

Compares a metrics JSON against a committed baseline under rules from a YAML file:

    rules:
      - metrics: "*_accuracy"   # glob over flat metric names
        higher_is_better: true
        abs: 0.02               # allowed move in the bad direction
        std: 2                  # or k x the baseline's <name>_std, when it has one
      - metrics: "teacher_collapsed"
        higher_is_better: false
        abs: 0

A metric in the baseline that a rule covers but the current run lacks is a failure too.
Exit status: 0 when nothing regressed, 1 otherwise, 2 on bad input.
"""

import argparse
import fnmatch
import sys
from dataclasses import dataclass

import yaml
from tabulate import tabulate

from kdbench.errors import KDBenchError, report_errors
from kdbench.io import read_json


@dataclass
class Check:
    metric: str
    baseline: float
    current: float | None
    allowed: float
    higher_is_better: bool

    @property
    def worse_by(self) -> float | None:
        if self.current is None:
            return None
        delta = self.current - self.baseline
        return -delta if self.higher_is_better else delta

    @property
    def regressed(self) -> bool:
        return self.current is None or self.worse_by > self.allowed + 1e-12


def load_rules(path: str) -> list[dict]:
    try:
        with open(path, encoding="utf-8") as handle:
            rules = (yaml.safe_load(handle) or {}).get("rules")
    except FileNotFoundError:
        raise KDBenchError(f"missing gate rules file {path}") from None
    if not isinstance(rules, list) or not rules:
        raise KDBenchError(f"{path}: expected a non-empty list under 'rules'")
    for index, rule in enumerate(rules):
        unknown = set(rule) - {"metrics", "higher_is_better", "abs", "std"}
        if "metrics" not in rule or unknown:
            raise KDBenchError(f"{path}: rule {index} needs 'metrics' and may have "
                               f"higher_is_better, abs, std; got {sorted(rule)}")
        for key in ("abs", "std"):
            if not isinstance(rule.get(key, 0), int | float) or rule.get(key, 0) < 0:
                raise KDBenchError(f"{path}: rule {index} {key} must be a number >= 0")
    return rules


def compare(current: dict, baseline: dict, rules: list[dict]) -> list[Check]:
    """One check per baseline metric matched by a rule (the first matching rule wins)."""
    checks = []
    for name in sorted(baseline):
        if name.endswith("_std"):
            continue
        rule = next((r for r in rules if fnmatch.fnmatch(name, r["metrics"])), None)
        if rule is None:
            continue
        std = baseline.get(f"{name}_std", 0.0) or 0.0
        allowed = max(rule.get("abs", 0.0), rule.get("std", 0.0) * std)
        value = current.get(name)
        checks.append(Check(name, float(baseline[name]),
                            None if value is None else float(value), allowed,
                            rule.get("higher_is_better", True)))
    return checks


def table(checks: list[Check]) -> str:
    rows = [[c.metric, f"{c.baseline:.4f}", "missing" if c.current is None else f"{c.current:.4f}",
             "" if c.current is None else f"{c.current - c.baseline:+.4f}", f"{c.allowed:.4f}",
             "REGRESSED" if c.regressed else "ok"] for c in checks]
    return tabulate(rows, headers=["metric", "baseline", "current", "change", "allowed", ""],
                    tablefmt="github")


@report_errors
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--current", default="metrics/classification.json")
    parser.add_argument("--baseline", required=True)
    parser.add_argument("--rules", required=True)
    args = parser.parse_args()
    checks = compare(read_json(args.current), read_json(args.baseline), load_rules(args.rules))
    if not checks:
        raise KDBenchError("no baseline metric matched any rule: nothing was checked")
    print(table(checks))
    failed = [c.metric for c in checks if c.regressed]
    print(f"{len(failed)} of {len(checks)} metrics regressed" + (f": {failed}" if failed else ""))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
