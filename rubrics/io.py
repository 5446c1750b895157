"""Reading and writing rubric files (JSON, JSONL, YAML; native, HealthBench or RaR items).

Every failure raises RubricFileError naming the file, the line or item, and the field.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError

from rubrics import interchange
from rubrics.interchange import Format, to_rubric
from rubrics.model import Rubric

M = TypeVar("M", bound=BaseModel)

SUFFIXES = {".json": "json", ".jsonl": "jsonl", ".yaml": "yaml", ".yml": "yaml"}


class RubricFileError(ValueError):
    """A rubric file that cannot be read, with where and why."""

    def __init__(self, path: str | Path, message: str, *, line: int | None = None, item: int | None = None):
        self.path, self.line, self.item = str(path), line, item
        where = self.path + (f":{line}" if line is not None else "")
        what = f"rubric #{item}: " if item is not None else ""
        super().__init__(f"{where}: {what}{message}")


def field_path(loc: tuple[Any, ...]) -> str:
    """('criteria', 1, 'weight') -> 'criteria[1].weight'"""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def describe_validation_error(error: ValidationError) -> str:
    parts = []
    for e in error.errors():
        parts.append(f"{field_path(tuple(e['loc']))}: {e['msg']}")
    return "; ".join(parts)


def read_json(path: Path) -> Any:
    """A JSON file's value; ValueError naming the file when it is not JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except ValueError as e:
        raise ValueError(f"{path}: not JSON ({e})") from None


def validated(model: type[M], data: Any, path: Path, what: str) -> M:
    """``data`` (read from ``path``) as ``model``; ValueError naming the file, what it should
    have been and every bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise ValueError(f"{path}: not {what}: {describe_validation_error(e)}") from None


def _suffix(path: Path) -> str:
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise RubricFileError(path, f"unknown file type {path.suffix!r}; use one of {sorted(SUFFIXES)}")
    return kind


Record = tuple[Any, int | None, list[int]]  # data, line it starts on, lines of its list items


def _records(path: Path) -> list[Record]:
    """Parsed top-level records of a file, with the lines they start on where known."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise RubricFileError(path, "no such file") from None
    except UnicodeDecodeError as e:
        raise RubricFileError(path, f"not valid UTF-8 (byte {e.start})") from None
    kind = _suffix(path)
    if kind == "jsonl":
        records = []
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    records.append((json.loads(line), number, []))
                except json.JSONDecodeError as e:
                    raise RubricFileError(path, f"invalid JSON: {e.msg} (column {e.colno})", line=number) from None
        return records
    if kind == "json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise RubricFileError(path, f"invalid JSON: {e.msg} (column {e.colno})", line=e.lineno) from None
        return [(data, None, [])]
    try:
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
        documents = list(yaml.safe_load_all(text))
    except yaml.MarkedYAMLError as e:
        line = e.problem_mark.line + 1 if e.problem_mark else None
        raise RubricFileError(path, f"invalid YAML: {e.problem}", line=line) from None
    records = []
    for node, data in zip(nodes, documents):
        if data is not None:
            item_lines = (
                [child.start_mark.line + 1 for child in node.value] if isinstance(node, yaml.SequenceNode) else []
            )
            records.append((data, node.start_mark.line + 1, item_lines))
    return records


def load_rubrics(path: str | Path, fmt: Format = "auto") -> list[Rubric]:
    """All rubrics in a file.

    A JSON/YAML file holds one rubric, a list of rubrics, or one list of HealthBench or
    RaR items (one rubric named after the file); a JSONL file holds one per line.
    """
    path = Path(path)
    rubrics: list[Rubric] = []
    for data, line, item_lines in _records(path):
        is_item_list = (
            fmt in ("healthbench", "rar")
            or interchange.looks_like_healthbench(data)
            or interchange.looks_like_rar(data)
        )
        expand = isinstance(data, list) and not is_item_list
        for index, data_item in enumerate(data if expand else [data]):
            number = len(rubrics) + 1
            if expand:
                line = item_lines[index] if item_lines else None
            try:
                rubrics.append(to_rubric(data_item, _default_id(path, number), fmt=fmt))
            except ValidationError as e:
                raise RubricFileError(path, describe_validation_error(e), line=line, item=number) from None
            except (KeyError, TypeError, ValueError) as e:
                raise RubricFileError(path, f"not a rubric: {e}", line=line, item=number) from None
    if not rubrics:
        raise RubricFileError(path, "holds no rubric")
    seen: set[str] = set()
    for number, rubric in enumerate(rubrics, start=1):
        if rubric.id in seen:
            raise RubricFileError(path, f"duplicate rubric id {rubric.id!r}", item=number)
        seen.add(rubric.id)
    return rubrics


def _default_id(path: Path, number: int) -> str:
    return path.stem if number == 1 else f"{path.stem}-{number}"


def load_rubric(path: str | Path, fmt: Format = "auto") -> Rubric:
    rubrics = load_rubrics(path, fmt)
    if len(rubrics) != 1:
        raise RubricFileError(path, f"holds {len(rubrics)} rubrics where one was expected")
    return rubrics[0]


def rubric_to_data(rubric: Rubric, fmt: Format = "native") -> Any:
    if fmt == "healthbench":
        return interchange.to_healthbench(rubric)
    if fmt == "rar":
        return interchange.to_rar(rubric)
    return rubric.model_dump(mode="json", exclude_defaults=True)


def save_rubrics(rubrics: Iterable[Rubric], path: str | Path, fmt: Format = "native") -> None:
    path = Path(path)
    kind = _suffix(path)
    data = [rubric_to_data(r, fmt) for r in rubrics]
    if kind == "jsonl":
        text = "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in data)
    elif kind == "json":
        text = json.dumps(data[0] if len(data) == 1 else data, ensure_ascii=False, indent=2) + "\n"
    else:
        text = yaml.safe_dump(data[0] if len(data) == 1 else data, sort_keys=False, allow_unicode=True)
    path.write_text(text, encoding="utf-8")


def rubric_file_schema() -> dict[str, Any]:
    """JSON Schema of a native rubric file: one rubric or a list of them."""
    return TypeAdapter(Rubric | list[Rubric]).json_schema()


def describe_rubric_file(path: str | Path, remarks: Callable[[Rubric], list[str]] | None = None) -> list[str]:
    """`rubric rubrics validate`: one line per rubric of a file once every part of it is
    valid, check specs included (ValueError naming the file otherwise), each followed by what
    ``remarks`` says of it (warnings that need more than the data model to see)."""
    from rubrics.checks import validate_checks

    lines = []
    for rubric in load_rubrics(path):
        try:
            validate_checks(rubric)
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None
        pitfalls = sum(c.is_pitfall for c in rubric.criteria)
        lines.append(
            f"{path}: {rubric.id}: {len(rubric.criteria)} criteria ({pitfalls} pitfalls), positive weight {rubric.positive_weight:g}"
        )
        lines += [f"{path}: {rubric.id}: warning: {remark}" for remark in (remarks(rubric) if remarks else [])]
    return lines
