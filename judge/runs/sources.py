"""Where a judge run's records come from, numbered by row: JSON lines, a JSON array, parquet
(a file, or a folder of shards), CSV, and Hugging Face datasets (``hf:NAME[:SPLIT]`` through
``datasets.load_dataset``, or a folder written by ``save_to_disk``), with the column names a
dataset uses mapped onto ours (``Columns``).

Every source yields ``(row, record, file)``: the row number (1-based; the line for JSONL),
the record (bytes of a JSON line, or a dict), and the shard it came from when there are
several, so a bad row is named by file and row. Parquet and datasets are read in batches:
a million-row input is never held in memory at once.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, BinaryIO

from judge.extras import module
from rubrics.records import Skip, register_reader

BOM = b"\xef\xbb\xbf"
BATCH_ROWS = 1024
Record = tuple[int, bytes | dict[str, Any], str | None]


@dataclass(frozen=True)
class Columns:
    """The column that holds each field of an item (``--prompt-column`` and the others)."""

    id: str = "id"
    prompt: str = "prompt"
    response: str = "response"
    rubric: str = "rubric"
    reference: str = "reference"

    @property
    def renamed(self) -> dict[str, str]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) != f.name}

    def apply(self, record: dict[str, Any]) -> dict[str, Any] | str:
        """The record with our field names, or why it cannot have them (a mapped column missing)."""
        renamed = self.renamed
        if not renamed:
            return record
        out = {
            k: v for k, v in record.items() if k not in renamed
        }  # a column of ours that another replaces is not read
        for name, column in renamed.items():
            if column in record:
                out[name] = record[column]
            elif name in ("prompt", "response"):
                return f"missing column {column!r} (--{name}-column)"
        return out


def is_dataset_spec(source: str | Path) -> bool:
    return str(source).startswith("hf:")


def is_lines(source: str | Path) -> bool:
    """Whether the input is JSON lines (its records are lines; the others' are rows)."""
    return (
        not is_dataset_spec(source)
        and not Path(source).is_dir()
        and Path(source).suffix.lower() not in (".parquet", ".csv", ".json")
    )


@contextmanager
def readable_again(source: str | Path) -> Iterator[str | Path]:
    """The input as something a run can read more than once: standard input (``-``) and pipes
    (``/dev/stdin``, ``<(...)``) are copied once to a temporary file, kept for the run."""
    streamed = str(source) == "-" or (
        not is_dataset_spec(source) and (Path(source).is_fifo() or Path(source).is_char_device())
    )
    if not streamed:
        yield source
        return
    with tempfile.TemporaryDirectory(prefix="rubric-input-") as folder:
        copy = Path(folder) / "stdin.jsonl"
        with (
            open(0 if str(source) == "-" else source, "rb", closefd=str(source) != "-") as given,
            open(copy, "wb") as kept,
        ):
            shutil.copyfileobj(given, kept)
        yield copy


def describe_missing(source: str | Path) -> str | None:
    """Why the input cannot be read at all (None when it can be tried)."""
    if is_dataset_spec(source):
        return None
    path = Path(source)
    if not path.exists():
        return f"{path}: no such input file"
    if path.is_dir() and not (saved_dataset(path) or sorted(path.glob("*.parquet"))):
        return f"{path}: a folder input must hold parquet shards or a dataset saved with save_to_disk"
    return None


def records(source: str | Path) -> Iterator[Record]:
    """The records of any input, by its kind."""
    if is_dataset_spec(source):
        yield from _dataset(load_dataset_spec(str(source)), None)
        return
    path = Path(source)
    if path.is_dir():
        if saved_dataset(path):
            yield from _dataset(_datasets().load_from_disk(str(path)), None)
            return
        shards = sorted(path.glob("*.parquet"))
        for shard in shards:
            yield from _parquet(shard, shard.name if len(shards) > 1 else None)
        return
    with open(path, "rb") as handle:
        yield from file_records(handle, str(path), None)


def file_records(handle: BinaryIO, name: str, shard: str | None) -> Iterator[Record]:
    """The records of one file, opened for binary reading, by the kind its name says (also
    what the Ray engine's reader calls for each file it is given)."""
    suffix = Path(name).suffix.lower()
    if suffix == ".parquet":
        yield from _parquet(handle, shard)
    elif suffix == ".arrow":  # a shard of a Hugging Face dataset (Arrow IPC stream)
        yield from _arrow(handle, shard)
    elif suffix == ".csv":
        yield from _csv(handle, shard)
    elif suffix == ".json":
        yield from _json_array(handle, name, shard)
    else:
        yield from _json_lines(handle, shard)


def load_dataset_spec(spec: str) -> Any:
    """``hf:NAME[:SPLIT]`` through ``datasets.load_dataset`` (default split train)."""
    name, _, split = spec[3:].partition(":")
    return _datasets().load_dataset(name, split=split or "train")


def _json_lines(handle: BinaryIO, shard: str | None) -> Iterator[Record]:
    for number, raw in enumerate(handle, start=1):
        if number == 1:
            raw = raw.removeprefix(BOM)
        if raw.strip():
            yield number, raw, shard


def _json_array(handle: BinaryIO, name: str, shard: str | None) -> Iterator[Record]:
    try:
        data = json.loads(handle.read().removeprefix(BOM).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{name}: a .json input must be one JSON array of items ({e})") from None
    if not isinstance(data, list):
        raise ValueError(f"{name}: a .json input must be a JSON array of items, not a JSON {type(data).__name__}")
    for number, record in enumerate(data, start=1):
        yield number, record, shard


def _csv(handle: BinaryIO, shard: str | None) -> Iterator[Record]:
    """CSV rows (the header names the columns); a cell holding a JSON list or object (chat
    messages, an inline rubric) is read as that value."""
    text = io.TextIOWrapper(handle, encoding="utf-8-sig", newline="")
    for number, row in enumerate(csv.DictReader(text), start=1):
        if None in row:
            yield number, {"__error__": f"{len(row[None])} more cells than the header has columns"}, shard
            continue
        yield number, {k: _json_cell(v) for k, v in row.items()}, shard


def _json_cell(value: str | None) -> Any:
    if value and value.lstrip()[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value if value != "" else None


def _parquet(source: Path | BinaryIO, shard: str | None) -> Iterator[Record]:
    pq = module("data", "pyarrow.parquet", "reading parquet")
    yield from _numbered(pq.ParquetFile(source).iter_batches(batch_size=BATCH_ROWS), shard)


def _arrow(handle: BinaryIO, shard: str | None) -> Iterator[Record]:
    pa = module("data", "pyarrow", "reading arrow files")
    yield from _numbered(pa.ipc.open_stream(handle), shard)


def _numbered(batches: Iterable[Any], shard: str | None) -> Iterator[Record]:
    number = 0
    for batch in batches:
        for row in batch.to_pylist():
            number += 1
            yield number, row, shard


def _dataset(data: Any, shard: str | None) -> Iterator[Record]:
    if hasattr(data, "keys") and not hasattr(data, "features"):  # a DatasetDict: which split is not ours to guess
        raise ValueError(
            f"the saved dataset holds several splits ({', '.join(data.keys())}): save one split, or use hf:NAME:SPLIT"
        )
    number = 0
    for batch in data.iter(batch_size=BATCH_ROWS):
        columns = list(batch)
        for values in zip(*(batch[c] for c in columns)):
            number += 1
            yield number, dict(zip(columns, values)), shard


def saved_dataset(path: Path) -> bool:
    return any((path / name).exists() for name in ("dataset_info.json", "state.json", "dataset_dict.json"))


def _datasets() -> Any:
    return module("data", "datasets", "Hugging Face datasets")


def is_table(source: str | Path) -> bool:
    """A source that is no JSON file: a dataset spec, a folder, parquet, CSV or Arrow."""
    if is_dataset_spec(source):
        return True
    return Path(source).is_dir() or Path(source).suffix.lower() in (".parquet", ".csv", ".arrow")


def numbered(source: str | Path) -> Iterator[tuple[int, Any]]:
    """(row, record) of a table source as rubrics.records reads them: a row it could not read
    is a Skip with the reason (named by shard where there are several)."""
    for number, record, shard in records(source):
        if isinstance(record, dict) and "__error__" in record:
            yield number, Skip(f"{shard}: {record['__error__']}" if shard else record["__error__"])
        else:
            yield number, record


# Every command reads tables the way `rubric judge` does: eval and generate too.
register_reader(is_table, numbered)
