"""Shared fixtures: tiny models built from configs (fast, offline), saved like real ones."""

import os
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)

CRAFT_TREES = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "craft" / "trees"


@pytest.fixture
def craft_trees() -> Path:
    """The shared CRAFT treebank (given to developers and CI, never copied into the project)."""
    if not CRAFT_TREES.is_dir():
        pytest.skip(f"CRAFT trees not found at {CRAFT_TREES}")
    return CRAFT_TREES


@pytest.fixture(scope="session")
def tokenizer():
    """The packaged MiniLM WordPiece tokenizer: real, offline, and splits long words."""
    from transformers import AutoTokenizer

    from kdbench.assets import resolve_model

    return AutoTokenizer.from_pretrained(resolve_model("all-minilm-l6-v2").directory)


@pytest.fixture(scope="session")
def tiny_causal_lm(tokenizer):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=2048)
    return LlamaForCausalLM(config).eval()


@pytest.fixture(scope="session")
def tiny_sliding_lm(tokenizer):
    """Gemma 3 layout with a sliding window shorter than the few-shot prefix."""
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    torch.manual_seed(0)
    config = Gemma3TextConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, intermediate_size=64,
                              num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                              head_dim=16, sliding_window=8,
                              layer_types=["sliding_attention", "full_attention"])
    return Gemma3ForCausalLM(config).eval()


@pytest.fixture(scope="session")
def tiny_teacher_dir(tmp_path_factory, tiny_causal_lm, tokenizer):
    path = tmp_path_factory.mktemp("tiny_teacher")
    tiny_causal_lm.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_student_dir(tmp_path_factory, tokenizer):
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=256)
    path = tmp_path_factory.mktemp("tiny_student")
    BertModel(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_seq2seq_dir(tmp_path_factory, tokenizer):
    """A T5 layout encoder-decoder with MiniLM's WordPiece vocabulary (pad 0 starts decoding,
    as in T5; [SEP] ends outputs)."""
    from transformers import T5Config, T5ForConditionalGeneration

    torch.manual_seed(0)
    config = T5Config(vocab_size=tokenizer.vocab_size, d_model=32, d_kv=16, d_ff=64,
                      num_layers=2, num_heads=2, pad_token_id=tokenizer.pad_token_id,
                      decoder_start_token_id=tokenizer.pad_token_id,
                      eos_token_id=tokenizer.sep_token_id)
    path = tmp_path_factory.mktemp("tiny_seq2seq")
    T5ForConditionalGeneration(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture
def student_params(tiny_student_dir):
    return {"model": str(tiny_student_dir), "max_length": 32, "batch_size": 4,
            "eval_batch_size": 8, "epochs": 1, "lr": 1e-3, "weight_decay": 0.0,
            "warmup_ratio": 0.0, "length_bucketing": False, "device": "cpu", "precision": "fp32"}
