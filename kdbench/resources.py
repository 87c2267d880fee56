"""Memory pre-checks: a stage that cannot fit says so, with numbers, before it starts.

Estimates are deliberately rough (weights from the files on disk, the usual multiples for
training state and activations); they exist to turn a kernel OOM kill into a clear message.
"""

import json
from pathlib import Path

from kdbench.errors import KDBenchError

GIB = 1024**3


def available_bytes() -> int | None:
    """MemAvailable from /proc/meminfo; None where the system does not say."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def weights_bytes(directory: Path, gguf_file: str | None = None) -> int:
    """Bytes of fp32 weights, from the checkpoint files (a quantised GGUF counted at fp32)."""
    if gguf_file is not None:
        # Q4 GGUF holds about 4.5 bits a weight; dequantised to fp32 that is ~7x the file.
        return (directory / gguf_file).stat().st_size * 7
    files = list(directory.glob("*.safetensors")) or list(directory.glob("*.bin"))
    total = sum(f.stat().st_size for f in files)
    config_path = directory / "config.json"
    config = json.loads(config_path.read_text()) if config_path.is_file() else {}
    if (config.get("dtype") or config.get("torch_dtype")) in ("bfloat16", "float16"):
        total *= 2  # 16-bit checkpoints are trained and scored in fp32 here
    return total


def training_bytes(weights: int, batch_size: int, max_length: int, hidden: int,
                   layers: int, heads: int) -> int:
    """Weights, gradients and two AdamW moments, plus activations kept for backward."""
    per_layer = batch_size * max_length * (hidden * 16 + heads * max_length * 3) * 4
    return 4 * weights + layers * per_layer


def require(needed: int, what: str, hint: str, available: int | None = None) -> None:
    """Stop with one line if `needed` bytes exceed what the machine has available."""
    available = available_bytes() if available is None else available
    if available is not None and needed > available:
        raise KDBenchError(f"{what} needs about {needed / GIB:.1f} GiB of memory but "
                           f"{available / GIB:.1f} GiB is available; {hint}")


def student_training_bytes(directory: Path, batch_size: int, max_length: int) -> int:
    config = json.loads((directory / "config.json").read_text())
    return training_bytes(weights_bytes(directory), batch_size, max_length,
                          config.get("hidden_size", 768), config.get("num_hidden_layers", 12),
                          config.get("num_attention_heads", 12))
