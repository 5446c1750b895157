"""GGUF files as local models: converted once into the cache, named in verdicts, and every
GGUF route (gguf:PATH, local:PATH.gguf, local:DIR?gguf_file=F) shares the converted copy."""

from __future__ import annotations

import logging

import pytest

pytest.importorskip("torch")

from judge.backends import get_backend, gguf  # noqa: E402
from judge.backends.base import model_label  # noqa: E402


def test_the_fingerprint_follows_the_content_not_the_name(tmp_path):
    first, same, other = tmp_path / "a.gguf", tmp_path / "b.gguf", tmp_path / "c.gguf"
    body = bytes(range(256)) * 40000  # 10 MB: both ends are hashed, the middle is not read
    first.write_bytes(body)
    same.write_bytes(body)
    other.write_bytes(body[:-1] + b"\x00")
    assert gguf.fingerprint(first) == gguf.fingerprint(same) != gguf.fingerprint(other)
    assert gguf.fingerprint(first).startswith(f"{len(body)}-")


def test_a_gguf_file_is_converted_once_and_named_in_verdicts(tmp_path, monkeypatch, caplog):
    from judge.backends import default_model
    from judge.engine import Judge
    from rubrics.model import Rubric

    monkeypatch.setenv("RUBRIC_JUDGE_CACHE_DIR", str(tmp_path / "cache"))
    source = default_model.gguf_path()  # the embedded SmolLM2's file: a real GGUF on disk
    with caplog.at_level(logging.INFO, logger="rubric.models"):
        backend = get_backend(f"gguf:{source}")
        again = get_backend(f"local:{source.parent}?gguf_file={source.name}")
    conversions = [r for r in caplog.records if r.getMessage().startswith("Converting")]
    assert len(conversions) == 1  # the second route loaded the converted copy
    assert model_label(backend) == model_label(again) == f"local:{source.resolve()}"
    assert backend.revision == again.revision == gguf.converted_dir(source.resolve()).name
    assert (tmp_path / "cache" / "models" / backend.revision / "config.json").is_file()
    rubric = Rubric.model_validate({"id": "r", "criteria": [{"id": "c", "text": "The answer is polite."}]})
    verdict = Judge(backend).evaluate("Say hi.", "Hello there!", rubric)
    assert verdict.model == f"local:{source.resolve()}" and verdict.results[0].status == "scored"


def test_a_missing_gguf_file_is_one_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError) as error:
        get_backend(f"gguf:{tmp_path / 'nowhere.gguf'}")
    assert "nowhere.gguf" in str(error.value)
