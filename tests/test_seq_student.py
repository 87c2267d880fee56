from types import SimpleNamespace

import numpy as np
import pytest
import torch

from kdbench.errors import KDBenchError
from kdbench.seq_student import (
    encode_examples,
    end_token_id,
    fit,
    load_seq_student,
    prompt_ids,
    prompt_text,
    sequence_losses,
    target_text,
)

ROWS = [
    {"words": ["flights", "to", "boston"], "target": "O O B-city"},
    {"words": ["fares", "from", "denver", "to", "dallas"], "target": "O O B-from O B-to"},
    {"words": ["the", "dog", "barked"], "target": "( ( ( the ) ( dog ) ) ( barked ) )"},
    {"words": ["cheap", "flights"], "target": "B-cost O"},
]


def target_ids(tokenizer, row: dict) -> list[int]:
    return tokenizer(target_text(row["target"]), add_special_tokens=False)["input_ids"]


def greedy(model, tokenizer, words: list[str], limit: int = 30) -> list[int]:
    """Plain argmax decoding of the output tokens, end token excluded."""
    ids = prompt_ids(tokenizer, words)
    out: list[int] = []
    with torch.no_grad():
        for _ in range(limit):
            next_id = int(model(torch.tensor([ids + out])).logits[0, -1].argmax())
            if next_id == end_token_id(tokenizer):
                break
            out.append(next_id)
    return out


def test_prompt_layout_and_end_token(tokenizer):
    assert prompt_text(["The", "dog"]) == "Sentence: The dog\nOutput:"
    (ids, prompt_len), = encode_examples(tokenizer, ROWS[:1], 64)
    prompt = prompt_ids(tokenizer, ROWS[0]["words"])
    # WordPiece has no EOS: its SEP ends outputs, and is not left at the end of the prompt.
    assert end_token_id(tokenizer) == tokenizer.sep_token_id
    assert prompt[-1] != tokenizer.sep_token_id
    assert prompt[0] == tokenizer.cls_token_id  # the tokenizer's own start token is kept
    assert ids == prompt + target_ids(tokenizer, ROWS[0]) + [tokenizer.sep_token_id]
    assert prompt_len == len(prompt)
    with_eos = SimpleNamespace(eos_token_id=7, sep_token_id=3)
    assert end_token_id(with_eos) == 7


def test_loss_is_cross_entropy_over_target_tokens_only(tokenizer, tiny_causal_lm):
    encoded = encode_examples(tokenizer, ROWS, 64)
    ids, prompt_len = encoded[0]
    with torch.no_grad():
        loss, weights = sequence_losses(tiny_causal_lm, tokenizer, encoded)(0, np.array([0]))
        logprobs = torch.log_softmax(tiny_causal_lm(torch.tensor([ids])).logits[0], dim=-1)
    by_hand = -np.mean([logprobs[t - 1, ids[t]].item() for t in range(prompt_len, len(ids))])
    assert loss.item() == pytest.approx(by_hand, abs=1e-5)
    assert weights.tolist() == [1.0]


def test_padding_does_not_change_an_example_loss(tokenizer, tiny_causal_lm):
    encoded = encode_examples(tokenizer, ROWS, 64)
    assert len(encoded[1][0]) > len(encoded[0][0])
    losses = sequence_losses(tiny_causal_lm, tokenizer, encoded)
    with torch.no_grad():
        alone = losses(0, np.array([0]))[0]
        padded = losses(0, np.array([1, 0]))[0]
    assert padded[1].item() == pytest.approx(alone[0].item(), abs=1e-5)


def test_training_memorises_a_toy_set(tiny_teacher_dir, student_params):
    # One full batch a step; measured with this tiny model: 80 steps leave a row wrong, 100-140
    # memorise all four (final loss ~0.003), and without warm-up 100 steps do not.
    student = {**student_params, "model": str(tiny_teacher_dir), "max_length": 64, "lr": 2e-2,
               "warmup_ratio": 0.1}
    model, tokenizer, info = fit(ROWS, student, epochs=120, seed=0)
    assert info["train_examples"] == 4 and info["steps"] == 120
    assert info["final_loss"] < 0.05
    for row in ROWS:
        assert greedy(model, tokenizer, row["words"]) == target_ids(tokenizer, row)


def test_training_lowers_the_loss(tiny_teacher_dir, student_params):
    from kdbench.student import train

    model, tokenizer = load_seq_student(str(tiny_teacher_dir), seed=0)
    encoded = encode_examples(tokenizer, ROWS, 64)
    losses = sequence_losses(model, tokenizer, encoded)
    with torch.no_grad():
        before = losses(0, np.arange(len(ROWS)))[0].mean().item()
    train(model, [len(ids) for ids, _ in encoded], losses, student_params, epochs=3, seed=0)
    with torch.no_grad():
        after = losses(0, np.arange(len(ROWS)))[0].mean().item()
    assert after < before


def test_same_seed_same_weights(tiny_teacher_dir, student_params):
    student = {**student_params, "model": str(tiny_teacher_dir), "max_length": 64,
               "length_bucketing": True}
    a, _, info_a = fit(ROWS * 2, student, epochs=2, seed=3)
    b, _, info_b = fit(ROWS * 2, student, epochs=2, seed=3)
    assert info_a["final_loss"] == info_b["final_loss"]
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(),
                                                 b.state_dict().values(), strict=True))


def test_a_prompt_that_does_not_fit_raises(tokenizer):
    with pytest.raises(KDBenchError, match=r"within student.max_length 8;"):
        encode_examples(tokenizer, [{"words": ["word"] * 20, "target": "O"}], 8)


def test_target_truncation_keeps_the_prompt_whole(tokenizer):
    prompt = prompt_ids(tokenizer, ROWS[2]["words"])
    (ids, prompt_len), = encode_examples(tokenizer, ROWS[2:3], len(prompt) + 3)
    assert prompt_len == len(prompt)
    # Cut from the right: the end token goes too, the student is not taught to stop mid-tree.
    assert ids == prompt + target_ids(tokenizer, ROWS[2])[:3]


def test_a_tokenizer_without_pad_pads_with_the_end_token(tiny_teacher_dir, tokenizer, tmp_path):
    import shutil

    shutil.copytree(tiny_teacher_dir, tmp_path, dirs_exist_ok=True)
    unpadded = tokenizer.__class__.from_pretrained(tiny_teacher_dir)
    unpadded.pad_token = None
    unpadded.save_pretrained(tmp_path)
    _, loaded = load_seq_student(str(tmp_path), seed=0)
    assert loaded.pad_token_id == end_token_id(loaded) == tokenizer.sep_token_id
