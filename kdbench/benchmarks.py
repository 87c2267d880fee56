"""The two benchmarks the stages serve: classification (params data/teacher/student/...) and
sequence (params.sequence: MCKD's parsing and slot tagging). Stage scripts ask here which
student, epochs and trainset format a benchmark has, so each stage stays one script for both.
"""

from kdbench.io import read_json, read_jsonl, read_labeled
from kdbench.seq_student import fit_and_predict_generative
from kdbench.structured_student import fit_and_predict_structured
from kdbench.student import fit_and_predict


def student_params(params: dict, benchmark: str) -> dict:
    return params["sequence"]["student"] if benchmark == "sequence" else params["student"]


def mckd_params(params: dict, benchmark: str) -> dict:
    return params["sequence"]["mckd"] if benchmark == "sequence" else params["mckd"]


def epochs(params: dict, benchmark: str, method: str) -> int:
    """The few-gold baseline (sft) sees only the labeled pool: it has its own number of passes."""
    if benchmark == "sequence":
        sequence = params["sequence"]
        return sequence["sft_epochs"] if method == "sft" else sequence["student"]["epochs"]
    return params["sft"]["epochs"] if method == "sft" else params["student"]["epochs"]


def read_trainset(benchmark: str, seed_dir: str, path: str) -> list[dict]:
    """Rows {id, text, label} (checked against the label set) or {id, words, target}."""
    if benchmark == "sequence":
        return read_jsonl(f"{seed_dir}/{path}")
    labels = read_json(f"{seed_dir}/prepared/labels.json")["labels"]
    return read_labeled(f"{seed_dir}/{path}", labels)


def fit_and_predict_any(params: dict, benchmark: str, seed_dir: str, train_rows: list[dict],
                        epochs: int, seed: int, predict_on: dict[str, list[dict]]
                        ) -> tuple[dict[str, list[dict]], dict]:
    """Train a fresh student of the benchmark on train_rows; predict each set of predict_on."""
    student = student_params(params, benchmark)
    if benchmark == "sequence":
        tags = read_json(f"{seed_dir}/prepared/task.json")["tags"]
        fit = (fit_and_predict_generative if student["kind"] == "causal_lm"
               else fit_and_predict_structured)
        return fit(params["sequence"]["task"], train_rows, student, epochs, seed, predict_on,
                   tags)
    labels = read_json(f"{seed_dir}/prepared/labels.json")["labels"]
    return fit_and_predict(train_rows, labels, student, epochs, seed, predict_on)
