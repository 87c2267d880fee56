"""A teacher behind an OpenAI-compatible completions endpoint (`teacher.backend: openai`): vLLM's
`vllm serve`, llama.cpp's `llama-server`, llama-cpp-python's server, or a hosted API.

Label scoring reads the log-probabilities the server returns, one of two ways
(`teacher.server.logprobs`):
- `prompt`: each label's verbalizer is appended to the prompt and the server echoes the prompt's
  own token log-probs (`echo`); a label's score is the sum over the tokens after the query, as the
  transformers backend computes it. Exact, but not every server offers it (vLLM does; llama.cpp's
  llama-server and the OpenAI API do not; llama-cpp-python does, slowly on long prompts).
- `top`: one request per input for the top `top_logprobs` log-probs of the next token; a label
  is scored by its verbalizer's first token, the longest returned token its text begins with.
  Later tokens of a verbalizer are not scored, and a label none of whose tokens is returned gets
  the smallest returned log-prob, a bound rather than its value: the info counts both.

Generation (the sequence tasks) is greedy (temperature 0) to the end of the line, with the
output tokens' log-probs for the confidence. No grammar is sent, so an output may be unreadable:
it is kept and counted, as with unconstrained local decoding.

At most `concurrency` requests are in flight, each with `timeout_s`; a failed one is retried
`retries` times after 1, 2, 4, ... seconds. The API key, if the server wants one, is read from the
environment variable `api_key_env` names, never from params.yaml.
"""

import json
import math
import os
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from kdbench.errors import KDBenchError
from kdbench.progress import progress


class Client:
    """POSTs completion requests to `<base_url>/completions`, bounded, with timeouts and retries."""

    def __init__(self, server: dict, model: str):
        if not server["base_url"]:
            raise KDBenchError("params: teacher.server.base_url is null; teacher.backend "
                               "'openai' needs the server's URL, e.g. http://127.0.0.1:8080/v1")
        self.url = server["base_url"].rstrip("/") + "/completions"
        self.model = model
        self.key = os.environ.get(server["api_key_env"], "")
        self.concurrency = server["concurrency"]
        self.timeout = server["timeout_s"]
        self.retries = server["retries"]
        self.backoff = 1.0

    def post(self, payload: dict) -> dict:
        body = json.dumps({"model": self.model, "temperature": 0, **payload}).encode()
        headers = {"Content-Type": "application/json"}
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        problem = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            request = urllib.request.Request(self.url, body, headers)
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return json.loads(response.read())
            except urllib.error.HTTPError as err:
                detail = err.read().decode(errors="replace")[:300].replace("\n", " ")
                problem = f"HTTP {err.code}: {detail}"
                if err.code < 500 and err.code != 429:  # the request is wrong: retrying won't help
                    raise KDBenchError(f"teacher server {self.url} refused a request: "
                                       f"{problem}") from None
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as err:
                problem = str(getattr(err, "reason", err))
        raise KDBenchError(f"teacher server {self.url} did not answer ({problem}; tried "
                           f"{self.retries + 1}x): start it, or fix teacher.server.base_url")

    def map(self, payloads: list[dict], what: str, show_progress: bool = False) -> list[dict]:
        """The responses to `payloads`, in order. The first request goes alone, so a server that
        is down fails once, not once per request."""
        if not payloads:
            return []
        results = [self.post(payloads[0])]
        with progress(len(payloads), what, show=show_progress) as bar, \
                ThreadPoolExecutor(self.concurrency) as pool:
            bar.update()
            for result in pool.map(self.post, payloads[1:]):
                results.append(result)
                bar.update()
        return results


def _logprobs(response: dict) -> dict:
    choices = response.get("choices") or [{}]
    logprobs = choices[0].get("logprobs")
    if not logprobs or not logprobs.get("token_logprobs"):
        raise KDBenchError("the teacher server returned no log-probs: it must support the "
                           "completions API's `logprobs` (teacher.server.logprobs says which)")
    return logprobs


class ServedScorer:
    """The `Scorer` of kdbench.teacher for a served model (see the module docstring)."""

    def __init__(self, model: str, server: dict):
        self.client = Client(server, model)
        self.mode = server["logprobs"]
        self.top = server["top_logprobs"]
        self.info = {"device": "server", "labels_outside_top": 0, "label_tokens_unscored": 0}

    def score(self, prefix: str, queries: list[str], continuations: list[str],
              show_progress: bool = False) -> np.ndarray:
        if self.mode == "prompt":
            return self._score_prompts(prefix, queries, continuations, show_progress)
        return self._score_top(prefix, queries, continuations, show_progress)

    def _score_prompts(self, prefix, queries, continuations, show_progress) -> np.ndarray:
        payloads = [{"prompt": prefix + q + c, "max_tokens": 1, "echo": True, "logprobs": 0}
                    for q in queries for c in continuations]
        responses = self.client.map(payloads, "teacher", show_progress)
        flat = np.zeros(len(payloads))
        for i, response in enumerate(responses):
            q, c = divmod(i, len(continuations))
            start = len(prefix) + len(queries[q])
            end = start + len(continuations[c])
            logprobs = _logprobs(response)
            picked = [lp for offset, lp in zip(logprobs["text_offset"],
                                               logprobs["token_logprobs"], strict=False)
                      if start <= offset < end]
            if not picked or any(lp is None for lp in picked):
                raise KDBenchError("the teacher server echoed no log-probs of the prompt: set "
                                   "teacher.server.logprobs to 'top' for this server")
            flat[i] = sum(picked)
        return flat.reshape(len(queries), len(continuations))

    def _score_top(self, prefix, queries, continuations, show_progress) -> np.ndarray:
        payloads = [{"prompt": prefix + q, "max_tokens": 1, "logprobs": self.top}
                    for q in queries]
        responses = self.client.map(payloads, "teacher", show_progress)
        scores = np.zeros((len(queries), len(continuations)))
        for row, response in enumerate(responses):
            top = _logprobs(response).get("top_logprobs") or [None]
            if not top[0]:
                raise KDBenchError("the teacher server returned no top log-probs: it must "
                                   "support the completions API's `logprobs: k`")
            floor = min(top[0].values())
            for col, continuation in enumerate(continuations):
                matches = [t for t in top[0] if t and continuation.startswith(t)]
                if matches:
                    token = max(matches, key=len)
                    scores[row, col] = top[0][token]
                    self.info["label_tokens_unscored"] += token != continuation
                else:
                    scores[row, col] = floor
                    self.info["labels_outside_top"] += 1
        return scores


def generate(model: str, server: dict, context: str, queries: list[str],
             max_tokens: list[int]) -> list[tuple[str, float]]:
    """Greedy continuation of context + each query to the end of its line, and the mean token
    log-prob of it (0 for an empty one)."""
    client = Client(server, model)
    payloads = [{"prompt": context + query, "max_tokens": limit, "stop": ["\n"], "logprobs": 1}
                for query, limit in zip(queries, max_tokens, strict=True)]
    outputs = []
    for response in client.map(payloads, "generate", show_progress=True):
        text = response["choices"][0].get("text", "")
        logprobs = [lp for lp in _logprobs(response)["token_logprobs"]
                    if lp is not None and math.isfinite(lp)] if text else []
        outputs.append((text.split("\n")[0].strip(), sum(logprobs) / max(len(logprobs), 1)))
    return outputs
