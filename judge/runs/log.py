"""The output of a resumable run: an append-only JSON-lines file, locked, that survives
being killed mid-run, written one record at a time as results arrive."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from tqdm import tqdm

from judge.aio import run_sync
from judge.runs.resume import matching, normalised


class OutputBusy(RuntimeError):
    """Another run holds the output file."""


class VerdictLog:
    """An append-only JSONL file of verdicts that survives being killed mid-run.

    Opening it takes an exclusive lock (``PATH.lock``, so two runs never write one file),
    drops a partial last line (a write cut short) and remembers the records already
    written (``overwrite``: starts the file afresh instead).

    Each verdict is handed to the operating system as soon as it is written, so a killed
    process (kill -9) loses nothing written; ``fsync`` (what survives a power cut) is
    batched: every ``sync_every`` lines or ``sync_seconds``, and at close. After a machine
    crash at most that unsynced tail is judged again; a partial line is dropped on resume.
    """

    def __init__(self, path: str | Path, *, overwrite: bool = False, sync_every: int = 256, sync_seconds: float = 1.0):
        from filelock import FileLock, Timeout

        self.path = Path(path)
        self.sync_every, self.sync_seconds = max(1, sync_every), sync_seconds
        self._unsynced, self._synced_at = 0, time.monotonic()
        self.previous: list[dict[str, Any]] = []
        self.dropped_partial_line = False
        self.unreadable_lines: list[int] = []
        if self.path.is_dir():
            raise IsADirectoryError(21, "is a directory, not a file", str(self.path))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = FileLock(f"{self.path}.lock", timeout=0)
        try:
            self._lock.acquire()
        except Timeout:
            raise OutputBusy(f"{self.path}: another run is writing it (it holds {self.path}.lock); "
                             "wait for that run to end, or pass another --output") from None
        try:
            if overwrite:
                self.path.unlink(missing_ok=True)
            if self.path.exists():
                self._recover()
            self._handle = open(self.path, "ab")
        except BaseException:
            self._lock.release()
            raise

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
        self._handle.write(json.dumps(record, ensure_ascii=False, allow_nan=False).encode("utf-8") + b"\n")
        self._handle.flush()  # in the OS's hands: a killed process loses nothing
        self._unsynced += 1
        if self._unsynced >= self.sync_every or time.monotonic() - self._synced_at >= self.sync_seconds:
            self.sync()

    def sync(self) -> None:
        if self._unsynced:
            os.fsync(self._handle.fileno())
            self._unsynced, self._synced_at = 0, time.monotonic()

    def close(self) -> None:
        if not self._handle.closed:
            self.sync()
            self._handle.close()
            self._lock.release()


def open_log(output_path: str | Path, warn: Callable[[str], None], *, overwrite: bool = False) -> VerdictLog:
    """The output file of a resumable run (locked), saying what an earlier, interrupted run left."""
    log = VerdictLog(output_path, overwrite=overwrite)
    if log.dropped_partial_line:
        warn(f"{output_path}: dropped a partial last line left by an interrupted run")
    for number in log.unreadable_lines:
        warn(f"{output_path}:{number}: not a verdict line; kept as it is and ignored")
    return log


@dataclass
class Resumed:
    """A run's output opened to go on: the earlier records this same run made for this same
    input (``kept``), and every new record stamped with what it depends on."""

    log: VerdictLog
    kept: dict[str, dict[str, Any]]
    run: dict[str, Any]
    hashes: dict[str, str]

    def stamp(self, record: BaseModel | dict[str, Any]) -> dict[str, Any]:
        plain = record.model_dump(mode="json") if isinstance(record, BaseModel) else record
        return {**plain, "run": self.run, "input_hash": self.hashes[str(plain["item_id"])]}

    def write_all(
        self, records: AsyncIterator[BaseModel | dict[str, Any]], total: int, unit: str, progress: bool | None,
        on_record: Callable[[dict[str, Any]], None] | None = None, keep: bool = True,
    ) -> list[dict[str, Any]]:
        async def stamped() -> AsyncIterator[dict[str, Any]]:
            async for record in records:
                yield self.stamp(record)

        return write_all(stamped(), self.log, total, unit, progress, on_record, keep)


def open_resumed(
    output_path: str | Path, warn: Callable[[str], None], run: dict[str, Any], hashes: dict[str, str], *,
    overwrite: bool = False, what: str = "verdict",
) -> Resumed:
    """The output of a resumable run (locked), with the records that may be kept (resume.py:
    ResumeMismatch, the output closed again, when earlier records belong to another run)."""
    run = normalised(run)
    log = open_log(output_path, warn, overwrite=overwrite)
    try:
        kept = matching(output_path, log.previous, run, hashes, what=what)
    except BaseException:
        log.close()
        raise
    return Resumed(log, kept, run, hashes)


def write_all(
    verdicts: AsyncIterator[BaseModel | dict[str, Any]], log: VerdictLog, total: int, unit: str, progress: bool | None,
    on_record: Callable[[dict[str, Any]], None] | None = None, keep: bool = True,
) -> list[dict[str, Any]]:
    """Write each verdict (a model or a plain record) to the log as it arrives (progress
    bar on a terminal), hand it to ``on_record``; close the log. The records written are
    returned unless ``keep`` is false (a long run summarises as it goes instead)."""
    new: list[dict[str, Any]] = []

    async def run() -> None:
        with tqdm(total=total, unit=unit, file=sys.stderr, disable=None if progress is None else not progress) as bar:
            async for verdict in verdicts:
                record = verdict.model_dump(mode="json") if isinstance(verdict, BaseModel) else verdict
                log.write(record)
                if on_record is not None:
                    on_record(record)
                if keep:
                    new.append(record)
                bar.update()

    try:
        run_sync(run())
    finally:
        log.close()
    return new
