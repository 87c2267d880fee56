import random
import string
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from kdbench import seq_student
from kdbench.errors import KDBenchError
from kdbench.generation import generate
from kdbench.seq_student import (
    CausalLMStudent,
    encode_examples,
    end_token_id,
    load_seq_student,
    predict,
    prompt_ids,
    prompt_text,
    sequence_losses,
    target_text,
)
from kdbench.student import Classifier
from kdbench.tasks import get_task
from kdbench.trees import right_branching


def fit(rows, params, epochs, seed):
    """A trained causal LM student's model, tokenizer and info (the grammar matters only for
    predictions)."""
    student = CausalLMStudent(params, seed, get_task("constituency").grammar).fit(rows, epochs)
    return student.model, student.tokenizer, student.info


def fit_and_predict_generative(task, rows, params, epochs, seed, predict_on, tags=None):
    student = CausalLMStudent(params, seed, get_task(task).grammar, tags).fit(rows, epochs)
    return {name: student.predict(r) for name, r in predict_on.items()}, student.info

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

    model, tokenizer = load_seq_student(tiny_teacher_dir, seed=0)
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
    _, loaded = load_seq_student(tmp_path, seed=0)
    assert loaded.pad_token_id == end_token_id(loaded) == tokenizer.sep_token_id


# --- fit_and_predict_generative ----------------------------------------------------------------

TREE_ROWS = [{"id": f"t{i}", **row} for i, row in enumerate(ROWS) if row["target"].startswith("(")]
TAGS = ["O", "B-city", "B-from", "B-to", "B-cost", "I-city"]
TAG_ROWS = [{"id": f"s{i}", **row} for i, row in enumerate(ROWS)
            if not row["target"].startswith("(")]
TO_PREDICT = {
    "test": [{"id": "b", "words": ["cheap", "fares", "to", "boston"]},
             {"id": "a", "words": ["the", "dog"]},
             {"id": "c", "words": ["flights", "(", "from", ")", "denver", "to", "dallas"]}],
    "unlabeled": [{"id": "z", "words": ["barked"]}, {"id": "y", "words": ["the", "cheap", "dog"]}],
}


def bos_tokenizer(words: list[str]):
    """A Llama-style tokenizer: SentencePiece-like BPE with byte fallback, a BOS before every
    text and no EOS after it; one token per `words` entry with its leading space."""
    from transformers import LlamaTokenizer

    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    vocab.update({f"<0x{b:02X}>": 3 + b for b in range(256)})
    for char in "▁" + string.ascii_letters + string.digits + "()-:_.":
        vocab[char] = len(vocab)
    merges = []
    for word in ["(", ")", *words]:
        piece = "▁"
        for char in word:
            merges.append((piece, char))
            piece += char
            vocab.setdefault(piece, len(vocab))
    return LlamaTokenizer(vocab=vocab, merges=merges, add_bos_token=True)


class RecordingLM:
    """The model as generate calls it, recording the ids of each prompt's first forward call
    (generate runs one prompt at a time unless given a batch size)."""

    def __init__(self, model):
        self.model, self.config = model, model.config
        self.prompts: list[list[int]] = []

    def base_model(self, input_ids, cache=None, **kwargs):
        if cache is None:
            self.prompts.append(input_ids[0].tolist())
        return self.model.base_model(input_ids=input_ids, cache=cache,
                                     **kwargs)

    def get_output_embeddings(self):
        return self.model.get_output_embeddings()

    def parameters(self):
        return self.model.parameters()


@pytest.mark.parametrize("kind", ["wordpiece", "bos"])
def test_decoding_feeds_the_trained_prompt_and_stops_on_the_end_token(kind, tokenizer,
                                                                      tiny_causal_lm,
                                                                      monkeypatch):
    tok = tokenizer if kind == "wordpiece" else bos_tokenizer(["the", "dog"])
    rows = TREE_ROWS + TO_PREDICT["test"]
    calls = []

    def recording_generate(*args, **kwargs):
        generations = generate(*args, **kwargs)
        calls.append((args, kwargs, generations))
        return generations

    monkeypatch.setattr(seq_student, "generate", recording_generate)
    model = RecordingLM(tiny_causal_lm)
    predict(model, tok, rows, [get_task("constituency").grammar(r["words"], [], unary=False)
                               for r in rows])
    (args, kwargs, generations), = calls
    # Each prompt's first call feeds its trained prompt, then any output tokens the grammar
    # forces before the first choice; prompts may be decoded in another order than given. An
    # output the grammar forces whole needs no call.
    expected = [prompt_ids(tok, r["words"]) for r in rows]
    fed = []
    for ids in model.prompts:
        fed += [i for i, p in enumerate(expected) if ids[:len(p)] == p
                and ids[len(p):] == generations[i].token_ids[:len(ids) - len(p)]]
    assert sorted(fed) == [i for i, g in enumerate(generations) if g.choice_logprobs]
    assert len(fed) > len(rows) // 2
    # The end generate scores is the token the student was trained to emit after an output.
    assert args[1](kwargs["end"], add_special_tokens=False)["input_ids"] == [end_token_id(tok)]
    # The output tokens chosen are those the student is trained on for the same output.
    for g in generations:
        assert g.token_ids == target_ids(tok, {"target": g.text})


def test_predictions_read_back_in_input_order(tiny_teacher_dir, student_params):
    student = {**student_params, "model": str(tiny_teacher_dir), "max_length": 64}
    for task, train_rows, tags in (("constituency", TREE_ROWS, None),
                                   ("slot_tagging", TAG_ROWS, TAGS)):
        predictions, _ = fit_and_predict_generative(task, train_rows, student, 2, 0, TO_PREDICT,
                                                    tags)
        assert list(predictions) == list(TO_PREDICT)
        for name, rows in TO_PREDICT.items():
            assert [p["id"] for p in predictions[name]] == [r["id"] for r in rows]
            for row, out in zip(rows, predictions[name], strict=True):
                assert get_task(task).readable(out["output"], row["words"], tags or [])
                assert 0 < out["confidence"] <= 1


def test_same_inputs_and_seed_same_predictions(tiny_teacher_dir, student_params):
    student = {**student_params, "model": str(tiny_teacher_dir), "max_length": 64}
    runs = [fit_and_predict_generative("slot_tagging", TAG_ROWS * 2, student, 2, 5, TO_PREDICT,
                                       TAGS) for _ in range(2)]
    (first, info_a), (second, info_b) = runs
    assert first == second
    assert info_a["final_loss"] == info_b["final_loss"]


def test_info_has_the_shared_student_keys(tiny_teacher_dir, student_params):
    reference = Classifier(student_params, 0, ["neg", "pos"]).fit(
        [{"id": "r", "text": "good", "label": "pos"}], 1).info
    student = {**student_params, "model": str(tiny_teacher_dir), "max_length": 64}
    _, info = fit_and_predict_generative("constituency", TREE_ROWS, student, 1, 0, TO_PREDICT)
    assert set(info) == set(reference)
    assert info["train_examples"] == 1 and info["steps"] == 1 and info["examples_seen"] == 1


def test_bad_task_or_tags_fail_before_training(student_params):
    # A model that does not exist: the error must come before anything loads.
    student = {**student_params, "model": "/nonexistent"}
    with pytest.raises(KDBenchError, match=r"constituency.*slot_tagging"):
        fit_and_predict_generative("parsing", TREE_ROWS, student, 1, 0, TO_PREDICT)
    with pytest.raises(KDBenchError, match=r"tags must be BIO tags"):
        fit_and_predict_generative("slot_tagging", TAG_ROWS, student, 1, 0, TO_PREDICT)


def test_the_student_learns_right_branching_trees(tmp_path, student_params):
    """Trained on right-branching trees, it parses new sentences right-branching.

    The grammar leaves two kinds of choice: after `( (` a word or another bracket, and after
    `) (` (2+ words left) a bracket or a word. Each sentence ends with "." so that the forced
    last leaf is always `( . )`; then both choices depend on the last two tokens only, which a
    tiny model learns in seconds, whereas telling whether one word is left means counting words.
    Measured over 20 model inits x 4 training seeds: all 20 new sentences right-branching in every
    run (about 3 s a run), 0 of 20 untrained; without the ".", 2 of 32 runs got 1 and 5 wrong.
    """
    from transformers import LlamaConfig, LlamaForCausalLM

    words = ["cat", "dog", "red"]
    tok = bos_tokenizer([*words, "."])
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=256)
    LlamaForCausalLM(config).save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    rng = random.Random(0)

    def sentence(least: int) -> list[str]:
        return [rng.choice(words) for _ in range(rng.randint(least, 7))] + ["."]

    train_rows = [{"id": f"r{i}", "words": w, "target": right_branching(w)}
                  for i, w in enumerate(sentence(2) for _ in range(64))]
    seen = {tuple(r["words"]) for r in train_rows}
    new = [w for w in (sentence(4) for _ in range(100)) if tuple(w) not in seen][:20]
    assert len(new) == 20
    to_predict = {"new": [{"id": f"n{i}", "words": w} for i, w in enumerate(new)]}
    student = {**student_params, "model": str(tmp_path), "max_length": 64, "batch_size": 8,
               "lr": 1e-2, "warmup_ratio": 0.1}

    def right_branching_outputs(epochs: int) -> int:
        predictions, _ = fit_and_predict_generative("constituency", train_rows, student, epochs,
                                                    0, to_predict)
        return sum(p["output"] == right_branching(w)
                   for p, w in zip(predictions["new"], new, strict=True))

    assert right_branching_outputs(0) <= 2  # the grammar alone does not give them
    assert right_branching_outputs(30) == 20
