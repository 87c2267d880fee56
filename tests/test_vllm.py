"""The vLLM backend against the transformers one. vLLM is a CUDA build: without the extra and a
GPU this file is skipped (it is, on the CPU machine where the project is built and tested)."""

import numpy as np
import pytest
import torch

from kdbench.teacher import PromptSpec, TransformersScorer

vllm = pytest.importorskip("vllm", reason="the vllm extra is not installed (GPU machines only)")
if not torch.cuda.is_available():
    pytest.skip("vLLM needs a CUDA GPU", allow_module_level=True)

SPEC = PromptSpec("", "Article", "Topic",
                  {"business": "business", "sport": "sport", "tech": "technology news"}, 3, 6)
DEMOS = [{"text": "markets fell as rates rose", "label": "business"},
         {"text": "the striker scored twice", "label": "sport"},
         {"text": "a new phone chip was shown", "label": "tech"}]


def test_vllm_scores_equal_transformers_scores(tiny_teacher_dir):
    from kdbench.teacher import VLLMScorer

    queries = [SPEC.query(t) for t in ("shares and profits", "the final whistle", "software")]
    prefix = SPEC.prefix(DEMOS)
    reference = TransformersScorer(str(tiny_teacher_dir)).score(prefix, queries,
                                                                SPEC.continuations())
    scorer = VLLMScorer(str(tiny_teacher_dir), "float32", tensor_parallel_size=1,
                        gpu_memory_utilization=0.3)
    scores = scorer.score(prefix, queries, SPEC.continuations())
    assert scores.shape == reference.shape
    np.testing.assert_allclose(scores, reference, atol=1e-3)  # multi-token label included
