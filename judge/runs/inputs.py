"""Reading a judge input: items from any source (judge/runs/sources.py: JSON lines, a JSON
array, parquet, CSV, Hugging Face datasets), bad rows as values naming their row."""

from __future__ import annotations

import json
from collections.abc import Callable, Container, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from judge.engine import JudgeItem
from judge.runs.idtable import IdTable
from judge.runs.sources import BOM, Columns, is_lines, records
from rubrics.io import describe_validation_error
from rubrics.model import Rubric
from rubrics.records import Problem, completion_text, message_of

RubricLookup = Callable[[Any, str | None], Rubric]  # (inline rubric or None, rubric id or None) -> Rubric


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
    if (
        isinstance(prompt, list)
        and prompt
        and all(
            isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str) for m in prompt
        )
    ):
        return None
    return "'prompt' must be a string or a non-empty list of {role, content} messages"


def decode_object(raw: bytes, number: int) -> dict[str, Any] | Problem:
    """One input line as a JSON object of real text, or why it is not one."""
    try:
        data = json.loads(
            raw.decode("utf-8").rstrip("\r\n")
        )  # the line's end is not part of it: columns as an editor counts them
    except UnicodeDecodeError as e:
        return Problem(number, f"not valid UTF-8 (byte {e.start} of the line)")
    except json.JSONDecodeError as e:
        return Problem(number, f"not valid JSON: {e.msg} (line {number}, column {e.colno})")
    return checked_object(data, number) if isinstance(data, dict) else Problem(number, "a line must be a JSON object")


def checked_object(data: Any, number: int) -> dict[str, Any] | Problem:
    """A decoded record as a JSON object of real text, or why it is not one."""
    if not isinstance(data, dict):
        return Problem(number, "a record must be a JSON object")
    if has_unpaired_surrogate(data):
        return Problem(number, "holds an unpaired UTF-16 surrogate escape (e.g. \\ud800), which is not text")
    return data


def parse_line(
    raw: bytes | dict[str, Any], number: int, lookup: RubricLookup, columns: Columns = Columns()
) -> JudgeItem | Problem:
    data = decode_object(raw, number) if isinstance(raw, bytes) else checked_object(raw, number)
    if isinstance(data, Problem):
        return data
    if "__error__" in data:  # a row the source could not read (a CSV row with extra cells)
        return Problem(number, data["__error__"])
    mapped = columns.apply(data)
    if isinstance(mapped, str):
        return Problem(number, mapped)
    data = mapped
    if not isinstance(raw, bytes) and isinstance(data.get("rubric"), str) and data["rubric"].lstrip()[:1] in ("[", "{"):
        try:  # a table column holding inline rubric JSON
            data["rubric"] = json.loads(data["rubric"])
        except json.JSONDecodeError as e:
            return Problem(number, f"rubric: not valid JSON: {e.msg}")
    for name in ("prompt", "response"):
        if name not in data:
            return Problem(number, f"missing field {name!r}")
    if (problem := _check_prompt(data["prompt"])) is not None:
        return Problem(number, problem)
    try:  # chat messages (how TRL hands completions): the assistant's text
        response = completion_text(data["response"])
    except ValueError as e:
        return Problem(number, f"'response': {e}")
    if not isinstance(response, str):
        return Problem(number, "'response' must be a string or a list of chat messages")
    reference = data.get("reference")
    if reference is not None and not isinstance(reference, str):
        return Problem(number, "'reference' must be a string")
    item_id = data.get("id", f"line-{number}")
    if not isinstance(item_id, (str, int)) or isinstance(item_id, bool):
        return Problem(number, "'id' must be a string or an integer")
    rubric_id = data.get("rubric_id")
    if rubric_id is not None and not isinstance(rubric_id, str):
        return Problem(number, "'rubric_id' must be a string")
    try:
        rubric = lookup(data.get("rubric"), rubric_id)
    except ValidationError as e:
        return Problem(number, f"inline rubric: {describe_validation_error(e)}")
    except (LookupError, ValueError) as e:
        return Problem(number, message_of(e))
    return JudgeItem(str(item_id), data["prompt"], response, rubric, reference, data.get("id"))


def file_shape(path: str | Path) -> str | None:
    """What a JSON-lines input that fails to parse looks like instead, when that is clear."""
    if not is_lines(path):
        return None
    with open(path, "rb") as handle:
        head = handle.read(4096).removeprefix(BOM)
    start = head.lstrip()[:1]
    if start == b"[":
        return "this is a JSON array; name the file .json, or write one object per line"
    if start == b"{" and b"\n" in head and not head.lstrip().split(b"\n", 1)[0].rstrip().endswith(b"}"):
        return "this looks like one JSON object spread over several lines; write one object per line"
    return None


def binary_problem(path: str | Path) -> str | None:
    """Why a JSON-lines input is not text at all (a NUL byte near its start), or None. Such a
    file is refused whole: no line of it is judged."""
    if not is_lines(path) or not Path(path).is_file():
        return None
    with open(path, "rb") as handle:
        head = handle.read(1 << 16)
    if b"\x00" not in head:
        return None
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return (
            f"{path}: this is UTF-16 text; save it as UTF-8 (JSON lines: one JSON object per line); nothing was judged"
        )
    at = head.index(b"\x00")
    line = head.count(b"\n", 0, at) + 1
    return f"{path}: this is a binary file (a NUL byte on line {line}), not JSON lines (text, one JSON object per line); nothing was judged"


def read_items(
    path: str | Path,
    lookup: RubricLookup,
    skip_ids: Container[str] = frozenset(),
    columns: Columns = Columns(),  # type: ignore[assignment]
) -> Iterator[JudgeItem | Problem]:
    """Items of an input in order; bad rows come out as Problem, never as exceptions."""
    seen = IdTable()  # id -> where it was first: on disk, not growing with the rows
    try:
        for number, raw, shard in records(path):
            parsed = parse_line(raw, number, lookup, columns)
            if isinstance(parsed, Problem):
                yield replace(parsed, file=shard) if shard else parsed
                continue
            where = f"{shard}:{number}" if shard else str(number)
            if shard:  # ids made from row numbers must not collide across shards
                parsed = (
                    replace(parsed, id=parsed.id.replace("line-", f"{shard}:row-", 1))
                    if parsed.input_id is None
                    else parsed
                )
            if (first := seen.add(parsed.id, where)) is not None:
                yield Problem(
                    number, f"duplicate id {parsed.id!r} (first on {'row' if shard else 'line'} {first})", shard
                )
                continue
            if parsed.id in skip_ids:
                continue
            yield parsed
    finally:
        seen.close()
