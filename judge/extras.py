"""The optional parts of rubric-judge (pyproject's extras) and the one error a missing one gives.

Every import of a package that an extra brings goes through ``require``/``module``: a user
without it gets ``the reward server needs the package 'uvicorn': pip install
'rubric-judge[serve]'`` (the CLI prints it as one line, exit 2), never a bare
``No module named ...`` from deep inside.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import re
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
    "train": "training a judge (rubric train-judge)",
    "data": "parquet, arrow and Hugging Face dataset files",
    "ray": "the Ray engine",
    "report": "rubric report",
}
TORCH_FIRST = {"local", "train"}  # extras whose hint must say to install torch first


class MissingExtra(ModuleNotFoundError):
    """An optional package is not installed; the message says which extra brings it."""

    def __init__(self, extra: str, package: str, purpose: str | None = None):
        self.extra = extra
        first = "install torch first (the CPU or CUDA build you want), then: " if extra in TORCH_FIRST else ""
        super().__init__(
            f"{purpose or EXTRAS[extra]} needs the package {package!r}: {first}{install_hint(extra)}", name=package
        )


def install_hint(extra: str) -> str:
    """The pip command that brings an extra's packages. The packages themselves, read from the
    installed distribution's metadata: ``pip install 'rubric-judge[serve]'`` would ask the
    package index for rubric-judge, which a user of a wheel or a checkout did not get there."""
    if extra not in EXTRAS:
        raise KeyError(f"no extra named {extra!r}; known: {', '.join(EXTRAS)}")
    needed = extra_requirements(extra)
    if not needed:  # not installed as a distribution (a checkout on the path): the extra by name
        return f"pip install 'rubric-judge[{extra}]'"
    return "pip install " + " ".join(f"'{r}'" for r in needed) + f"  (rubric-judge's {extra!r} extra)"


def extra_requirements(extra: str) -> list[str]:
    """The requirements the installed rubric-judge lists for ``extra`` on this platform."""
    try:
        listed = importlib.metadata.requires("rubric-judge") or []
    except importlib.metadata.PackageNotFoundError:
        return []
    found = []
    for line in listed:
        requirement, _, marker = line.partition(";")
        if not _applies(marker.strip(), extra):
            continue
        requirement = requirement.strip().replace(" ", "")
        if (inner := re.fullmatch(r"rubric[-_]judge\[([\w,-]+)\]", requirement, re.IGNORECASE)) is not None:
            for other in inner.group(1).split(","):  # an extra that brings another: its packages, by name
                found += [r for r in extra_requirements(other) if r not in found]
        elif requirement not in found:
            found.append(requirement)
    return found


def _applies(marker: str, extra: str) -> bool:
    """Whether a requirement's marker holds for ``extra`` here (packaging reads the platform
    parts when present; without it, every requirement of the extra is named)."""
    if f'extra == "{extra}"' not in marker and f"extra == '{extra}'" not in marker:
        return False
    try:
        from packaging.markers import Marker
    except ImportError:
        return True
    return Marker(marker).evaluate({"extra": extra})


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
