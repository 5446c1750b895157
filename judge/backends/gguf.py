"""GGUF files as first-class local models: converted once, then loaded in seconds.

transformers reads a GGUF file by dequantising every tensor, which takes minutes for a
1.5B model; the result is a plain float32 checkpoint. So a file is converted once and the
checkpoint kept in the user cache dir, under a name that changes with the file's content
(its size and a hash of its first and last 4 MiB: cheap on a gigabyte, and any re-download
or re-quantisation changes it) and with the transformers version. Concurrent first runs
are safe: each converts into its own staging folder and the first rename wins.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from judge.paths import cache_root

log = logging.getLogger("rubric.models")
SAMPLE = 4 * 2**20  # bytes hashed at each end of the file


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


def fingerprint(path: Path) -> str:
    """Size and a hash of both ends of the file: what names its converted checkpoint."""
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with path.open("rb") as handle:
        digest.update(handle.read(SAMPLE))
        if size > SAMPLE:
            handle.seek(max(SAMPLE, size - SAMPLE))
            digest.update(handle.read(SAMPLE))
    return f"{size}-{digest.hexdigest()[:16]}"


def converted_dir(path: Path, name: str | None = None) -> Path:
    import transformers

    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", name or path.stem)
    return cache_root() / "models" / f"{stem}-{fingerprint(path)}-transformers-{transformers.__version__}"


def ensure_converted(path: str | Path, name: str | None = None) -> Path:
    """The transformers checkpoint of a GGUF file, converting it the first time."""
    source = Path(path).expanduser().resolve()
    if not source.is_file():
        raise FileNotFoundError(2, "no such GGUF file", str(path))
    target = converted_dir(source, name)
    if (target / "config.json").is_file():
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log.info(
        "Converting %s to transformers weights once (minutes for a large file); later runs load from %s",
        source.name,
        target,
    )
    with terminal_progress_only():
        model = AutoModelForCausalLM.from_pretrained(source.parent, gguf_file=source.name)
        tokenizer = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name)
    # The weights are dequantised to float32 already; drop the GGUF quantiser record so
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
