"""The protocol of a request shape, and what the engine hands it (judge/shapes/__init__.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from judge.backends.base import Backend, Message, YesNoScore
from judge.item import JudgeItem, Prepared
from judge.verdict import CriterionResult
from rubrics.model import Criterion


class Judge(Protocol):
    """What a shape uses of the engine's Judge (judge/engine.py), so a shape needs no engine import."""

    backend: Backend
    template_version: str

    def render(
        self, item: JudgeItem, response: str, *, template: str | None = None, **criteria: Any
    ) -> list[Message]: ...

    def result(self, criterion: Criterion, score: YesNoScore) -> CriterionResult: ...

    def base_result(self, criterion: Criterion, status: str, **fields: Any) -> CriterionResult: ...


class Shape(Protocol):
    name: str  # what Judge(request_shape=...) names it
    template: str | None  # the prompt template it asks with (None: the judge's own)
    # a nugget criterion code left undecided is asked as two questions, three labels (judge/nuggets.py)
    nugget_labels: bool

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
