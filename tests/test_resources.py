import json

import pytest

from kdbench.errors import KDBenchError
from kdbench.resources import GIB, available_bytes, require, training_bytes, weights_bytes


def test_available_memory_is_read_on_linux():
    available = available_bytes()
    assert available is None or available > 0


def test_require_names_the_numbers_and_the_fix():
    require(GIB, "x", "y", available=2 * GIB)  # fits: no error
    with pytest.raises(KDBenchError) as err:
        require(int(3.5 * GIB), "training the student", "lower student.batch_size",
                available=2 * GIB)
    assert str(err.value) == ("training the student needs about 3.5 GiB of memory but 2.0 GiB "
                              "is available; lower student.batch_size")


def test_weights_counted_from_files_and_dtype(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"\0" * 1000)
    (tmp_path / "config.json").write_text(json.dumps({"dtype": "float32"}))
    assert weights_bytes(tmp_path) == 1000
    (tmp_path / "config.json").write_text(json.dumps({"torch_dtype": "bfloat16"}))
    assert weights_bytes(tmp_path) == 2000
    (tmp_path / "m.gguf").write_bytes(b"\0" * 10)
    assert weights_bytes(tmp_path, "m.gguf") == 70


def test_training_memory_grows_with_batch_and_length():
    base = training_bytes(10**8, 16, 128, 384, 6, 12)
    assert base > 4 * 10**8
    assert training_bytes(10**8, 32, 128, 384, 6, 12) > base
    assert training_bytes(10**8, 16, 512, 384, 6, 12) > training_bytes(10**8, 16, 256, 384, 6, 12)
