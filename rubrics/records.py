"""Reading records of data files, whatever their layout, with one error convention.

A file is JSON lines (whatever it is called: some datasets ship JSONL as .json, a .gz is
read through gzip, a UTF-8 BOM is ignored), a JSON list, or a JSON object of records keyed
by id. Lenient readers (``load_records``) count a record that makes no item under its
reason in a ``LoadReport``, naming the first few as ``file:line: reason``; strict readers
(``objects``) raise ``ValueError("file:line: reason")`` at the first one.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rubrics.model import id_safe


def message_of(error: BaseException) -> str:
    """An exception's message; a KeyError's without the quotes its str() adds."""
    if isinstance(error, KeyError) and len(error.args) == 1:
        return str(error.args[0])
    return str(error)


def completion_text(completion: Any) -> Any:
    """A plain-string completion as is; a conversational one (a list of messages) as the
    text of its assistant messages. A malformed message list raises ValueError saying what
    is wrong (a typo in a key must not be judged as an empty answer). Anything else is
    returned for the scorer to refuse."""
    if isinstance(completion, str):
        return completion
    if not isinstance(completion, list):
        return completion
    if not completion:
        raise ValueError("an empty list of messages, with no assistant message to judge")
    parts = []
    for number, message in enumerate(completion, 1):
        where = f"message {number}"
        if not isinstance(message, dict):
            raise ValueError(f"{where} is a {type(message).__name__}, not an object with 'role' and 'content'")
        role = message.get("role")
        if not isinstance(role, str):
            raise ValueError(f"{where} has no 'role' (keys: {', '.join(map(str, message)) or 'none'})")
        if role == "assistant":
            parts.append(_assistant_text(message, where))
    if not parts:
        roles = ", ".join(sorted({m["role"] for m in completion}))
        raise ValueError(f"no assistant message to judge (roles: {roles})")
    return "\n".join(part for part in parts if part)


def _assistant_text(message: dict[str, Any], where: str) -> str:
    """An assistant message's text: its content string, or its text blocks joined."""
    if "content" not in message:
        keys = ", ".join(map(str, message))
        raise ValueError(f"{where} (assistant) has no 'content' (keys: {keys})")
    content = message["content"]
    if content is None and message.get("tool_calls"):  # a turn that only calls tools has no text
        return ""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise ValueError(f"{where} (assistant): 'content' is a {type(content).__name__}, not text or content blocks")
    texts = []
    for block in content:
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise ValueError(f"{where} (assistant): a content block without a 'type'")
        if block["type"] == "text":
            if not isinstance(block.get("text"), str):
                raise ValueError(f"{where} (assistant): a text block without a 'text' string")
            texts.append(block["text"])
    return "".join(texts)


@dataclass(frozen=True)
class Problem:
    """A record that makes no item, and why: the one problem type of every reader (a judge
    run's input line, an eval or generate record, a pair)."""

    line: int | None  # the line of a JSON-lines file, else the row (1-based); None: the whole file
    message: str
    file: str | None = None  # the file, or the shard of an input of several files

    def __str__(self) -> str:
        where = ":".join(str(part) for part in (self.file, self.line) if part is not None)
        return f"{where}: {self.message}" if where else self.message


@dataclass
class LoadReport:
    read: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    unit: str = "pairs"
    problems: list[Problem] = field(default_factory=list)  # the first skips, each "file:line: reason"
    max_problems: int = 20

    def skip(self, reason: str, file: str, line: int | None, detail: str | None = None) -> None:
        """Count a skipped record under ``reason``; remember where, for the first few."""
        self.skipped[reason] += 1
        if len(self.problems) < self.max_problems:
            self.problems.append(Problem(line, detail or reason, file))

    @property
    def kept(self) -> int:
        return self.read - sum(self.skipped.values())

    def describe(self) -> str:
        reasons = ", ".join(f"{n} {why}" for why, n in self.skipped.most_common())
        return f"{self.kept} {self.unit} from {self.read} records" + (f" (skipped: {reasons})" if reasons else "")

    def unusable(self) -> str | None:
        """Why a run should not go on with this input: nothing usable, or most records
        skipped (a layout we do not read, most likely); None when it is fine."""
        if self.kept == 0:
            return f"no usable {self.unit}: {self.describe()}"
        if sum(self.skipped.values()) > self.read / 2:
            return f"most records were skipped, so the layout is probably not one we read: {self.describe()}"
        return None


class Skip(Exception):
    """This record makes no pair; the message is the counted reason."""


# Readers of more kinds of input, added by the layer that has them (judge/runs/sources.py:
# parquet, CSV, Arrow, Hugging Face datasets): (does it read this source?, its records).
READERS: list[tuple[Callable[[str], bool], Callable[[str], Iterator[tuple[int, Any]]]]] = []


def register_reader(reads: Callable[[str], bool], read: Callable[[str], Iterator[tuple[int, Any]]]) -> None:
    """Add a reader for the sources ``reads`` accepts: every command that reads records
    (judging, eval, generating, pairs) then reads them the same way."""
    if (reads, read) not in READERS:
        READERS.append((reads, read))


def read_records(path: str | Path) -> Iterator[tuple[int, Any]]:
    """(number, record) of a source: a registered reader's kind (a table, a dataset), else a
    file of JSON lines (whatever the file is called: some datasets ship JSONL as .json), a
    JSON list, or a JSON object of records keyed by id. A line that is not JSON comes out as
    a Skip."""
    for reads, read in READERS:
        if reads(str(path)):
            yield from read(str(path))
            return
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8-sig") as handle:  # type: ignore[operator]
        text = handle.read()
    if not path.name.endswith((".jsonl", ".jsonl.gz")):
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            data = None  # more than one value: JSON lines
        if isinstance(data, list):
            yield from enumerate(data, start=1)
            return
        if isinstance(data, dict) and data and all(isinstance(v, dict) for v in data.values()):
            yield from enumerate(data.values(), start=1)
            return
        if data is not None:
            raise ValueError(f"{path}: expected JSON lines, a JSON list of records, or an object of records")
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError:
                yield number, Skip("not JSON")


def load_records(path: str | Path, report: LoadReport | None, make: Any) -> Iterator[Any]:
    """``make(record, default_id)`` over a file's records (read_records); a Skip it raises is
    counted in ``report`` by its reason, and so is a repeated ``.id``."""
    path = Path(path)
    report = report if report is not None else LoadReport()
    seen: set[str] = set()
    for number, record in read_records(path):
        report.read += 1
        try:
            pair = make(record, f"{path.stem}-{number}")
        except Skip as e:
            report.skip(str(e), str(path), number)
            continue
        if pair.id in seen:
            report.skip("duplicate id", str(path), number, f"duplicate id {pair.id!r}")
            continue
        seen.add(pair.id)
        yield pair


def objects(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(number, record) of a file whose every record must be a JSON object; ValueError
    naming the file and line at the first that is not."""
    path = Path(path)
    for number, record in read_records(path):
        if isinstance(record, Skip):
            raise ValueError(f"{path}:{number}: {record}")
        if not isinstance(record, dict):
            raise ValueError(f"{path}:{number}: a record must be a JSON object")
        yield number, record


def text_record(
    record: Any, default_id: str, fields: tuple[str, ...], id_fields: tuple[str, ...], what: str
) -> tuple[str, str]:
    """(id, text) of a record holding one text under the first of ``fields`` (instructions,
    questions); the id is the first of ``id_fields`` present, made id-safe."""
    if isinstance(record, Skip):
        raise record
    if not isinstance(record, dict):
        raise Skip("not a JSON object")
    text = next((record[k] for k in fields if isinstance(record.get(k), str)), None)
    if text is None:
        raise Skip(f"missing field {' / '.join(fields)}")
    if not text.strip():
        raise Skip(f"empty {what}")
    raw_id = next((record[k] for k in id_fields if record.get(k) is not None), None)
    return (id_safe(str(raw_id)) if raw_id is not None else default_id), text
