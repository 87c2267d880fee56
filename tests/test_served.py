"""The served teacher (kdbench/served.py) against a small HTTP server on 127.0.0.1 that answers
as an OpenAI-compatible completions endpoint would; tests/test_served_llama.py runs a real one."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from kdbench.errors import KDBenchError
from kdbench.project import ROOT
from kdbench.served import Client, ServedScorer, generate

SERVER = {"base_url": None, "api_key_env": "KDBENCH_TEST_KEY", "logprobs": "top",
          "top_logprobs": 5, "concurrency": 3, "timeout_s": 5.0, "retries": 2}


class Endpoint:
    """A completions endpoint: `answer(payload) -> (status, body)`; records what it was sent."""

    def __init__(self, answer):
        self.answer, self.requests, self.headers = answer, [], []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                endpoint.requests.append(payload)
                endpoint.headers.append(dict(self.headers))
                status, body = endpoint.answer(payload)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.params = {**SERVER, "base_url": f"http://127.0.0.1:{self.server.server_port}/v1"}

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint():
    made = []

    def make(answer):
        made.append(Endpoint(answer))
        return made[-1]

    yield make
    for e in made:
        e.close()


def top_answer(payload):
    """The next token's top log-probs: ' sport' likely after 'match', ' business' otherwise;
    ' tech' is never among them."""
    sporty = "match" in payload["prompt"][-25:]  # in the query, not the demonstrations
    top = {" sport": -0.1 if sporty else -3.0, " business": -2.5 if sporty else -0.2,
           " bus": -4.0, " the": -5.0}
    return 200, {"choices": [{"text": " sport", "logprobs": {
        "tokens": [" sport"], "token_logprobs": [top[" sport"]], "top_logprobs": [top]}}]}


def test_top_mode_scores_each_label_by_its_first_token_and_bounds_the_missing(endpoint,
                                                                              monkeypatch):
    monkeypatch.setenv("KDBENCH_TEST_KEY", "secret")
    server = endpoint(top_answer)
    scorer = ServedScorer("gemma", server.params)
    scores = scorer.score("P\n", ["a match", "profits"], [" sport", " business", " tech"])
    # ' business' is matched whole, not by its prefix ' bus'; ' tech' gets the smallest value.
    np.testing.assert_allclose(scores, [[-0.1, -2.5, -5.0], [-3.0, -0.2, -5.0]])
    assert scorer.info == {"device": "server", "labels_outside_top": 2, "label_tokens_unscored": 0}
    assert [r["prompt"] for r in server.requests] == ["P\na match", "P\nprofits"]
    assert all(r["model"] == "gemma" and r["max_tokens"] == 1 and r["logprobs"] == 5
               and r["temperature"] == 0 for r in server.requests)
    assert all(h["Authorization"] == "Bearer secret" for h in server.headers)


def test_prompt_mode_sums_the_echoed_log_probs_after_the_query(endpoint):
    def echo(payload):
        # One "token" per character, each with log-prob -(its position + 1) / 100.
        text = payload["prompt"]
        return 200, {"choices": [{"text": "x", "logprobs": {
            "tokens": list(text) + ["x"], "text_offset": list(range(len(text) + 1)),
            "token_logprobs": [None] + [-(i + 1) / 100 for i in range(1, len(text) + 1)]}}]}

    server = endpoint(echo)
    scorer = ServedScorer("m", {**server.params, "logprobs": "prompt"})
    scores = scorer.score("AB", ["q"], [" yz", " w"])
    # " yz" after "ABq" is characters 3..5; the generated "x" after it is not counted.
    np.testing.assert_allclose(scores, [[-(0.04 + 0.05 + 0.06), -(0.04 + 0.05)]])
    assert all(r["echo"] is True for r in server.requests)

    def no_echo(payload):
        return 200, {"choices": [{"text": "x", "logprobs": {
            "tokens": ["x"], "text_offset": [len(payload["prompt"])], "token_logprobs": [-1.0]}}]}

    plain = endpoint(no_echo)
    with pytest.raises(KDBenchError, match="echoed no log-probs.*'top'"):
        ServedScorer("m", {**plain.params, "logprobs": "prompt"}).score("AB", ["q"], [" y"])


def test_requests_overlap_up_to_the_concurrency_and_come_back_in_order(endpoint):
    import time

    lock, active, most = threading.Lock(), [0], [0]

    def slow_evens(payload):
        with lock:
            active[0] += 1
            most[0] = max(most[0], active[0])
        time.sleep(0.2 if int(payload["prompt"]) % 2 == 0 else 0.05)
        with lock:
            active[0] -= 1
        return 200, {"choices": [{"text": payload["prompt"]}]}

    server = endpoint(slow_evens)
    results = Client(server.params, "m").map([{"prompt": str(i)} for i in range(9)], "test")
    assert [r["choices"][0]["text"] for r in results] == [str(i) for i in range(9)]
    assert server.requests[0]["prompt"] == "0"  # the first goes alone
    assert most[0] == 3  # concurrency 3, never more


def test_a_failing_server_is_retried_then_stops_with_one_line(endpoint):
    calls = []

    def flaky(payload):
        calls.append(1)
        return (503, {"error": "busy"}) if len(calls) < 3 else top_answer(payload)

    server = endpoint(flaky)
    client = Client(server.params, "m")
    client.backoff = 0.01
    assert client.post({"prompt": "match"})["choices"]
    assert len(calls) == 3  # two 503s retried

    refused = endpoint(lambda payload: (400, {"error": "bad model"}))
    client = Client(refused.params, "m")
    with pytest.raises(KDBenchError, match="refused a request: HTTP 400"):
        client.post({"prompt": "x"})
    assert len(refused.requests) == 1  # a client error is not retried

    down = {**SERVER, "base_url": "http://127.0.0.1:9/v1", "retries": 1}
    client = Client(down, "m")
    client.backoff = 0.01
    with pytest.raises(KDBenchError, match=r"did not answer .*tried 2x\): start it, or fix "
                                           r"teacher.server.base_url$"):
        client.post({"prompt": "x"})
    with pytest.raises(KDBenchError, match="base_url is null"):
        Client(SERVER, "m")


def test_a_server_without_log_probs_is_named(endpoint):
    bare = endpoint(lambda payload: (200, {"choices": [{"text": " sport"}]}))
    with pytest.raises(KDBenchError, match="returned no log-probs"):
        ServedScorer("m", bare.params).score("", ["q"], [" sport"])


def test_generation_stops_at_the_line_and_averages_the_token_log_probs(endpoint):
    def answer(payload):
        return 200, {"choices": [{"text": " ( ( a ) b )\nnext", "logprobs": {
            "tokens": [" (", " (", " a"], "token_logprobs": [-0.5, -1.5, -1.0]}}]}

    server = endpoint(answer)
    out = generate("m", server.params, "C\n", ["Sentence: a b\nTree:"], [20])
    assert out == [("( ( a ) b )", pytest.approx(-1.0))]
    assert server.requests[0]["stop"] == ["\n"] and server.requests[0]["max_tokens"] == 20


def teach(task, params, prepared, demonstrations):
    """The teacher on the whole pool in one shard."""
    from kdbench.teachers import assemble, label

    return assemble(task, params, prepared, demonstrations,
                    [label(task, params, prepared, demonstrations, 0, 1)])


def teacher_params(task_name, server):
    from kdbench.params import read_params

    params = read_params(ROOT / "params.yaml")[task_name]["teacher"]
    return {**params, "backend": "openai", "model": "served", "server": server, "shots": 1,
            "constrained": False}


def test_teach_labels_a_classification_pool_through_the_server(endpoint):
    from kdbench.tasks import Prepared, get_task

    task = get_task("classification")
    labels = ["business", "sport"]
    rows = [{"id": str(i), "text": t, "label": labels[i % 2], "gold": labels[i % 2]}
            for i, t in enumerate(["profits rose", "the match", "shares fell", "a match won"])]
    server = endpoint(top_answer)
    prepared = Prepared(labeled=rows[:2], unlabeled=rows[2:], test=rows[:2],
                        meta={"labels": labels})
    taught = teach(task, teacher_params("classification", server.params), prepared, rows[:2])
    assert [p["label"] for p in taught.predictions["pool"]] == ["business", "sport"]
    assert taught.info["backend"] == "openai" and taught.info["labels_outside_top"] == 0
    # Pool, test, dev (none left: both labeled rows are demonstrations), the content-free input.
    assert len(server.requests) == 2 + 2 + 1


def test_teach_generates_sequences_through_the_server_and_counts_the_unreadable(endpoint):
    from kdbench.tasks import Prepared, get_task

    def answer(payload):
        text = " ( ( a ) ( b ) )" if "Sentence: a b\n" in payload["prompt"][-20:] else " ( b"
        return 200, {"choices": [{"text": text, "logprobs": {"token_logprobs": [-0.1]}}]}

    task = get_task("constituency")
    rows = [{"id": i, "words": list(words), "target": target, "gold": target, "tree": tree}
            for i, words, target, tree in (
                ("x", "ab", "( ( a ) ( b ) )", "(S (X a) (Y b))"),
                ("y", "cd", "( ( c ) ( d ) )", "(S (X c) (Y d))"))]
    server = endpoint(answer)
    prepared = Prepared(labeled=rows, unlabeled=rows, test=rows[:1], meta={"tags": []})
    taught = teach(task, teacher_params("constituency", server.params), prepared, rows[:1])
    assert [p["readable"] for p in taught.predictions["pool"]] == [True, False]
    assert taught.info["pool_unreadable"] == 1 and len(taught.trainset) == 1
    with pytest.raises(KDBenchError, match="set teacher.constrained to false"):
        teach(task, {**teacher_params("constituency", server.params), "constrained": True},
              prepared, rows[:1])
