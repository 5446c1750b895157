from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def third_party(relative: str) -> Path:
    """A registered third-party data file (``DATASET/FILE``) from a local copy, or skip the
    test saying how to provide one. Tests never download: CI sets RUBRIC_JUDGE_DATA."""
    from judge.eval import datasets

    found = datasets.find_local(relative)
    if found is None:
        entry = datasets.data_file(relative)
        pytest.skip(f"needs {relative}: {datasets.how_to_provide(relative)} (upstream: {entry.url or 'none'})")
    return found


def third_party_root(*relatives: str) -> Path:
    """The folder that holds all these files as DATASET/FILE (for --data-dir), or skip."""
    paths = [third_party(r) for r in relatives]
    return paths[0].parents[1]


@pytest.fixture(scope="module")
def server():
    """A loopback server speaking OpenAI's and Anthropic's wire formats (tests/provider_server.py)."""
    from tests.provider_server import ProviderServer

    with ProviderServer(retry_after="0.3", hang_seconds=1.5) as running:
        yield running


@pytest.fixture(scope="session")
def rubric_exe() -> str:
    """The installed `rubric` command (tests the installed package, not the source tree)."""
    exe = Path(sys.executable).parent / "rubric"
    found = str(exe) if exe.exists() else shutil.which("rubric")
    if not found:
        pytest.fail("the `rubric` command is not installed; run `make test`")
    return found


@pytest.fixture(scope="session")
def smollm2_dir() -> Path:
    """The embedded SmolLM2 converted to a transformers folder (about 30 s the first time)."""
    from judge.backends import default_model

    return default_model.ensure_converted()


@pytest.fixture(scope="session")
def smollm2_tokenizer(smollm2_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(smollm2_dir)


@pytest.fixture(scope="session")
def tiny_llama(smollm2_tokenizer):
    """A randomly initialised 2-layer Llama with the real SmolLM2 tokenizer: runs in milliseconds."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(smollm2_tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        pad_token_id=smollm2_tokenizer.pad_token_id,
    )
    return LlamaForCausalLM(config).eval()


@pytest.fixture
def tiny_backend(tiny_llama, smollm2_tokenizer):
    from judge.backends.local import LocalBackend

    return LocalBackend(tiny_llama, smollm2_tokenizer, model_id="tiny-random-llama")


@pytest.fixture
def rubric():
    from rubrics import Criterion, Rubric

    return Rubric(
        id="demo",
        criteria=[
            Criterion(id="correct", text="The answer is correct.", weight=3),
            Criterion(id="explains", text="The answer explains its reasoning.", weight=1),
            Criterion(id="rude", text="The answer is rude.", weight=-2),
        ],
    )
