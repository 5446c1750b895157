"""Verdicts as a parquet file (an ``--output`` ending in .parquet), for pandas and datasets.

A parquet file cannot be appended to line by line, so the run keeps its resumable JSON-lines
log beside it (``OUTPUT.parquet.jsonl``: kill -9 safe, resumed as any log) and writes the
parquet file from that log when the run ends, in batches (memory bounded), atomically.

One row per verdict with a fixed schema, the same in every file: the verdict's scalar fields
as columns; ``results`` (one struct per criterion: id, kind, weight, status, p_yes, met,
reason, label, explanation) as a nested list column; the fields whose shape varies
(``notes``, ``jury``, ``run`` and each result's ``notes``/``jury``) as JSON text.
"""

from __future__ import annotations

import json
import os
from collections.abc import Container, Iterator
from pathlib import Path
from typing import Any

from judge.extras import module

BATCH_ROWS = 4096


def log_path(output: str | Path) -> Path:
    """Where the resumable log of a run lives: the output itself, or beside a parquet output."""
    output = Path(output)
    return output.with_name(output.name + ".jsonl") if is_parquet(output) else output


def is_parquet(output: str | Path) -> bool:
    return Path(output).suffix.lower() == ".parquet"


def pyarrow_modules() -> Any:
    return module("data", "pyarrow", "a parquet output"), module("data", "pyarrow.parquet", "a parquet output")


def schema() -> Any:
    pa, _ = pyarrow_modules()
    result = pa.struct(
        [
            ("criterion_id", pa.string()),
            ("kind", pa.string()),
            ("weight", pa.float64()),
            ("status", pa.string()),
            ("p_yes", pa.float64()),
            ("p_yes_raw", pa.float64()),
            ("met", pa.bool_()),
            ("reason", pa.string()),
            ("label", pa.string()),
            ("explanation", pa.string()),
            ("disputed", pa.bool_()),
            ("notes_json", pa.string()),
            ("jury_json", pa.string()),
        ]
    )
    return pa.schema(
        [
            ("id", pa.string()),
            ("item_id", pa.string()),
            ("rubric_id", pa.string()),
            ("model", pa.string()),
            ("status", pa.string()),
            ("score", pa.float64()),
            ("hard_score", pa.float64()),
            ("threshold", pa.float64()),
            ("gate", pa.string()),
            ("n_scored", pa.int64()),
            ("n_unscored", pa.int64()),
            ("n_skipped", pa.int64()),
            ("reason", pa.string()),
            ("request_shape", pa.string()),
            ("template_version", pa.string()),
            ("calibration", pa.string()),
            ("input_hash", pa.string()),
            ("results", pa.list_(result)),
            ("notes_json", pa.string()),
            ("jury_json", pa.string()),
            ("run_json", pa.string()),
        ]
    )


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def row(record: dict[str, Any]) -> dict[str, Any]:
    """One verdict record (a log line) as a parquet row of the fixed schema."""
    plain = (
        "item_id",
        "rubric_id",
        "model",
        "status",
        "score",
        "hard_score",
        "threshold",
        "gate",
        "n_scored",
        "n_unscored",
        "n_skipped",
        "reason",
        "request_shape",
        "template_version",
        "calibration",
        "input_hash",
    )
    out = {name: record.get(name) for name in plain}
    out["id"] = None if record.get("id") is None else str(record["id"])
    out["results"] = [
        {
            **{
                k: r.get(k)
                for k in (
                    "criterion_id",
                    "kind",
                    "weight",
                    "status",
                    "p_yes",
                    "p_yes_raw",
                    "met",
                    "reason",
                    "label",
                    "explanation",
                    "disputed",
                )
            },
            "notes_json": _json(r.get("notes")),
            "jury_json": _json(r.get("jury")),
        }
        for r in record.get("results", [])
    ]
    out["notes_json"], out["jury_json"], out["run_json"] = (
        _json(record.get("notes")),
        _json(record.get("jury")),
        _json(record.get("run")),
    )
    return out


def record(parquet: dict[str, Any]) -> dict[str, Any]:
    """A parquet row back as the verdict record it was made from (the JSON text fields parsed)."""
    out = {k: v for k, v in parquet.items() if not k.endswith("_json") and k != "results"}
    for name in ("notes", "jury", "run"):
        out[name] = _parsed(parquet.get(f"{name}_json"))
    out["results"] = [
        {
            **{k: v for k, v in r.items() if not k.endswith("_json")},
            "notes": _parsed(r.get("notes_json")) or [],
            "jury": _parsed(r.get("jury_json")),
        }
        for r in parquet.get("results") or []
    ]
    out["notes"] = out["notes"] or []
    return out


def _parsed(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _records(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, "rb") as handle:
        for line in handle:
            if line.strip():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue  # an unreadable line was reported when the log was opened
                if isinstance(record, dict) and "item_id" in record:
                    yield record


def write_parquet(log: str | Path, output: str | Path, keep: Container[str] | None = None) -> int:
    """Write the verdicts of the log (those of ``keep`` ids, if given) to ``output``; rows written."""
    pa, pq = pyarrow_modules()
    output = Path(output)
    partial = output.with_name(output.name + ".partial")
    table_schema = schema()
    written = 0
    with pq.ParquetWriter(partial, table_schema) as writer:
        batch: list[dict[str, Any]] = []
        for record in _records(Path(log)):
            if keep is not None and str(record["item_id"]) not in keep:
                continue
            batch.append(row(record))
            if len(batch) >= BATCH_ROWS:
                writer.write_table(pa.Table.from_pylist(batch, schema=table_schema))
                written, batch = written + len(batch), []
        if batch:
            writer.write_table(pa.Table.from_pylist(batch, schema=table_schema))
            written += len(batch)
    os.replace(partial, output)
    return written
