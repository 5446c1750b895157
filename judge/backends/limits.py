"""Request limits shared by every call of one backend: in-flight requests, RPM and TPM."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiolimiter import AsyncLimiter


class RequestLimits:
    """At most `concurrency` requests in flight; optionally requests and tokens per minute
    (per `period` seconds).

    Tokens are estimated before the request (prompt characters / 4 + the output budget),
    which is what a provider's TPM limit counts against too.
    """

    def __init__(self, concurrency: int = 16, rpm: float | None = None, tpm: float | None = None, period: float = 60.0):
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        self._slots = asyncio.Semaphore(concurrency)
        self._rpm = AsyncLimiter(rpm, period) if rpm else None
        self._tpm = AsyncLimiter(tpm, period) if tpm else None

    @asynccontextmanager
    async def slot(self, estimated_tokens: int = 0) -> AsyncIterator[None]:
        if self._rpm is not None:
            await self._rpm.acquire()
        if self._tpm is not None:  # one request larger than the whole budget waits for all of it
            await self._tpm.acquire(min(float(estimated_tokens), self._tpm.max_rate))
        async with self._slots:
            yield


def estimate_tokens(text_length: int, max_output_tokens: int) -> int:
    return text_length // 4 + max_output_tokens
