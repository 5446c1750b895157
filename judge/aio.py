"""Async plumbing shared by the engine and the pairwise judge: a sync entry that works
inside a running loop too, chunks by the questions they ask, bounded concurrent streaming,
and asking a backend so that a failure comes back as unscored values, never raised."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from judge.backends.base import Backend, BackendFatalError, YesNoQuestion, YesNoScore
from judge.backends.retry import is_retryable

T = TypeVar("T")
R = TypeVar("R")


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine from sync code. Inside a running event loop (a notebook's, or a trainer
    calling a sync reward from async code) it runs on a loop of its own in another thread,
    and this thread waits for it: a loop cannot run a second one nested in itself."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(1, thread_name_prefix="rubric-sync") as thread:
        return thread.submit(asyncio.run, coroutine).result()


def chunked(items: Iterable[T], size: int, weight: Callable[[T], int]) -> Iterator[list[T]]:
    """Consecutive items in chunks whose total weight (questions they ask) reaches size."""
    chunk: list[T] = []
    total = 0
    for item in items:
        chunk.append(item)
        total += weight(item)
        if total >= size:
            yield chunk
            chunk, total = [], 0
    if chunk:
        yield chunk


async def stream(
    chunks: Iterator[list[T]], worker: Callable[[list[T]], Awaitable[list[R]]], concurrency: int
) -> AsyncIterator[R]:
    """Results of worker over chunks, at most `concurrency` in flight, in completion order."""
    pending: set[asyncio.Task[list[R]]] = set()
    try:
        while True:
            while len(pending) < concurrency and (chunk := next(chunks, None)) is not None:
                pending.add(asyncio.ensure_future(worker(chunk)))
            if not pending:
                return
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            errors = [task.exception() for task in done]  # each one read, so that none is reported as never retrieved
            if error := next((e for e in errors if e is not None), None):
                raise error
            for task in done:
                for result in task.result():
                    yield result
    finally:
        for task in pending:
            task.cancel()


async def ask(backend: Backend, questions: Sequence[YesNoQuestion]) -> list[YesNoScore]:
    """P(yes) for each question; any backend failure comes back as unscored scores, never raised."""
    if not questions:
        return []
    try:
        scores = list(await backend.p_yes(questions))
        if len(scores) != len(questions):
            raise RuntimeError(f"backend returned {len(scores)} scores for {len(questions)} questions")
    except BackendFatalError:
        raise
    except Exception as e:  # noqa: BLE001 - every failure becomes an unscored value
        return [YesNoScore(None, reason=f"backend error: {type(e).__name__}: {e}", transient=is_retryable(e))] * len(
            questions
        )
    return scores
