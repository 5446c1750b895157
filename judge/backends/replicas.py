"""Spreading requests over several servers of the same model (vLLM replicas, say)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Generic, TypeVar

C = TypeVar("C")


@dataclass
class Replica(Generic[C]):
    label: str
    client: C
    in_flight: int = 0
    resting_until: float = 0.0  # after a connection failure, others are preferred until then


class ReplicaPool(Generic[C]):
    """Least-outstanding-requests choice, ties broken in turn; a replica that just failed
    to answer rests for `rest` seconds while others take the load (a retry lands elsewhere)."""

    def __init__(self, replicas: list[tuple[str, C]], rest: float = 5.0):
        if not replicas:
            raise ValueError("no replicas")
        self.replicas = [Replica(label, client) for label, client in replicas]
        self.rest = rest
        self._turn = itertools.count()

    def pick(self) -> Replica[C]:
        now = time.monotonic()
        awake = [r for r in self.replicas if r.resting_until <= now] or self.replicas
        turn = next(self._turn) % len(awake)
        return min(awake, key=lambda r: (r.in_flight, (awake.index(r) - turn) % len(awake)))

    @contextmanager
    def lease(self) -> Iterator[Replica[C]]:
        replica = self.pick()
        replica.in_flight += 1
        try:
            yield replica
        finally:
            replica.in_flight -= 1

    def rest_after_failure(self, replica: Replica[C]) -> None:
        if len(self.replicas) > 1:
            replica.resting_until = time.monotonic() + self.rest
