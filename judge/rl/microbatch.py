"""Micro-batching: concurrent single requests gathered into one call each.

A model judges 32 rows in one forward pass in about the time it takes for one, and an API
backend has a bounded number of requests in flight; so a server that makes one engine call
per HTTP request wastes almost all of its capacity under load. The batcher holds a fixed
number of call slots. A batch is formed only when a slot is free: under light load a
request waits at most ``max_wait`` for company; under heavy load the queue has filled
while the slots were busy, and batches leave full at once.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class MicroBatcher(Generic[T, R]):
    def __init__(
        self,
        handle: Callable[[list[T]], Awaitable[Sequence[R]]],
        *,
        max_batch: int = 32,
        max_wait: float = 0.01,
        slots: int = 4,
    ):
        if max_batch < 1 or slots < 1 or max_wait < 0:
            raise ValueError("max_batch and slots must be at least 1, max_wait at least 0")
        self.handle = handle
        self.max_batch = max_batch
        self.max_wait = max_wait
        self.slots = slots
        self.batches = 0  # calls made
        self.batched_items = 0
        self.abandoned = 0  # calls cancelled because every caller of the batch had gone
        self._pending: deque[tuple[T, asyncio.Future[R]]] = deque()
        self._arrived = asyncio.Event()
        self._free = asyncio.Semaphore(slots)
        self._calls: set[asyncio.Task[None]] = set()
        self._collector: asyncio.Task[None] | None = None
        self._closing = False

    async def submit(self, item: T) -> R:
        if self._closing:
            raise RuntimeError("the batcher is shutting down")
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        self._arrived.set()
        if self._collector is None:
            self._collector = asyncio.create_task(self._collect())
        return await future  # cancelled by its caller (a client gone): the batch drops it

    async def _collect(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._free.acquire()
            while not self._pending:
                self._arrived.clear()
                await self._arrived.wait()
            deadline = loop.time() + self.max_wait
            while len(self._pending) < self.max_batch and (remaining := deadline - loop.time()) > 0:
                self._arrived.clear()
                try:
                    async with asyncio.timeout(remaining):
                        await self._arrived.wait()
                except TimeoutError:
                    break
            batch = [self._pending.popleft() for _ in range(min(self.max_batch, len(self._pending)))]
            call = asyncio.create_task(self._call(batch))
            self._calls.add(call)
            call.add_done_callback(self._calls.discard)

    async def _call(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            live = [(item, future) for item, future in batch if not future.done()]
            if not live:
                return
            self.batches += 1
            self.batched_items += len(live)
            handling = asyncio.ensure_future(self.handle([item for item, _ in live]))

            def abandon_when_nobody_waits(_: asyncio.Future[R]) -> None:
                if all(future.cancelled() for _, future in live) and not handling.done():
                    self.abandoned += 1
                    handling.cancel()  # every caller has gone: stop judging for nobody

            for _, future in live:
                future.add_done_callback(abandon_when_nobody_waits)
            try:
                results = await handling
                if len(results) != len(live):
                    raise RuntimeError(f"the batch handler returned {len(results)} results for {len(live)} items")
            except asyncio.CancelledError:
                if all(future.cancelled() for _, future in live):
                    return  # abandoned above: nobody to answer
                raise
            except BaseException as e:  # noqa: BLE001 - every waiting caller gets the failure
                failure = e if isinstance(e, Exception) else RuntimeError("the batch was cancelled")
                for _, future in live:
                    if not future.done():
                        future.set_exception(failure)
                if not isinstance(e, Exception):
                    raise
                return
            for (_, future), result in zip(live, results):
                if not future.done():
                    future.set_result(result)
        finally:
            self._free.release()

    async def aclose(self) -> None:
        """Stop taking requests; finish the ones already queued and in flight."""
        self._closing = True
        while self._pending:
            await asyncio.sleep(self.max_wait or 0.001)
        if self._calls:
            await asyncio.gather(*self._calls, return_exceptions=True)
        if self._collector is not None:
            self._collector.cancel()
            await asyncio.gather(self._collector, return_exceptions=True)
