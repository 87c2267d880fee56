import copy
import random

import pytest
import torch

from kdbench.bio import read_tags
from kdbench.errors import KDBenchError
from kdbench.generation import _Cursor, _Decoder, generate, output_ids
from kdbench.grammars import BracketGrammar, TagGrammar
from kdbench.trees import escape_word, read_unlabeled

# Brackets inside words, a word of many WordPiece tokens, a hair space (not a word separator).
VOCAB = ["the", "dog", "barked", "p53", ",", "(", ")", "f(x)", "-LRB-", "interleukin-2",
         "antidisestablishmentarianism", "Xpd\u200aTTD"]
TAGS = ["O", "B-city", "I-city", "B-time", "I-time", "B-time_relative"]
PREFIX = ("Sentence: the dog barked\nTree: ( ( the ) ( dog ) ( barked ) )\n\n"
          "Sentence: the dog barked\nTags: O B-city I-city\n\n")


def tree_prompt(words):
    return f"Sentence: {' '.join(words)}\nTree:"


def tag_prompt(words):
    return f"Sentence: {' '.join(words)}\nTags:"


def random_sentences(count, seed):
    rng = random.Random(seed)
    return [[rng.choice(VOCAB) for _ in range(rng.randint(1, 8))] for _ in range(count)]


def token(tokenizer, text):
    (token_id,) = tokenizer(text, add_special_tokens=False)["input_ids"]
    return token_id


def biased(model, bias):
    """A copy of `model` whose output layer adds a fixed bias per token, so its greedy choice is
    known (decoding computes that layer's rows for the allowed tokens only)."""
    model = copy.deepcopy(model)
    head = model.get_output_embeddings()
    head.bias = torch.nn.Parameter(torch.zeros(model.config.vocab_size), requires_grad=False)
    for token_id, value in bias.items():
        head.bias.data[token_id] = value
    return model


def assert_valid_bio(tags):
    for previous, tag in zip(["O", *tags], tags, strict=False):
        if tag.startswith("I-"):
            assert previous in ("B-" + tag[2:], tag), tags


def max_nesting(text):
    depth = deepest = 0
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        deepest = max(deepest, depth)
    return deepest


def all_outputs(grammar):
    """Every text the grammar allows, by depth-first search over its units."""
    texts, stack = [], [(grammar.initial(), "")]
    while stack:
        state, text = stack.pop()
        units = grammar.allowed(state)
        if not units:
            texts.append(text[1:])
        for unit in units:
            stack.append((grammar.advance(state, unit), text + unit))
    return texts


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6])
def test_the_bracket_grammar_gives_each_tree_over_the_words_once(n):
    words = list("abcdef"[:n])
    texts = all_outputs(BracketGrammar(words, unary=False))
    readings = [read_unlabeled(text, n) for text in texts]
    assert all(r is not None and r.words == words for r in readings)
    # The little Schroeder numbers: trees over n leaves whose inner nodes have 2+ children.
    schroeder = [1, 1, 3, 11, 45, 197][n - 1]
    assert len(texts) == len({frozenset(r.spans) for r in readings}) == schroeder
    assert all(text.count("(") <= 2 * n - 1 for text in texts)  # at most n - 1 inner nodes


def test_unary_nodes_stay_within_max_depth():
    texts = all_outputs(BracketGrammar(["a", "b", "c", "d"]))
    readings = [read_unlabeled(text, 4) for text in texts]
    assert all(r is not None and r.words == ["a", "b", "c", "d"] for r in readings)
    assert len({frozenset(r.spans) for r in readings}) == 11
    assert "( ( ( ( ( a ) ) ) ) ( b ) ( c ) ( d ) )" in texts
    assert max(max_nesting(text) for text in texts) == 5  # the default: words + 1
    assert max(max_nesting(t) for t in all_outputs(BracketGrammar("abc", max_depth=3))) == 3


def test_random_model_trees_are_well_formed(tiny_causal_lm, tokenizer):
    sentences = random_sentences(40, seed=1) + [["p53"], ["("]]
    assert any(len(tokenizer(" " + w, add_special_tokens=False)["input_ids"]) > 1
               for s in sentences for w in s)
    # Half the sentences allow unary nodes.
    out = generate(tiny_causal_lm, tokenizer, PREFIX, [tree_prompt(s) for s in sentences],
                   [BracketGrammar(s, unary=i % 2 == 0) for i, s in enumerate(sentences)])
    for words, gen in zip(sentences, out, strict=True):
        reading = read_unlabeled(gen.text, len(words))
        assert reading is not None and reading.words == [escape_word(w) for w in words], gen.text
        assert gen.text.startswith("( ") and gen.text.count("(") == gen.text.count(")")
        assert output_ids(tokenizer, gen.text) == gen.token_ids
        # Unit by unit, the ids are those of the whole string.
        assert tokenizer(" " + gen.text, add_special_tokens=False)["input_ids"] == gen.token_ids
        # The words' own tokens are forced; a two-word tree without unary nodes is forced whole.
        assert len(gen.choice_logprobs) < gen.n_tokens
        assert all(lp <= 0 for lp in gen.choice_logprobs)
        assert gen.mean_logprob == pytest.approx(
            gen.logprob / len(gen.choice_logprobs) if gen.choice_logprobs else 0.0)
    assert sum(len(gen.choice_logprobs) for gen in out) > len(out)


def test_random_model_tags_are_one_valid_tag_per_word(tiny_causal_lm, tokenizer):
    sentences = random_sentences(20, seed=2)
    out = generate(tiny_causal_lm, tokenizer, PREFIX, [tag_prompt(s) for s in sentences],
                   [TagGrammar(len(s), TAGS) for s in sentences])
    for words, gen in zip(sentences, out, strict=True):
        tags = read_tags(gen.text, len(words))
        assert tags is not None and set(tags) <= set(TAGS), gen.text
        assert_valid_bio(tags)
        assert output_ids(tokenizer, gen.text) == gen.token_ids


@pytest.mark.parametrize("model_fixture", ["tiny_causal_lm", "tiny_sliding_lm"])
def test_prefix_cache_gives_the_same_as_the_whole_prompt(request, model_fixture, tokenizer):
    model = request.getfixturevalue(model_fixture)
    assert len(tokenizer(PREFIX)["input_ids"]) > 8  # longer than the sliding window
    sentences = random_sentences(6, seed=3)
    prompts = [tree_prompt(s) for s in sentences] + [tag_prompt(s) for s in sentences]
    grammars = [BracketGrammar(s) for s in sentences] + [TagGrammar(len(s), TAGS)
                                                         for s in sentences]
    cached = generate(model, tokenizer, PREFIX, prompts, grammars)
    whole = generate(model, tokenizer, PREFIX, prompts, grammars, reuse_prefix=False)
    for a, b in zip(cached, whole, strict=True):
        assert a.text == b.text and a.token_ids == b.token_ids
        assert a.choice_logprobs == pytest.approx(b.choice_logprobs, abs=1e-4)


@pytest.mark.parametrize("model_fixture", ["tiny_causal_lm", "tiny_sliding_lm"])
@pytest.mark.parametrize("reuse_prefix", [True, False])
def test_batches_give_the_same_as_one_prompt_at_a_time(request, model_fixture, tokenizer,
                                                       reuse_prefix):
    model = request.getfixturevalue(model_fixture)
    sentences = random_sentences(6, seed=5)
    prompts = [tree_prompt(s) for s in sentences] + [tag_prompt(s) for s in sentences[:5]]
    grammars = [BracketGrammar(s) for s in sentences] + [TagGrammar(len(s), TAGS)
                                                         for s in sentences[:5]]
    lengths = [len(tokenizer(p, add_special_tokens=False)["input_ids"]) for p in prompts]
    assert lengths != sorted(lengths)  # batches are drawn in another order than the input's
    alone = generate(model, tokenizer, PREFIX, prompts, grammars, reuse_prefix=reuse_prefix)
    # 11 prompts: batches of 3 leave a last one of 2; 16 puts them all in one.
    for batch_size in (3, 16):
        batched = generate(model, tokenizer, PREFIX, prompts, grammars,
                           reuse_prefix=reuse_prefix, batch_size=batch_size)
        for a, b in zip(alone, batched, strict=True):
            assert a.text == b.text and a.token_ids == b.token_ids
            assert a.choice_logprobs == pytest.approx(b.choice_logprobs, abs=1e-4)
        # In input order: each output is over its own prompt's words.
        for words, gen in zip(sentences, batched, strict=False):
            assert read_unlabeled(gen.text, len(words)).words == [escape_word(w) for w in words]
        for words, gen in zip(sentences, batched[len(sentences):], strict=False):
            assert read_tags(gen.text, len(words)) is not None


def replayed_choices(model, tokenizer, base, grammar, gen, end):
    """The choices of `gen` replayed on a teacher-forced full pass: at each point where the
    grammar allows several tokens, the chosen one must have the highest logit among them, and
    its log-probability is the softmax over theirs."""
    decoder = _Decoder(model, tokenizer, end)
    with torch.no_grad():
        logits = model(torch.tensor([base + gen.token_ids])).logits[0].double()
    state = grammar.initial()
    cursor, fed, want = _Cursor(state, decoder.candidates(grammar, state), 0), 0, []
    while cursor is not None:
        options = decoder.options(grammar, cursor)
        unscored = [o for o in options if o.token is None]  # an end nothing scores wins
        if len(options) == 1 or unscored:
            choice = (unscored or options)[0]
        else:
            after = logits[len(base) + fed - 1]
            scores = torch.stack([after[o.token] for o in options])
            chosen = [o for o in options if o.fed and fed < gen.n_tokens
                      and o.token == gen.token_ids[fed]] or [o for o in options if not o.fed]
            (choice,) = chosen
            assert scores.max() == after[choice.token]
            want.append(torch.log_softmax(scores, dim=0)[options.index(choice)].item())
        fed += choice.fed
        cursor = choice.cursor
    assert fed == gen.n_tokens
    return want


@pytest.mark.parametrize("model_fixture", ["tiny_causal_lm", "tiny_sliding_lm"])
@pytest.mark.parametrize("batch_size", [1, 4])
def test_choices_and_logprobs_equal_a_teacher_forced_pass(request, model_fixture, tokenizer,
                                                          batch_size):
    model = request.getfixturevalue(model_fixture)
    sentences = random_sentences(3, seed=4)
    prompts = [tree_prompt(s) for s in sentences] + [tag_prompt(s) for s in sentences]
    grammars = [BracketGrammar(s) for s in sentences] + [TagGrammar(len(s), TAGS)
                                                         for s in sentences]
    out = generate(model, tokenizer, PREFIX, prompts, grammars, batch_size=batch_size)
    prefix_ids = tokenizer(PREFIX)["input_ids"]
    for prompt, grammar, gen in zip(prompts, grammars, out, strict=True):
        base = prefix_ids + tokenizer(prompt, add_special_tokens=False)["input_ids"]
        want = replayed_choices(model, tokenizer, base, grammar, gen, "\n")
        assert gen.choice_logprobs == pytest.approx(want, abs=1e-4)


def test_an_output_layer_bias_counts_as_the_model_computes_it(tiny_causal_lm, tokenizer):
    model = biased(tiny_causal_lm, {token(tokenizer, "b"): 3.0, token(tokenizer, "i"): -3.0})
    words = "a b c d".split()
    base = tokenizer(PREFIX)["input_ids"] + tokenizer(tag_prompt(words),
                                                      add_special_tokens=False)["input_ids"]
    grammar = TagGrammar(len(words), TAGS)
    (gen,) = generate(model, tokenizer, PREFIX, [tag_prompt(words)], [grammar])
    assert gen.choice_logprobs == pytest.approx(
        replayed_choices(model, tokenizer, base, grammar, gen, "\n"), abs=1e-4)


def test_greedy_choice_prefers_closing_a_flat_tree(tiny_causal_lm, tokenizer):
    # [SEP] is never allowed: it takes the probability mass but not the choice.
    model = biased(tiny_causal_lm, {token(tokenizer, ")"): 20.0, token(tokenizer, "("): -20.0,
                                    token(tokenizer, "[SEP]"): 40.0})
    (gen,) = generate(model, tokenizer, PREFIX, [tree_prompt("a b c".split())],
                      [BracketGrammar(["a", "b", "c"])])
    assert gen.text == "( ( a ) ( b ) ( c ) )"
    # Among the allowed tokens the choices are near certain, whatever mass [SEP] takes.
    assert gen.choice_logprobs and min(gen.choice_logprobs) > -1e-3


def test_greedy_choice_prefers_opening(tiny_causal_lm, tokenizer):
    model = biased(tiny_causal_lm, {token(tokenizer, "("): 20.0})
    words = ["a", "b", "c"]
    out = generate(model, tokenizer, PREFIX, [tree_prompt(words)] * 3,
                   [BracketGrammar(words, unary=False), BracketGrammar(words, max_depth=3),
                    BracketGrammar(words)])
    # Without unary nodes the first word's node opens as deep as two-child nodes allow.
    assert out[0].text == "( ( ( a ) ( b ) ) ( c ) )"
    # With them, every word sits as deep as max_depth allows (default: words + 1).
    assert out[1].text == "( ( ( a ) ( b ) ( c ) ) )"
    assert out[2].text == "( ( ( ( a ) ( b ) ( c ) ) ) )"


def test_one_word_sentences(tiny_causal_lm, tokenizer):
    prompts = [tree_prompt(["dog"])] * 2
    grammars = [BracketGrammar(["dog"], unary=False), BracketGrammar(["dog"])]
    words_first = biased(tiny_causal_lm, {token(tokenizer, "dog"): 20.0})
    opens_first = biased(tiny_causal_lm, {token(tokenizer, "("): 20.0})
    texts = [g.text for g in generate(words_first, tokenizer, PREFIX, prompts, grammars)]
    assert texts == ["( dog )", "( dog )"]
    texts = [g.text for g in generate(opens_first, tokenizer, PREFIX, prompts, grammars)]
    assert texts == ["( dog )", "( ( dog ) )"]


def test_greedy_tags_respect_bio_unless_told_not_to(tiny_causal_lm, tokenizer):
    model = biased(tiny_causal_lm, {token(tokenizer, "i"): 20.0, token(tokenizer, "b"): 10.0})
    tags = ["O", "B-loc", "I-loc"]
    out = generate(model, tokenizer, PREFIX, [tag_prompt("a b c".split())] * 2,
                   [TagGrammar(3, tags), TagGrammar(3, tags, bio_valid=False)])
    assert [g.text for g in out] == ["B-loc I-loc I-loc", "I-loc I-loc I-loc"]


@pytest.mark.parametrize("end, end_bias, last", [(".", 30.0, "B-time"),
                                                 (".", -30.0, "B-time_relative"),
                                                 ("\n", 0.0, "B-time")])
def test_a_tag_whose_tokens_begin_another(tiny_causal_lm, tokenizer, end, end_bias, last):
    # " B-time" is b - time and " B-time_relative" b - time _ relative: after "time" the model
    # weighs "_" against what would follow, the next tag or, after the last word, the end.
    # "\n" is no WordPiece token: nothing scores the end, so ending wins.
    model = biased(tiny_causal_lm, {token(tokenizer, "_"): 20.0, token(tokenizer, "b"): 10.0,
                                    token(tokenizer, "."): end_bias})
    (gen,) = generate(model, tokenizer, PREFIX, [tag_prompt("a b c".split())],
                      [TagGrammar(3, ["O", "B-time", "B-time_relative"])], end=end)
    assert gen.text == f"B-time_relative B-time_relative {last}"


def test_bad_input_is_refused(tiny_causal_lm, tokenizer):
    for make in (lambda: BracketGrammar([]), lambda: BracketGrammar(["a b"]),
                 lambda: BracketGrammar(["a"], max_depth=1), lambda: TagGrammar(0, ["O"]),
                 lambda: TagGrammar(2, ["X"]), lambda: TagGrammar(2, ["I-x"]),
                 lambda: TagGrammar(2, [])):
        with pytest.raises(KDBenchError):
            make()
    with pytest.raises(KDBenchError, match="1 prompts for 2 grammars"):
        generate(tiny_causal_lm, tokenizer, PREFIX, ["Tags:"], [TagGrammar(1, ["O"])] * 2)
    with pytest.raises(KDBenchError, match="tokenize alike"):  # an uncased tokenizer
        generate(tiny_causal_lm, tokenizer, PREFIX, ["Tags:"], [TagGrammar(1, ["B-X", "B-x"])])
    with pytest.raises(KDBenchError, match="batch_size = 0; expected an integer >= 1$"):
        generate(tiny_causal_lm, tokenizer, PREFIX, ["Tags:"], [TagGrammar(1, ["O"])],
                 batch_size=0)
