"""The protocol of a request shape, and what the engine hands it (judge/shapes/__init__.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from judge.backends.base import Message
from judge.item import JudgeItem, Prepared
from rubrics.model import Criterion

if TYPE_CHECKING:
    from judge.engine import Judge


class Shape(Protocol):
    name: str  # what Judge(request_shape=...) names it
    template: str | None  # the prompt template it asks with (None: the judge's own)
    nugget_labels: (
        bool  # a nugget criterion code left undecided is asked as two questions, three labels (judge/nuggets.py)
    )

    def output_tokens(self, criteria: int) -> int:
        """Tokens the answer may take, kept free of the context window."""
        ...

    def render(
        self, judge: Judge, item: JudgeItem, criteria: Sequence[Criterion], p: Prepared
    ) -> Callable[[str], list[Message]]:
        """The item's largest request for a given response text (to fit it into the context)."""
        ...

    def plan(self, judge: Judge, item: JudgeItem, response: str, criteria: Sequence[Criterion], p: Prepared) -> None:
        """Record the requests for ``criteria`` on ``p``."""
        ...

    async def answer(self, judge: Judge, prepared: Sequence[Prepared]) -> None:
        """Ask the model what the chunk's items planned; write a result per criterion asked."""
        ...
