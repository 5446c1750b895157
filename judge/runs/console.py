"""The console a command prints to, which may go away mid-run (``rubric judge ... 2>&1 | head -1``).

A run's product is its output file; what it prints is progress and a summary. So a reader
that leaves must never end the work: once a stream's pipe is broken, what is written to it
is dropped (the stream now points at the null device) and the run goes on to its end and
its exit status.
"""

from __future__ import annotations

import io
import os
import re
import sys
from typing import Any, TextIO


# C0 controls but newline and tab, DEL, and the C1 controls: an id or a reason holding one
# could clear the reader's screen, move its cursor or retitle the terminal.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """Text from the data (ids, reasons) as a terminal may show it: control characters escaped."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


class _Survives(io.TextIOBase):
    """A text stream that drops its output once its reader has gone."""

    def __init__(self, inner: TextIO):
        self._inner = inner
        self.gone = False

    def write(self, text: str) -> int:
        self._guard(self._inner.write, text)
        return len(text)

    def flush(self) -> None:
        self._guard(self._inner.flush)

    def _guard(self, action: Any, *args: Any) -> None:
        try:
            action(*args)
        except BrokenPipeError:
            self._drop()
        except OSError as e:
            if e.errno not in (32, 104):  # EPIPE, ECONNRESET (a socket as the console)
                raise
            self._drop()

    def _drop(self) -> None:
        if not self.gone:
            self.gone = True
            try:  # the unwritten rest goes to the null device, not to a dead pipe at exit
                os.dup2(os.open(os.devnull, os.O_WRONLY), self._inner.fileno())
            except (OSError, ValueError):
                pass

    def fileno(self) -> int:
        return self._inner.fileno()

    def isatty(self) -> bool:
        return not self.gone and self._inner.isatty()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._inner.encoding

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return self._inner.errors

    def writable(self) -> bool:
        return True


def survive_closed_readers() -> None:
    """Make standard output and error drop what they cannot deliver instead of raising."""
    if not isinstance(sys.stdout, _Survives):
        sys.stdout = _Survives(sys.stdout)  # type: ignore[assignment]
    if not isinstance(sys.stderr, _Survives):
        sys.stderr = _Survives(sys.stderr)  # type: ignore[assignment]
