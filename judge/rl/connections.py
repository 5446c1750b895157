"""Connections `rubric serve` accepts: a cap on how many, and a time limit on reading each request.

uvicorn has neither: a connection that sends half a request line, or a body a byte at a time,
stays open for ever, and a client can hold thousands of them (each a file descriptor and
some memory). So the server runs uvicorn's httptools protocol with two guards:

- at most ``max_connections`` open at once; one more is answered ``503`` with ``Retry-After``
  and closed at once;
- a request must arrive whole (headers and body) within ``read_timeout`` seconds of its first
  byte, or of the connection's opening; otherwise it is answered ``408`` and closed. The time
  a request then takes to judge is not limited here (the client's own timeout is).

Between requests, uvicorn's keep-alive timeout (5 s) closes idle connections as before.
"""

from __future__ import annotations

import asyncio
from typing import Any

from judge.extras import MissingExtra

try:
    import httptools  # noqa: F401 - uvicorn's parser of choice, which the guards extend
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ModuleNotFoundError as e:
    raise MissingExtra("serve", e.name or "uvicorn") from None

BUSY = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
SLOW = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"


class ConnectionCounts:
    """What the guards did, for /metrics."""

    def __init__(self) -> None:
        self.refused = 0  # over the connection cap
        self.timed_out = 0  # a request that did not arrive whole in time

    def snapshot(self) -> dict[str, int]:
        return {"refused": self.refused, "read_timed_out": self.timed_out}


def guarded_protocol(read_timeout: float, max_connections: int, counts: ConnectionCounts) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol with the two guards, as a class uvicorn's Config takes (``http=``)."""

    class Guarded(HttpToolsProtocol):
        _refused = False
        _clock: asyncio.TimerHandle | None = None

        def connection_made(self, transport: Any) -> None:  # type: ignore[override]
            if len(self.connections) >= max_connections:
                self._refused = True
                counts.refused += 1
                transport.write(BUSY)
                transport.close()
                return
            super().connection_made(transport)
            self._start_clock()  # the first request must come in time too

        def connection_lost(self, exc: Exception | None) -> None:
            if self._refused:
                return
            self._stop_clock()
            super().connection_lost(exc)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._start_clock()

        def on_message_complete(self) -> None:
            super().on_message_complete()
            self._stop_clock()

        def _start_clock(self) -> None:
            if self._clock is None:
                self._clock = self.loop.call_later(read_timeout, self._too_slow)

        def _stop_clock(self) -> None:
            if self._clock is not None:
                self._clock.cancel()
                self._clock = None

        def _too_slow(self) -> None:
            self._clock = None
            if self.transport.is_closing():
                return
            counts.timed_out += 1
            if self.cycle is None or not self.cycle.response_started:
                self.transport.write(SLOW)
            self.transport.close()

    return Guarded
