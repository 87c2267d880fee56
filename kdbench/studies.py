"""Settings of the studies beside the benchmark (studies/params.yaml, read by studies/dvc.yaml's
stages), validated with the pipeline's schema checks."""

from pathlib import Path

import yaml

from kdbench.errors import KDBenchError
from kdbench.params import _validate


def read_section(path: str | Path, section: str, schema: dict) -> dict:
    """One study's section of its params file, checked against schema: a one-line error names a
    missing file, a missing section or a wrong key."""
    path = Path(path)
    if not path.is_file():
        raise KDBenchError(f"missing study params file {path}")
    study = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get(section)
    _validate(study, schema, f"{section}.")
    return study
