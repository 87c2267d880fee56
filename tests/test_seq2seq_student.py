"""The seq2seq student: an encoder-decoder (tiny T5 from a config; the packaged MiniLM
encoder-decoder) trained on sentence -> output strings and decoded under the task's grammar."""

import json

import numpy as np
import pytest
import torch

from kdbench import assets
from kdbench.errors import KDBenchError
from kdbench.seq2seq_student import (
    EncoderDecoderLM,
    Seq2SeqStudent,
    encode_pairs,
    load_seq2seq,
    seq2seq_losses,
    training_memory_bytes,
)
from kdbench.seq_student import prompt_text, target_text
from kdbench.tasks import get_task

ROWS = [
    {"id": "a", "words": ["the", "dog", "barked"], "target": "( ( ( the ) ( dog ) ) ( barked ) )"},
    {"id": "b", "words": ["cats", "sleep"], "target": "( ( cats ) ( sleep ) )"},
    {"id": "c", "words": ["birds", "sing", "loudly"],
     "target": "( ( birds ) ( ( sing ) ( loudly ) ) )"},
]


def test_pairs_are_the_prompt_and_the_target_with_its_end(tokenizer):
    (source, target), = encode_pairs(tokenizer, ROWS[:1], max_length=64)
    assert source == tokenizer(prompt_text(ROWS[0]["words"]))["input_ids"]
    body = tokenizer(target_text(ROWS[0]["target"]), add_special_tokens=False)["input_ids"]
    assert target == body + [tokenizer.sep_token_id]
    # A cut target loses its end token; a prompt that does not fit raises.
    (_, cut), = encode_pairs(tokenizer, ROWS[:1], max_length=len(source) + 1)
    assert cut == body[:len(source) + 1]
    with pytest.raises(KDBenchError, match="raise student.max_length"):
        encode_pairs(tokenizer, ROWS[:1], max_length=len(source) - 1)


def test_loss_is_the_models_own_cross_entropy_and_padding_leaves_it(tiny_seq2seq_dir):
    model, tokenizer, start = load_seq2seq(tiny_seq2seq_dir, seed=0)
    encoded = encode_pairs(tokenizer, ROWS, max_length=64)
    losses = seq2seq_losses(model, tokenizer, start, encoded)
    with torch.no_grad():
        batch = losses(0, np.array([0, 1, 2]))[0]
        for k, (source, target) in enumerate(encoded):
            # T5 shifts its labels right behind the same start token.
            own = model(input_ids=torch.tensor([source]), labels=torch.tensor([target])).loss
            assert batch[k].item() == pytest.approx(own.item(), abs=1e-5)
            assert losses(0, np.array([k]))[0][0].item() == pytest.approx(batch[k].item(),
                                                                         abs=1e-5)


def test_cached_decoding_steps_equal_a_whole_forward(tiny_seq2seq_dir):
    model, tokenizer, start = load_seq2seq(tiny_seq2seq_dir, seed=0)
    (source, target), = encode_pairs(tokenizer, ROWS[:1], max_length=64)
    sequence = [start] + target[:-1]
    with torch.no_grad():
        states = model.get_encoder()(input_ids=torch.tensor([source]))
        lm = EncoderDecoderLM(model, states)
        cache, stepped = None, []
        for token in sequence:
            logits, cache = lm.forward(torch.tensor([[token]]), cache)
            stepped.append(lm.logits(logits[:, -1], target)[0])
        whole = model(input_ids=torch.tensor([source]),
                      decoder_input_ids=torch.tensor([sequence])).logits[0][:, target]
    torch.testing.assert_close(torch.stack(stepped), whole, atol=1e-5, rtol=1e-5)


def fit(rows, params, epochs, seed=0, task="constituency", tags=None):
    return Seq2SeqStudent(params, seed, get_task(task).grammar, tags).fit(rows, epochs)


def test_training_memorises_a_toy_set(tiny_seq2seq_dir, student_params):
    # One full batch a step. The tiny T5 learns more slowly than the tiny causal LM: with fewer
    # steps or a lower rate one tree comes out wrong.
    params = {**student_params, "model": str(tiny_seq2seq_dir), "max_length": 64, "lr": 1e-2,
              "warmup_ratio": 0.1}
    student = fit(ROWS, params, epochs=200)
    assert student.info["steps"] == 200 and student.info["final_loss"] < 0.5
    predictions = student.predict(ROWS)
    assert [p["output"] for p in predictions] == [r["target"] for r in ROWS]
    assert all(0 < p["confidence"] <= 1 for p in predictions)


def test_same_seed_same_predictions(tiny_seq2seq_dir, student_params):
    params = {**student_params, "model": str(tiny_seq2seq_dir), "max_length": 64}
    first = fit(ROWS, params, epochs=2, seed=4).predict(ROWS)
    assert fit(ROWS, params, epochs=2, seed=4).predict(ROWS) == first


def test_a_sample_weighter_and_a_model_without_a_start_token_are_refused(
        tiny_seq2seq_dir, student_params, tmp_path):
    params = {**student_params, "model": str(tiny_seq2seq_dir), "max_length": 64}
    with pytest.raises(KDBenchError, match="no sample weighter"):
        fit(ROWS, params, 1).fit(ROWS, 1, weighter=lambda step, rows, logits: None)
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json", "model.safetensors",
                 "generation_config.json"):
        if (tiny_seq2seq_dir / name).is_file():
            (tmp_path / name).write_bytes((tiny_seq2seq_dir / name).read_bytes())
    config = json.loads((tmp_path / "config.json").read_text())
    config["decoder_start_token_id"] = None
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(KDBenchError, match="decoder_start_token_id"):
        load_seq2seq(tmp_path, seed=0)


def test_memory_estimate_counts_both_stacks_and_the_logits(tiny_seq2seq_dir):
    small = training_memory_bytes(tiny_seq2seq_dir, batch_size=1, max_length=16)
    assert training_memory_bytes(tiny_seq2seq_dir, batch_size=4, max_length=16) > small
    # The logits alone: 3 copies of batch x length x vocabulary floats.
    vocab = json.loads((tiny_seq2seq_dir / "config.json").read_text())["vocab_size"]
    assert small > 3 * 16 * vocab * 4


def test_the_packaged_minilm_encoder_decoder_is_built_once_and_the_same(tmp_path, monkeypatch,
                                                                        student_params):
    from transformers import AutoModelForSeq2SeqLM

    monkeypatch.setenv("KDBENCH_CACHE", str(tmp_path / "a"))
    first = assets.resolve_model("all-minilm-l6-v2-seq2seq").directory
    config = json.loads((first / "config.json").read_text())
    assert config["model_type"] == "encoder-decoder" and config["decoder"]["is_decoder"]
    assert config["decoder"]["add_cross_attention"]
    built = first.stat().st_mtime_ns
    assert assets.resolve_model("all-minilm-l6-v2-seq2seq").directory.stat().st_mtime_ns == built
    monkeypatch.setenv("KDBENCH_CACHE", str(tmp_path / "b"))
    second = assets.resolve_model("all-minilm-l6-v2-seq2seq").directory
    a = AutoModelForSeq2SeqLM.from_pretrained(first).state_dict()
    b = AutoModelForSeq2SeqLM.from_pretrained(second).state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    # It trains and decodes as a student of the pipeline.
    params = {**student_params, "model": "all-minilm-l6-v2-seq2seq", "max_length": 64,
              "batch_size": 3}
    predictions = fit(ROWS, params, epochs=1).predict(ROWS[:1])
    assert get_task("constituency").readable(predictions[0]["output"], ROWS[0]["words"], [])
