"""Where a row's rubric comes from, and the one way any rubric value becomes a Rubric.

``to_rubric`` (rubrics/interchange.py) takes every form a rubric is written in (a Rubric, a rubric object, a list of
principles, HealthBench or RaR items) and returns a Rubric whose checks are valid.
``RubricSource`` finds each row's rubric: written on the row, named by id (in the run's
rubric file, then the library), or the run's default; ``resolve`` also reads JSON text and
numpy arrays, the forms trainers' dataset columns hold. The CLI, the reward adapters, the
server and the eval modes all go through it.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import rubric_library
from rubrics.checks import validate_checks
from rubrics.interchange import to_rubric
from rubrics.io import SUFFIXES, load_rubrics
from rubrics.model import Rubric
from rubrics.records import message_of

NO_RUBRIC = "no rubric: pass --rubric, or give the line a 'rubric' or 'rubric_id'"

__all__ = ["RubricError", "RubricSource", "first_line", "to_rubric"]


class RubricError(ValueError):
    """A row's rubric could not be found or read."""


class RubricSource:
    """A run's rubrics: its default (one --rubric), those it names by id, and the library."""

    def __init__(self, default: Rubric | None = None, by_id: dict[str, Rubric] | None = None):
        self.default = default
        self.by_id = dict(by_id or {})
        self._from_json = lru_cache(maxsize=4096)(self._parse_json)  # a GRPO group repeats its rubric

    @classmethod
    def from_option(cls, value: Any) -> RubricSource:
        """--rubric (or a trainer's rubric=): None, a rubric file (one or many rubrics), a
        library name, or any rubric value."""
        if value is None:
            return cls()
        if isinstance(value, (str, Path)):
            path = Path(value)
            if path.exists() or path.suffix.lower() in SUFFIXES:
                if path.is_dir():
                    raise IsADirectoryError(21, "is a directory, not a rubric file", str(path))
                rubrics = load_rubrics(path)
                return cls(rubrics[0] if len(rubrics) == 1 else None, {r.id: r for r in rubrics})
            rubric = validate_checks(rubric_library.load(str(value)))
        else:
            rubric = to_rubric(value, "default")
        return cls(rubric, {rubric.id: rubric})

    def __call__(self, inline: Any, rubric_id: str | None) -> Rubric:
        """An input line's rubric: its own (``rubric``), one it names (``rubric_id``), or the default."""
        if inline is not None:
            return to_rubric(inline, rubric_id or "inline")
        if rubric_id is not None:
            return self.named(rubric_id)
        if self.default is None:
            if self.by_id:
                raise LookupError("the --rubric file holds several rubrics: name one with 'rubric_id' on the line")
            raise LookupError(NO_RUBRIC)
        return self.default

    def named(self, rubric_id: str) -> Rubric:
        if rubric_id not in self.by_id:
            if rubric_id not in rubric_library.names():
                raise LookupError(f"unknown rubric id {rubric_id!r}: not in --rubric and not a library rubric")
            self.by_id[rubric_id] = validate_checks(rubric_library.load(rubric_id))
        return self.by_id[rubric_id]

    def resolve(self, value: Any) -> Rubric:
        """A dataset column's rubric value: a Rubric, inline rubric JSON (text or parsed), a
        rubric id, a list of principles; None or empty: the default. RubricError otherwise."""
        from pydantic import ValidationError

        try:
            if value is None or (isinstance(value, str) and not value.strip()):
                if self.default is None:
                    raise RubricError("the row names no rubric and no default rubric is set")
                return self.default
            if isinstance(value, str):
                text = value.strip()
                return self._from_json(text) if text[0] in "{[" else self.named(text)
            if hasattr(value, "tolist"):  # numpy arrays from dataset columns
                value = value.tolist()
            return to_rubric(value)
        except RubricError:
            raise
        except (ValueError, LookupError, ValidationError, TypeError) as e:
            raise RubricError(first_line(e)) from e

    def _parse_json(self, text: str) -> Rubric:
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as e:
            raise RubricError(f"not valid JSON ({e.msg} at character {e.pos})") from None
        return to_rubric(parsed)


def first_line(error: Exception) -> str:
    """One line saying what is wrong with a rubric value."""
    from pydantic import ValidationError

    if isinstance(error, ValidationError):
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "rubric"
        return f"invalid rubric at {where}: {first['msg']} ({error.error_count()} error(s))"
    text = message_of(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
