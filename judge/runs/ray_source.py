"""The Ray engine's reader: any judge input (judge/runs/sources.py) as a Ray Data read, so
that Ray's checkpointing (which filters what a read yields by id) can resume a run.

Each file is read by the same per-file readers as a single-process run. A row comes out as
``{id, record, error, row, file}``: the item's id as text (its id column, else ``line-N``,
or ``SHARD:row-N`` for inputs of several files, as judge/runs/inputs.py names them), the
record as JSON text, and why it could not be read (a bad line becomes an unscored verdict
downstream, never an exception in the read).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rubrics.records import Problem
from judge.runs.inputs import decode_object
from judge.runs.sources import Columns, file_records, is_dataset_spec, load_dataset_spec, saved_dataset

ROWS_PER_BLOCK = 1024


def input_files(source: str | Path) -> list[str]:
    """The files of an input, in order: the file itself, a folder's parquet shards, a saved
    dataset's arrow shards, or the local arrow files of ``hf:NAME[:SPLIT]``."""
    if is_dataset_spec(source):
        return [entry["filename"] for entry in load_dataset_spec(str(source)).cache_files]
    path = Path(source)
    if not path.is_dir():
        return [str(path.resolve())]
    pattern = "*.arrow" if saved_dataset(path) else "*.parquet"
    return [str(p.resolve()) for p in sorted(path.glob(pattern))]


def item_row(number: int, raw: bytes | dict[str, Any], shard: str | None, id_column: str) -> dict[str, Any]:
    """One input record as a row of the read: its id worked out as a single-process run does."""
    data = decode_object(raw, number) if isinstance(raw, bytes) else raw
    default_id = f"{shard}:row-{number}" if shard else f"line-{number}"
    if isinstance(data, Problem):
        return {"id": default_id, "record": None, "error": data.message, "row": number, "file": shard}
    given = data.get(id_column) if isinstance(data, dict) else None
    item_id = str(given) if isinstance(given, (str, int)) and not isinstance(given, bool) else default_id
    return {
        "id": item_id,
        "record": json.dumps(data, ensure_ascii=False, default=str),
        "error": None,
        "row": number,
        "file": shard,
    }


def datasource(files: list[str], columns: Columns) -> Any:
    """A Ray Data datasource over the input's files (built here: ray is imported only now)."""
    import pyarrow as pa
    from ray.data.datasource import FileBasedDatasource

    schema = pa.schema(
        [
            ("id", pa.string()),
            ("record", pa.string()),
            ("error", pa.string()),
            ("row", pa.int64()),
            ("file", pa.string()),
        ]
    )
    several = len(files) > 1

    class JudgeInputFiles(FileBasedDatasource):
        def _open_input_source(self, filesystem: Any, path: str, **open_args: Any) -> Any:
            if path.endswith(".parquet"):  # parquet seeks to its footer: a random-access file
                return filesystem.open_input_file(path)
            return super()._open_input_source(filesystem, path, **open_args)

        def _read_stream(self, f: Any, path: str) -> Iterator[Any]:
            shard = Path(path).name if several else None
            handle = f if path.endswith(".parquet") else io.BufferedReader(f)
            rows: list[dict[str, Any]] = []
            for number, raw, _ in file_records(handle, path, shard):
                rows.append(item_row(number, raw, shard, columns.id))
                if len(rows) >= ROWS_PER_BLOCK:
                    yield pa.Table.from_pylist(rows, schema=schema)
                    rows = []
            if rows:
                yield pa.Table.from_pylist(rows, schema=schema)

    return JudgeInputFiles(files)  # named one by one: a JSON-lines file may have any suffix
