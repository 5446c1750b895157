"""Curated rubrics shipped as data files, looked up by name (the file's stem)."""

from __future__ import annotations

from pathlib import Path

from rubrics.io import load_rubric
from rubrics.model import Rubric

LIBRARY_DIR = Path(__file__).parent


class UnknownRubricError(LookupError):
    pass


def names() -> list[str]:
    return sorted(p.stem for p in LIBRARY_DIR.glob("*.yaml"))


def path_of(name: str) -> Path:
    path = LIBRARY_DIR / f"{name}.yaml"
    if not path.is_file():
        raise UnknownRubricError(f"no rubric named {name!r} in the library; known: {', '.join(names())}")
    return path


def load(name: str) -> Rubric:
    return load_rubric(path_of(name))


def listing() -> list[str]:
    """`rubric library list`: one line per library rubric (name, criteria, description)."""
    import textwrap

    return [
        f"{name:24} {len(r.criteria):3} criteria  {textwrap.shorten(r.description or '', 80)}"
        for name, r in ((n, load(n)) for n in names())
    ]
