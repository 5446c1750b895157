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


class NotARecordFile(ValueError):
    """--output names an existing file that no run wrote: appending to it would mix records into it."""


class VerdictLog:
    """An append-only JSONL file of verdicts that survives being killed mid-run.

    Opening it locks the file itself (an exclusive ``flock`` held while the file is open, so
    two runs never write one file and no lock file is left beside it), drops a partial last
    line (a write cut short) and remembers the records already written (``overwrite``:
    starts the file afresh instead). A file that is not a record file (another dataset,
    notes) is refused unless ``overwrite``: records are never appended into it.

    Each verdict is handed to the operating system as soon as it is written, so a killed
    process (kill -9) loses nothing written; ``fsync`` (what survives a power cut) is
    batched: every ``sync_every`` lines or ``sync_seconds``, and at close. After a machine
    crash at most that unsynced tail is judged again; a partial line is dropped on resume.
    """

    def __init__(self, path: str | Path, *, overwrite: bool = False, sync_every: int = 256, sync_seconds: float = 1.0):
        self.path = Path(path)
        self.sync_every, self.sync_seconds = max(1, sync_every), sync_seconds
        self._unsynced, self._synced_at = 0, time.monotonic()
        self.previous: list[dict[str, Any]] = []
        self.dropped_partial_line = False
        if self.path.is_dir():
            raise IsADirectoryError(21, "is a directory, not a file", str(self.path))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(self.path, "a+b")  # an OSError here names the path (no permission, read-only place)
        try:
            _lock(self._handle, self.path)
            if overwrite:
                self._handle.truncate(0)
            else:
                self._recover()
        except BaseException:
            self._handle.close()
            raise

    def _recover(self) -> None:
        self._handle.seek(0)
        data = self._handle.read()
        complete = data.rfind(b"\n") + 1
        lines = data[:complete].splitlines()
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
                record["item_id"]  # noqa: B018 - a verdict line must name its item
            except (json.JSONDecodeError, KeyError, TypeError):
                self._refuse(number)
            self.previous.append(record)
        partial = data[complete:]
        if partial.strip() and not partial.lstrip().startswith(b"{"):  # not the start of a record cut short
            self._refuse(len(lines) + 1)
        if partial:
            self.dropped_partial_line = True
            self._handle.truncate(complete)

    def drop(self, ids: set[str]) -> None:
        """Take the records of these ids out of the file (a rerun judges them again): the rest
        go to a new file that replaces this one, whose lock is then taken in its place."""
        keep = [r for r in self.previous if str(r["item_id"]) not in ids]
        partial = self.path.with_name(self.path.name + ".partial")
        with open(partial, "wb") as out:
            out.writelines(json.dumps(r, ensure_ascii=False, allow_nan=False).encode("utf-8") + b"\n" for r in keep)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, self.path)
        replaced, self._handle = self._handle, open(self.path, "a+b")
        replaced.close()
        try:
            _lock(self._handle, self.path)
        except BaseException:
            self._handle.close()
            raise
        self.previous = keep

    def _refuse(self, line: int) -> None:
        raise NotARecordFile(
            f"{self.path}:{line}: not a record of a run, so this file is not a run's output; "
            "pass --overwrite to replace it, or another --output"
        )

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
            self._handle.close()  # and with it the lock


def _lock(handle: Any, path: Path) -> None:
    """Hold an exclusive lock on the open output, or say who has it."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock (one run per output is then the user's to keep)
        return
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise OutputBusy(
            f"{path}: another run is writing it; wait for that run to end, or pass another --output"
        ) from None


def open_log(output_path: str | Path, warn: Callable[[str], None], *, overwrite: bool = False) -> VerdictLog:
    """The output file of a resumable run (locked), saying what an earlier, interrupted run left."""
    log = VerdictLog(output_path, overwrite=overwrite)
    if log.dropped_partial_line:
        warn(f"{output_path}: dropped a partial last line left by an interrupted run")
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
        self,
        records: AsyncIterator[BaseModel | dict[str, Any]],
        total: int,
        unit: str,
        progress: bool | None,
        on_record: Callable[[dict[str, Any]], None] | None = None,
        keep: bool = True,
    ) -> list[dict[str, Any]]:
        async def stamped() -> AsyncIterator[dict[str, Any]]:
            async for record in records:
                yield self.stamp(record)

        return write_all(stamped(), self.log, total, unit, progress, on_record, keep)


def open_resumed(
    output_path: str | Path,
    warn: Callable[[str], None],
    run: dict[str, Any],
    hashes: dict[str, str],
    *,
    overwrite: bool = False,
    what: str = "verdict",
) -> Resumed:
    """The output of a resumable run (locked), with the records that may be kept (resume.py:
    ResumeMismatch, the output closed again, when earlier records belong to another run)."""
    run = normalised(run)
    log = open_log(output_path, warn, overwrite=overwrite)
    try:
        kept = matching(output_path, log.previous, run, hashes, what=what)
        if again := {item for item, record in kept.items() if passing_failure(record)}:
            log.drop(again)
            kept = {item: record for item, record in kept.items() if item not in again}
            warn(
                f"{output_path}: {len(again)} {what}s left unscored by a passing failure (connection, timeout, server error, "
                "rate limit) are judged again"
            )
    except BaseException:
        log.close()
        raise
    return Resumed(log, kept, run, hashes)


def passing_failure(record: dict[str, Any]) -> bool:
    """A record with a criterion left unscored for a passing cause: worth judging again."""
    results = record.get("results")
    return isinstance(results, list) and any(isinstance(r, dict) and r.get("transient") for r in results)


def write_all(
    verdicts: AsyncIterator[BaseModel | dict[str, Any]],
    log: VerdictLog,
    total: int,
    unit: str,
    progress: bool | None,
    on_record: Callable[[dict[str, Any]], None] | None = None,
    keep: bool = True,
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
