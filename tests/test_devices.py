"""Device placement: auto picks CUDA only where there is one; a device that is not there, or
bf16 without CUDA, stops before anything loads."""

import pytest
import torch

from kdbench.devices import autocast, resolve
from kdbench.errors import KDBenchError
from kdbench.lm import load_causal_lm
from kdbench.student import Classifier

NO_CUDA = not torch.cuda.is_available()


def test_auto_is_cuda_only_where_there_is_one():
    assert resolve("auto").type == ("cpu" if NO_CUDA else "cuda")
    assert resolve("cpu") == torch.device("cpu")


@pytest.mark.skipif(not NO_CUDA, reason="this machine has a CUDA device")
@pytest.mark.parametrize("name", ["cuda", "cuda:0", "cuda:3"])
def test_a_missing_cuda_device_is_one_clear_line(name):
    with pytest.raises(KDBenchError, match=rf"device '{name}' is not on this machine: it has 0"):
        resolve(name)


@pytest.mark.parametrize("name", ["gpu", "cuda:", "CPU", "cuda:x"])
def test_device_names_outside_the_pattern_are_refused(name):
    with pytest.raises(KDBenchError, match="expected auto, cpu, cuda or cuda:N"):
        resolve(name)


def test_bf16_needs_cuda_and_fp32_is_plain():
    with pytest.raises(KDBenchError, match="needs a CUDA device"):
        autocast(torch.device("cpu"), "bf16")
    with autocast(torch.device("cpu"), "fp32"):
        assert not torch.is_autocast_enabled()


@pytest.mark.skipif(not NO_CUDA, reason="this machine has a CUDA device")
def test_models_refuse_a_missing_device_before_loading(student_params):
    # The models do not exist: had anything loaded, the error would name them instead.
    with pytest.raises(KDBenchError, match="'cuda' is not on this machine"):
        load_causal_lm("/nonexistent", device="cuda")
    student = Classifier({**student_params, "model": "/nonexistent", "device": "cuda"}, 0,
                         ["a", "b"])
    with pytest.raises(KDBenchError, match="'cuda' is not on this machine"):
        student.fit([{"id": "1", "text": "x", "label": "a"}], 1)


def test_a_student_trains_and_predicts_where_its_params_say(student_params):
    student = Classifier({**student_params, "device": "auto"}, 0, ["a", "b"])
    student.fit([{"id": "1", "text": "good", "label": "a"}, {"id": "2", "text": "bad",
                                                            "label": "b"}], 1)
    where = resolve("auto")
    assert next(student.model.parameters()).device.type == where.type
    assert student.info["device"] == str(where)
    assert [p["id"] for p in student.predict([{"id": "3", "text": "fine"}])] == ["3"]
