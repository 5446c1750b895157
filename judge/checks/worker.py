"""The check worker's loop (started by judge/checks/pool.py, never imported by the package).

Reads JSON lists of checks a line on standard input, answers one JSON outcome a line on the
original standard output (whatever a library prints goes to standard error instead), and
ends at end of input. The parent kills it when a check runs out of time; if the parent
itself dies, the kernel ends the worker (parent-death signal, and a CPU limit per check
for systems without one).
"""

from __future__ import annotations

import json
import os
import signal
import sys
from typing import Any, BinaryIO

CPU_MARGIN = 30  # CPU seconds a check may use past its pool's deadline before the kernel ends an orphan


def _die_with_parent() -> None:
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG (Linux)
    except (OSError, AttributeError):
        pass
    if os.getppid() == 1:  # the parent was already gone
        os._exit(1)


def _limit_cpu() -> None:
    """Let the kernel end this process after CPU_MARGIN more seconds of CPU, whoever is listening."""
    try:
        import resource

        used = resource.getrusage(resource.RUSAGE_SELF)
        _, hard = resource.getrlimit(resource.RLIMIT_CPU)
        soft = int(used.ru_utime + used.ru_stime) + CPU_MARGIN
        if hard == resource.RLIM_INFINITY or soft <= hard:
            resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
    except (ImportError, ValueError, OSError):
        pass


def _warm_up() -> None:
    """Import what the checks use now, so that a check's time limit is its own work."""
    try:
        import math_verify

        math_verify.verify(math_verify.parse("1"), math_verify.parse("1"), timeout_seconds=None)
    except ImportError:
        pass


def _answer(task: dict[str, Any]) -> dict[str, Any]:
    from judge.checks import CHECKS

    try:
        outcome = CHECKS[task["type"]](task["response"], task["reference"], task["spec"])
    except Exception as e:  # noqa: BLE001 - a failing check is an outcome, not the worker's end
        return {"error": f"{type(e).__name__}: {e}"}
    return {"met": outcome.met, "reason": outcome.reason, "defer": outcome.defer}


def _send(out: BinaryIO, body: dict[str, Any]) -> None:
    out.write(json.dumps(body).encode() + b"\n")
    out.flush()


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent, which ends us
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    _die_with_parent()
    import judge.checks  # noqa: F401 - the registry, imported before the first check is timed

    _warm_up()
    _send(out, {"ready": True})
    for line in sys.stdin.buffer:  # a JSON list of checks a line; an outcome a line back for each
        for task in json.loads(line):
            _limit_cpu()
            _send(out, _answer(task))
