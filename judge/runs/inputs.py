"""Reading a judge input file: items of JSON lines (or a .json array), bad lines as values."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from judge.engine import JudgeItem
from rubrics.io import describe_validation_error
from rubrics.model import Rubric
from rubrics.records import message_of

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
    return checked_object(data, number) if isinstance(data, dict) else LineError(number, "a line must be a JSON object")


def checked_object(data: Any, number: int) -> dict[str, Any] | LineError:
    """A decoded record as a JSON object of real text, or why it is not one."""
    if not isinstance(data, dict):
        return LineError(number, "a record must be a JSON object")
    if has_unpaired_surrogate(data):
        return LineError(number, "holds an unpaired UTF-16 surrogate escape (e.g. \\ud800), which is not text")
    return data


def parse_line(raw: bytes | dict[str, Any], number: int, lookup: RubricLookup) -> JudgeItem | LineError:
    data = decode_object(raw, number) if isinstance(raw, bytes) else checked_object(raw, number)
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
        return LineError(number, message_of(e))
    return JudgeItem(str(item_id), data["prompt"], data["response"], rubric, reference, data.get("id"))


BOM = b"\xef\xbb\xbf"


def raw_records(path: str | Path) -> Iterator[tuple[int, bytes | dict[str, Any]]]:
    """(number, record) of an input file: its JSON lines (bytes, a UTF-8 BOM dropped), or,
    for a ``.json`` file holding a JSON array, its elements (numbered from 1)."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_bytes().removeprefix(BOM).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ValueError(f"{path}: a .json input must be one JSON array of items ({e})") from None
        if not isinstance(data, list):
            raise ValueError(f"{path}: a .json input must be a JSON array of items, not a JSON {type(data).__name__}")
        yield from enumerate(data, start=1)
        return
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if number == 1:
                raw = raw.removeprefix(BOM)
            if raw.strip():
                yield number, raw


def file_shape(path: str | Path) -> str | None:
    """What a JSON-lines input that fails to parse looks like instead, when that is clear."""
    with open(path, "rb") as handle:
        head = handle.read(4096).removeprefix(BOM)
    if b"\x00" in head:
        return "this is a binary file, not JSON lines (text, one JSON object per line)"
    start = head.lstrip()[:1]
    if start == b"[":
        return "this is a JSON array; name the file .json, or write one object per line"
    if start == b"{" and b"\n" in head and not head.lstrip().split(b"\n", 1)[0].rstrip().endswith(b"}"):
        return "this looks like one JSON object spread over several lines; write one object per line"
    return None


def read_items(path: str | Path, lookup: RubricLookup, skip_ids: set[str] = frozenset()) -> Iterator[JudgeItem | LineError]:  # type: ignore[assignment]
    """Items of an input file in order; bad lines come out as LineError, never as exceptions."""
    seen: dict[str, int] = {}
    for number, raw in raw_records(path):
        parsed = parse_line(raw, number, lookup)
        if isinstance(parsed, JudgeItem):
            if parsed.id in seen:
                yield LineError(number, f"duplicate id {parsed.id!r} (first on line {seen[parsed.id]})")
                continue
            seen[parsed.id] = number
            if parsed.id in skip_ids:
                continue
        yield parsed
