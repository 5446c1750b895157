"""What a check decides: met, not met, or could not be made (with why)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CheckOutcome:
    met: bool | None  # None: the check could not be made (reason says why)
    reason: str
    defer: bool = False  # code cannot tell: ask the judge model (met is None)
