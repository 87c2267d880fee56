"""The served teacher against a real OpenAI-compatible server: llama-cpp-python's, on 127.0.0.1,
serving the packaged Gemma 3 270M GGUF, checked against the transformers backend on the same
prompts. Skipped where the `served` extra is not installed (pip install -e ".[served]")."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from kdbench.assets import resolve_model
from kdbench.errors import KDBenchError
from kdbench.served import ServedScorer, generate
from kdbench.teacher import PromptSpec, TransformersScorer

pytest.importorskip("llama_cpp.server", reason="the served extra is not installed")

# Short prompts: llama-cpp-python sorts the whole vocabulary at every echoed token.
SPEC = PromptSpec("", "Article", "Topic", {"business": "business", "sport": "sport",
                                            "tech": "tech"}, 8, 12)
DEMOS = [{"text": "shares fell as the bank raised rates", "label": "business"},
         {"text": "the striker scored twice in the final", "label": "sport"},
         {"text": "a new phone chip was shown at the fair", "label": "tech"}]
TEXTS = ["profits rose at the retailer", "the match ended in a draw", "software for laptops"]
SERVER = {"api_key_env": "KDBENCH_NO_KEY", "logprobs": "top", "top_logprobs": 20,
          "concurrency": 1, "timeout_s": 900.0, "retries": 0}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    location = resolve_model("gemma3-270m")
    port = free_port()
    # llama.cpp logs its loading at length: to a file, so that a full pipe never stalls it.
    log = (tmp_path_factory.mktemp("llama") / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model",
         str(location.directory / location.gguf_file), "--model_alias", "gemma", "--host",
         "127.0.0.1", "--port", str(port), "--n_ctx", "1024", "--n_threads", "1",
         "--logits_all", "true"],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "OMP_NUM_THREADS": "1"})
    url = f"http://127.0.0.1:{port}/v1"
    try:
        for _ in range(600):
            if process.poll() is not None:
                log.flush()
                pytest.fail(f"llama-cpp-python's server exited: "
                            f"{Path(log.name).read_text()[-2000:]}")
            try:
                urllib.request.urlopen(f"{url}/models", timeout=1).read()
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("llama-cpp-python's server did not answer in 300 s")
        yield {**SERVER, "base_url": url}
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def reference():
    return TransformersScorer("gemma3-270m")


# Prompt mode on one text after one demonstration (three short requests: llama-cpp-python
# sorts the whole vocabulary at every echoed token); top mode on every text after all three.
@pytest.mark.parametrize("mode, demos, count", [("prompt", 1, 1), ("top", 3, len(TEXTS))])
def test_scores_match_the_transformers_backend(server, reference, mode, demos, count):
    queries = [SPEC.query(t) for t in TEXTS[:count]]
    prefix = SPEC.prefix(DEMOS[:demos])
    expected = reference.score(prefix, queries, SPEC.continuations())
    scorer = ServedScorer("gemma", {**server, "logprobs": mode})
    scores = scorer.score(prefix, queries, SPEC.continuations())
    close = np.abs(scores - expected) <= 0.15  # the same weights, on llama.cpp's quantized blocks
    print(f"{mode}: largest difference from transformers where close "
          f"{np.abs(scores - expected)[close].max():.4f}; {scorer.info}")
    assert (scores.argmax(axis=1) == expected.argmax(axis=1)).all()
    if mode == "prompt":
        assert close.all()
    else:
        # A label whose token is not among the top 20 gets the smallest value returned: a bound
        # above its log-prob, and counted.
        assert (scores[~close] > expected[~close]).all()
        assert (~close).sum() <= scorer.info["labels_outside_top"] < scores.size
        assert scorer.info["label_tokens_unscored"] == 0  # every verbalizer here is one token


def test_generation_returns_a_line_and_a_confidence(server):
    context = "Sentence: the dog barked\nTree: ( ( the ) ( dog ) ( barked ) )\n\n"
    ((text, mean_logprob),) = generate("gemma", server, context, ["Sentence: a cat sat\nTree:"],
                                       [8])
    assert "\n" not in text and text
    assert mean_logprob <= 0


def test_a_wrong_port_fails_with_one_line(server):
    port = int(server["base_url"].rsplit(":", 1)[1].split("/")[0])
    down = {**server, "base_url": f"http://127.0.0.1:{port + 1}/v1", "retries": 0}
    with pytest.raises(KDBenchError, match=r"did not answer .*tried 1x"):
        ServedScorer("gemma", down).score("", ["x"], [" a"])
