"""The dequantised-model cache: stages that start together on a fresh machine must not clash."""

from pathlib import Path

import pytest
import transformers

from kdbench.assets import ModelLocation, dequantised


class FakeSaved:
    """Stands in for the GGUF model and tokenizer: saving writes a file named after its owner."""

    def __init__(self, owner: str, before_save=None):
        self.owner, self.before_save = owner, before_save

    def save_pretrained(self, path: Path) -> None:
        if self.before_save:
            self.before_save()
        Path(path).mkdir(parents=True, exist_ok=True)
        (Path(path) / "config.json").write_text(self.owner)


@pytest.fixture
def gguf(tmp_path, monkeypatch):
    monkeypatch.setenv("KDBENCH_CACHE", str(tmp_path / "cache"))
    (tmp_path / "m.gguf").write_bytes(b"GGUF")
    return ModelLocation(tmp_path, "m.gguf"), tmp_path / "cache" / "dequantised" / "m-4"


def patch_loading(monkeypatch, model: FakeSaved) -> None:
    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained",
                        lambda *a, **k: model)
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained",
                        lambda *a, **k: FakeSaved("tokenizer"))


def test_first_call_writes_the_copy_and_later_calls_reuse_it(gguf, monkeypatch):
    location, target = gguf
    patch_loading(monkeypatch, FakeSaved("us"))
    assert dequantised(location) == ModelLocation(target)
    assert (target / "config.json").read_text() == "tokenizer"  # written last, by the tokenizer
    patch_loading(monkeypatch, None)  # a second call must not load anything
    assert dequantised(location) == ModelLocation(target)
    assert [p.name for p in target.parent.iterdir()] == [target.name]


def test_a_copy_finished_by_another_process_meanwhile_is_kept(gguf, monkeypatch):
    location, target = gguf

    def other_process_finishes_first():
        target.mkdir(parents=True)
        (target / "config.json").write_text("other")

    patch_loading(monkeypatch, FakeSaved("us", before_save=other_process_finishes_first))
    assert dequantised(location) == ModelLocation(target)
    assert (target / "config.json").read_text() == "other"
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # our partial copy is gone
