"""Code checks run in worker processes, each under a hard time limit.

A check's cost can explode with its input: math-verify (sympy) reading
``\\boxed{9^{9^{9^{9}}}}`` works on a number with billions of digits inside one C call that
holds the GIL, so neither a signal nor another thread can stop it, and a GRPO policy can
write such an answer by itself. So no check runs in the caller's process. A bounded pool
of workers (``python -c`` children running judge/checks/worker.py, not multiprocessing:
that would re-run the user's unguarded training script in every child) takes the checks;
the caller only waits on a future (``arun`` never blocks the event loop). A check still
running after ``timeout`` seconds is unscored with the reason, and its worker is killed and
replaced by a spare started ahead. Workers serve the waiting callers in turn (a server's
caller is one client request, judge.item.JudgeItem.client), so one caller's slow checks
hold another's for one timeout at most.

Settings: ``RUBRIC_JUDGE_CHECK_WORKERS`` (default 2) and ``RUBRIC_JUDGE_CHECK_TIMEOUT``
(seconds, default 5), read when the shared pool starts; ``configure`` replaces it.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import select
import subprocess
import sys
import tempfile
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from judge.checks.outcome import CheckOutcome

DEFAULT_WORKERS = 2
DEFAULT_TIMEOUT = 5.0
TURN = 64  # checks a worker takes from one caller at a time (one message: the pipe's round trip is most of a cheap check's cost)
STARTUP_TIMEOUT = 120.0  # importing math-verify and langdetect on a busy machine; not a check's time
# The package root the caller imported us from: the child imports the same code.
_ROOT = str(Path(__file__).resolve().parents[2])
_BOOT = "import sys; sys.path.insert(0, sys.argv[1]); from judge.checks.worker import main; main()"


CLOSED = CheckOutcome(None, "check not made: the check pool was closed")


@dataclass(frozen=True)
class CheckCall:
    """One check to make: the registry's check type, what it reads, and its spec."""

    type: str
    response: str
    reference: str | None
    spec: dict[str, Any] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        return {"type": self.type, "response": self.response, "reference": self.reference, "spec": self.spec}


def _setting(name: str, default: float, minimum: float) -> float:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r}: expected a number of at least {minimum:g}") from None
    if value < minimum:
        raise ValueError(f"{name}={raw!r}: expected a number of at least {minimum:g}")
    return value


class _Turns:
    """Tasks grouped by caller, handed out one caller at a time in turn (thread-safe)."""

    def __init__(self) -> None:
        self._groups: OrderedDict[object, deque[Any]] = OrderedDict()
        self._ready = threading.Condition()
        self._closed = False

    def put(self, group: object, tasks: Sequence[Any], started: bool = False) -> bool:
        """Queue a caller's tasks (``started``: handed back unfinished); False once closed."""
        with self._ready:
            if self._closed:
                return False
            self._groups.setdefault(group, deque()).extend((task, started) for task in tasks)
            if started:  # its turn was cut short by a slow check: the others go first
                self._groups.move_to_end(group)
            self._ready.notify(len(tasks))
            return True

    def get(self, limit: int, share: int) -> tuple[object, list[Any]] | None:
        """The next caller and a turn of its tasks (a share of them, at most limit), or None once closed."""
        with self._ready:
            while not self._groups and not self._closed:
                self._ready.wait()
            if self._closed:
                return None
            group, tasks = self._groups.popitem(last=False)
            turn = [tasks.popleft() for _ in range(min(limit, -(-len(tasks) // share)))]
            if tasks:
                self._groups[group] = tasks  # to the back of the line
            return group, turn

    def close(self) -> list[Any]:
        """Stop handing out tasks; returns the ones never handed out."""
        with self._ready:
            self._closed = True
            left = [task for tasks in self._groups.values() for task in tasks]
            self._groups.clear()
            self._ready.notify_all()
            return left


class _Worker:
    """One child process answering checks over its pipes, a JSON line each way."""

    def __init__(self) -> None:
        self._log = tempfile.TemporaryFile()  # the child's stderr: its last lines say why it died
        self._buffer = b""
        self.timed_out = False
        self.process = subprocess.Popen(
            [sys.executable, "-c", _BOOT, _ROOT],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            close_fds=True,
        )
        ready = self._reply(STARTUP_TIMEOUT)
        if not isinstance(ready, dict) or not ready.get("ready"):
            why = self._why(ready)
            self.stop()
            raise RuntimeError(f"the check worker did not start: {why}")

    def check(self, calls: Sequence[CheckCall], timeout: float) -> list[CheckOutcome]:
        """Outcomes of the first calls, in order: all of them, or up to the one that ran out of
        time or ended the worker (then the worker is dead and the rest are for another)."""
        assert self.process.stdin is not None
        try:  # one line for the lot: the worker is waiting for it, so this write cannot block on us
            self.process.stdin.write(json.dumps([call.body() for call in calls]).encode() + b"\n")
            self.process.stdin.flush()
        except OSError:
            self.kill()
            return [CheckOutcome(None, f"check {calls[0].type} failed: the check worker had died ({self._why(None)})")]
        outcomes = []
        for call in calls:  # each check's time starts when the one before it answered
            reply = self._reply(timeout)
            if reply == "timeout":
                self.timed_out = True
                self.kill()
                return [*outcomes, CheckOutcome(None, f"check {call.type} timed out after {timeout:g} s")]
            if not isinstance(reply, dict):
                self.kill()
                return [
                    *outcomes,
                    CheckOutcome(None, f"check {call.type} failed: the check worker died ({self._why(reply)})"),
                ]
            if "error" in reply:
                outcomes.append(CheckOutcome(None, f"check {call.type} failed: {reply['error']}"))
            else:
                outcomes.append(CheckOutcome(reply["met"], reply["reason"], bool(reply.get("defer", False))))
        return outcomes

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.alive:
            self.process.kill()
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()

    def stop(self) -> None:
        """Ask the worker to end (end of input), then make sure it has."""
        try:
            if self.process.stdin is not None:
                self.process.stdin.close()
            self.process.wait(timeout=2)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.kill()
        self._log.close()

    def _reply(self, timeout: float) -> dict[str, Any] | str | None:
        """The next line as JSON; "timeout" past the deadline; None at end of output."""
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return "timeout"
            readable, _, _ = select.select([fd], [], [], remaining)
            if not readable:
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return None
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        try:
            return json.loads(line)
        except ValueError:
            return None  # not our protocol: treated as a dead worker

    def _why(self, reply: object) -> str:
        if reply == "timeout":
            return f"no answer within {STARTUP_TIMEOUT:g} s"
        try:  # its output ended: it is exiting
            code: int | None = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        self._log.seek(0)
        tail = [line for line in self._log.read().decode(errors="replace").splitlines() if line.strip()][-1:]
        return "; ".join([f"exit code {code}" if code is not None else "no answer", *tail])


class CheckPool:
    """A bounded set of check workers, started when first needed; safe to use from any thread."""

    def __init__(self, workers: int | None = None, timeout: float | None = None):
        self.workers = int(
            workers if workers is not None else _setting("RUBRIC_JUDGE_CHECK_WORKERS", DEFAULT_WORKERS, 1)
        )
        self.timeout = float(
            timeout if timeout is not None else _setting("RUBRIC_JUDGE_CHECK_TIMEOUT", DEFAULT_TIMEOUT, 0.01)
        )
        if self.workers < 1 or self.timeout <= 0:
            raise ValueError(
                f"a check pool needs at least one worker and a positive timeout, got {self.workers} and {self.timeout}"
            )
        self.timeouts = 0  # checks that ran out of time (their worker was replaced)
        self._turns = _Turns()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        # A spare per worker, started ahead, so that replacing a killed one costs no start-up (a
        # second or more: importing sympy, on cores the exploding checks keep busy): the next
        # caller then waits one timeout at most.
        self._spares: list[_Worker] = []
        self._spare_wanted = threading.Condition(self._lock)
        self._closed = False

    def submit(self, calls: Sequence[CheckCall], caller: object = None) -> list[Future[CheckOutcome]]:
        """Futures of the calls' outcomes. Callers take turns at the workers: calls submitted
        under one ``caller`` (by default, each submit is a caller of its own) share its turns."""
        futures: list[Future[CheckOutcome]] = [Future() for _ in calls]
        if calls and self._turns.put(caller if caller is not None else object(), list(zip(calls, futures))):
            self._start_threads()
        elif calls:
            for future in futures:
                future.set_result(CLOSED)
        return futures

    def run(self, calls: Sequence[CheckCall], caller: object = None) -> list[CheckOutcome]:
        return [future.result() for future in self.submit(calls, caller)]

    async def arun(self, calls: Sequence[CheckCall], caller: object = None) -> list[CheckOutcome]:
        """The outcomes, awaited without blocking the event loop (cancelling drops the calls not yet started)."""
        return list(await asyncio.gather(*(asyncio.wrap_future(f) for f in self.submit(calls, caller))))

    def close(self) -> None:
        with self._spare_wanted:
            self._closed, spares, self._spares = True, self._spares, []
            self._spare_wanted.notify_all()
        for spare in spares:
            spare.stop()
        for (_, future), started in self._turns.close():
            if started:
                future.set_result(CLOSED)
            else:
                future.cancel()
        for thread in self._threads:
            thread.join(timeout=5)

    def _worker(self) -> _Worker:
        """A ready worker: a spare if there is one (the keeper then starts another)."""
        with self._spare_wanted:
            worker = self._spares.pop() if self._spares else None
            self._spare_wanted.notify()
        return worker if worker is not None and worker.alive else _Worker()

    def _keep_spares(self) -> None:
        """The spares' thread: a worker dies with the thread that started it (PR_SET_PDEATHSIG
        is per thread), so one thread that lives as long as the pool starts them all."""
        while True:
            with self._spare_wanted:
                while not self._closed and len(self._spares) >= self.workers:
                    self._spare_wanted.wait()
                if self._closed:
                    return
            try:
                worker = _Worker()
            except Exception:  # noqa: BLE001 - no spare now: a replacement starts its own and says why
                time.sleep(1)
                continue
            with self._spare_wanted:
                if not self._closed:
                    self._spares.append(worker)
                    continue
            worker.stop()
            return

    def _start_threads(self) -> None:
        with self._lock:
            if not self._threads:
                keeper = threading.Thread(target=self._keep_spares, name="rubric-check-spares", daemon=True)
                keeper.start()
            while len(self._threads) < self.workers:
                thread = threading.Thread(target=self._serve, name=f"rubric-check-{len(self._threads)}", daemon=True)
                self._threads.append(thread)
                thread.start()

    def _serve(self) -> None:
        """One worker's thread: a turn of one caller's checks at a time (a share of them, so
        that one caller's checks spread over the workers). When a check runs out of time, the
        rest of its turn goes to the back of the line, so the next caller waits one timeout at most."""
        worker: _Worker | None = None
        try:
            while (turn := self._turns.get(TURN, self.workers)) is not None:
                caller, queued = turn
                tasks = [
                    (call, future)
                    for (call, future), started in queued
                    if started or future.set_running_or_notify_cancel()
                ]
                if not tasks:
                    continue
                try:
                    if worker is None:
                        worker = self._worker()
                    outcomes = worker.check([call for call, _ in tasks], self.timeout)
                except Exception as e:  # the worker could not start: this check is unscored, the next one tries again
                    outcomes = [CheckOutcome(None, f"check {tasks[0][0].type} could not be made: {e}")]
                if worker is not None and not worker.alive:  # killed or died: the next turn gets a new one
                    with self._lock:
                        self.timeouts += worker.timed_out
                    worker.stop()
                    worker = None
                for (_, future), outcome in zip(tasks, outcomes):
                    future.set_result(outcome)
                rest = tasks[len(outcomes) :]
                if rest and not self._turns.put(caller, rest, started=True):
                    for _, future in rest:
                        future.set_result(CLOSED)
        finally:
            if worker is not None:
                worker.stop()


_shared: CheckPool | None = None
_shared_lock = threading.Lock()


def shared_pool() -> CheckPool:
    """The process's pool (workers are a process resource: every judge shares them)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = CheckPool()
        return _shared


def configure(workers: int | None = None, timeout: float | None = None) -> CheckPool:
    """Replace the shared pool (its workers end) with one of these settings."""
    global _shared
    with _shared_lock:
        old, _shared = _shared, CheckPool(workers, timeout)
    if old is not None:
        old.close()
    return _shared


def _close_shared() -> None:
    if _shared is not None:
        _shared.close()


def _forget_after_fork() -> None:
    global _shared, _shared_lock
    _shared, _shared_lock = None, threading.Lock()  # the parent's threads and pipes are not ours


atexit.register(_close_shared)
os.register_at_fork(after_in_child=_forget_after_fork)
