"""Reading judge input lines and writing verdicts incrementally, so a run can resume."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from judge.engine import JudgeItem
from rubrics.io import describe_validation_error
from rubrics.model import Rubric

RubricLookup = Callable[[Any, str | None], Rubric]  # (inline rubric or None, rubric id or None) -> Rubric


@dataclass(frozen=True)
class LineError:
    line: int
    message: str


def has_unpaired_surrogate(value: Any) -> bool:
    """Whether a decoded JSON value holds a lone UTF-16 surrogate (valid JSON, not text)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, list):
        return any(has_unpaired_surrogate(v) for v in value)
    if isinstance(value, dict):
        return any(has_unpaired_surrogate(v) for v in value.values())
    return False


def _check_prompt(prompt: Any) -> str | None:
    if isinstance(prompt, str):
        return None
    if isinstance(prompt, list) and prompt and all(
        isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str) for m in prompt
    ):
        return None
    return "'prompt' must be a string or a non-empty list of {role, content} messages"


def decode_object(raw: bytes, number: int) -> dict[str, Any] | LineError:
    """One input line as a JSON object of real text, or why it is not one."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        return LineError(number, f"not valid UTF-8 (byte {e.start} of the line)")
    except json.JSONDecodeError as e:
        return LineError(number, f"not valid JSON: {e.msg} (column {e.colno})")
    if not isinstance(data, dict):
        return LineError(number, "a line must be a JSON object")
    if has_unpaired_surrogate(data):
        return LineError(number, "holds an unpaired UTF-16 surrogate escape (e.g. \\ud800), which is not text")
    return data


def parse_line(raw: bytes, number: int, lookup: RubricLookup) -> JudgeItem | LineError:
    data = decode_object(raw, number)
    if isinstance(data, LineError):
        return data
    for name in ("prompt", "response"):
        if name not in data:
            return LineError(number, f"missing field {name!r}")
    if (problem := _check_prompt(data["prompt"])) is not None:
        return LineError(number, problem)
    if not isinstance(data["response"], str):
        return LineError(number, "'response' must be a string")
    reference = data.get("reference")
    if reference is not None and not isinstance(reference, str):
        return LineError(number, "'reference' must be a string")
    item_id = data.get("id", f"line-{number}")
    if not isinstance(item_id, (str, int)) or isinstance(item_id, bool):
        return LineError(number, "'id' must be a string or an integer")
    rubric_id = data.get("rubric_id")
    if rubric_id is not None and not isinstance(rubric_id, str):
        return LineError(number, "'rubric_id' must be a string")
    try:
        rubric = lookup(data.get("rubric"), rubric_id)
    except ValidationError as e:
        return LineError(number, f"inline rubric: {describe_validation_error(e)}")
    except (LookupError, ValueError) as e:
        return LineError(number, str(e).strip("'\""))
    return JudgeItem(str(item_id), data["prompt"], data["response"], rubric, reference)


def read_items(path: str | Path, lookup: RubricLookup, skip_ids: set[str] = frozenset()) -> Iterator[JudgeItem | LineError]:  # type: ignore[assignment]
    """Items of an input file in order; bad lines come out as LineError, never as exceptions."""
    seen: dict[str, int] = {}
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            parsed = parse_line(raw, number, lookup)
            if isinstance(parsed, JudgeItem):
                if parsed.id in seen:
                    yield LineError(number, f"duplicate id {parsed.id!r} (first on line {seen[parsed.id]})")
                    continue
                seen[parsed.id] = number
                if parsed.id in skip_ids:
                    continue
            yield parsed


def count_lines(path: str | Path) -> int:
    with open(path, "rb") as handle:
        return sum(1 for raw in handle if raw.strip())


class VerdictLog:
    """An append-only JSONL file of verdicts that survives being killed mid-run.

    Opening it drops a partial last line (a write cut short) and remembers the ids
    already judged; each verdict is flushed as soon as it is written.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.previous: list[dict[str, Any]] = []
        self.dropped_partial_line = False
        self.unreadable_lines: list[int] = []
        if self.path.exists():
            self._recover()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(self.path, "ab")

    def _recover(self) -> None:
        data = self.path.read_bytes()
        complete = data.rfind(b"\n") + 1
        if complete < len(data):
            self.dropped_partial_line = True
            with open(self.path, "r+b") as handle:
                handle.truncate(complete)
        for number, raw in enumerate(data[:complete].splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
                record["item_id"]  # noqa: B018 - a verdict line must name its item
                self.previous.append(record)
            except (json.JSONDecodeError, KeyError, TypeError):
                self.unreadable_lines.append(number)

    @property
    def done_ids(self) -> set[str]:
        return {str(r["item_id"]) for r in self.previous}

    def write(self, record: dict[str, Any]) -> None:
        self._handle.write(json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def close(self) -> None:
        self._handle.close()
