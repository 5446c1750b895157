"""The optional parts of rubric-judge (pyproject's extras) and the one error a missing one gives.

Every import of a package that an extra brings goes through ``require``/``module``: a user
without it gets ``the reward server needs the package 'uvicorn': pip install
'rubric-judge[serve]'`` (the CLI prints it as one line, exit 2), never a bare
``No module named ...`` from deep inside.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

# extra -> what it is for, as the message says it
EXTRAS = {
    "local": "a local model (transformers)",
    "verify": "checking answers in code",
    "api": "an API model",
    "litellm": "a litellm model",
    "serve": "the reward server (rubric serve)",
    "generate": "sentence embeddings",
    "calibrate": "calibration and agreement figures",
    "data": "parquet, arrow and Hugging Face dataset files",
    "ray": "the Ray engine",
    "report": "rubric report",
}
TORCH_FIRST = {"local"}  # extras whose hint must say to install torch first


class MissingExtra(ModuleNotFoundError):
    """An optional package is not installed; the message says which extra brings it."""

    def __init__(self, extra: str, package: str, purpose: str | None = None):
        self.extra = extra
        first = "install torch first (the CPU or CUDA build you want), then: " if extra in TORCH_FIRST else ""
        super().__init__(
            f"{purpose or EXTRAS[extra]} needs the package {package!r}: {first}{install_hint(extra)}", name=package
        )


def install_hint(extra: str) -> str:
    if extra not in EXTRAS:
        raise KeyError(f"no extra named {extra!r}; known: {', '.join(EXTRAS)}")
    return f"pip install 'rubric-judge[{extra}]'"


def module(extra: str, name: str, purpose: str | None = None) -> ModuleType:
    """Import ``name``, which ``extra`` brings; MissingExtra when it (or a package it needs) is missing."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as e:
        raise MissingExtra(extra, (e.name or name).split(".")[0], purpose) from None


def require(extra: str, *names: str, purpose: str | None = None) -> None:
    """Check up front, without importing them, that these top-level packages are installed."""
    for name in names:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            raise MissingExtra(extra, name, purpose)
