"""An item to judge, and the same item on its way through the engine (judge/engine.py):
what code decided, the requests left for the model (judge/shapes/), the notes."""

from __future__ import annotations

from dataclasses import dataclass, field

from judge.backends.base import Message, YesNoQuestion
from judge.verdict import CriterionResult
from rubrics.model import Criterion, Rubric


@dataclass
class JudgeItem:
    id: str
    prompt: str | list[Message]
    response: str
    rubric: Rubric
    reference: str | None = None
    input_id: str | int | None = None  # the id as the input file gave it (echoed in verdict lines)
    # whose turns its code checks take at the check workers (a server's client request); None:
    # the chunk it is judged in. One client's slow checks then never queue another's.
    client: object = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:  # a wrong type is said here, not as a TypeError from deep inside
        if not isinstance(self.response, str):
            raise TypeError(f"response must be a string (the text to judge), got {self.response!r:.60}")
        if not isinstance(self.prompt, (str, list)):
            raise TypeError(f"prompt must be a string or a list of chat messages, got {self.prompt!r:.60}")
        if not isinstance(self.rubric, Rubric):
            raise TypeError(
                f"rubric must be a Rubric (rubrics.Rubric, or judge.rubric_lookup.to_rubric of a list or a dict), got {type(self.rubric).__name__}"
            )


@dataclass
class Prepared:
    """An item on its way through the engine: decided results and questions to ask."""

    item: JudgeItem
    results: dict[str, CriterionResult] = field(default_factory=dict)
    asked: list[tuple[Criterion, tuple[YesNoQuestion, ...]]] = field(
        default_factory=list
    )  # yes/no questions (per criterion)
    requests: list[tuple[list[Criterion], list[Message]]] = field(
        default_factory=list
    )  # generated requests: the criteria each decides
    notes: list[str] = field(default_factory=list)
    deferred: dict[str, str] = field(default_factory=dict)  # criterion id -> why code left it to the judge
    nuggets: set[str] = field(default_factory=set)  # deferred by the nugget matcher: asked in three labels
    view: Prepared | None = None  # the same criteria asked about the normalised view (judge/hardening/view.py)

    @property
    def questions(self) -> list[YesNoQuestion]:
        """Every yes/no question this item will ask, its view's included (what a batch job sends)."""
        own = [question for _, questions in self.asked for question in questions]
        return own + (self.view.questions if self.view is not None else [])

    @property
    def judged(self) -> set[str]:
        """The criteria sent to the model (the rest were decided in code, or skipped)."""
        return {c.id for c, _ in self.asked} | {c.id for criteria, _ in self.requests for c in criteria}
