"""How much memory the requests in flight may hold in `rubric serve`, in total.

The body limit bounds one request; this bounds them all. A request holds its body, the
parsed items, and for each item one rendered prompt per criterion (the item's text again
each time): a 3.5 MB body judged on six criteria holds about 29 MB. So a request reserves
its body's size before reading it, and once parsed, what judging it will hold
(``request_bytes``). Past the budget it is answered 503 with Retry-After at once, never
queued: a client retries, the server's memory stays bounded by the budget.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from rubrics.model import Rubric

RETRY_AFTER = "1"


class OverBudget(Exception):
    """The request does not fit what is left of the budget now (or, ``ever``, at all)."""

    def __init__(self, needed: int, limit: int):
        self.ever = needed > limit
        if self.ever:
            message = f"this request would hold about {needed / 2**20:.1f} MB while judged, more than the server's in-flight budget of {limit / 2**20:g} MB"
        else:
            message = f"the server is holding its in-flight budget ({limit / 2**20:g} MB); retry after {RETRY_AFTER} s"
        super().__init__(message)


def request_bytes(body_bytes: int, texts: Sequence[tuple[int, Any]]) -> int:
    """What judging a request holds: its body, and each item's text (prompt, response,
    reference) once as parsed plus once per criterion rendered. ``texts``: (characters,
    rubric) per item; a rubric not yet resolved counts as one criterion."""
    return body_bytes + sum(
        chars * (1 + (len(rubric.criteria) if isinstance(rubric, Rubric) else 1)) for chars, rubric in texts
    )


class InFlightBudget:
    """Bytes reserved by requests in flight; ``limit`` None: no budget (reservations are only counted)."""

    def __init__(self, limit: int | None):
        self.limit = limit
        self.used = 0
        self.peak = 0
        self.refused = 0

    @contextmanager
    def hold(self, size: int) -> Iterator[Reservation]:
        reservation = Reservation(self)
        try:
            reservation.grow_to(size)
            yield reservation
        finally:
            self.used -= reservation.size

    def _take(self, extra: int, total: int) -> None:
        """Reserve ``extra`` bytes more for a request that then holds ``total``."""
        if self.limit is not None and self.used + extra > self.limit:
            self.refused += 1
            raise OverBudget(total, self.limit)
        self.used += extra
        self.peak = max(self.peak, self.used)

    def snapshot(self) -> dict[str, Any]:
        return {"limit_bytes": self.limit, "used_bytes": self.used, "peak_bytes": self.peak, "refused": self.refused}


class Reservation:
    def __init__(self, budget: InFlightBudget):
        self.budget = budget
        self.size = 0

    def grow_to(self, size: int) -> None:
        """Hold ``size`` bytes in all (OverBudget, holding what it held, if that does not fit)."""
        if size > self.size:
            self.budget._take(size - self.size, size)
            self.size = size
