"""What a judge is built from, and the one function that builds it.

``JudgeOptions`` holds every judging setting a user chooses (the flags `rubric judge` and
`rubric serve` share, the keywords of the TRL and verl rewards); ``build_judge`` turns them and
one backend into a ``Judge``, or several into a ``Jury``. Every door builds its judge here, so
the same options give the same verdict through each of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from judge.backends.base import Backend
from judge.calibration import Calibration
from judge.engine import Judge
from judge.flags import integer, number, option, tag_set, words
from judge.hardening.reasoning import Reasoning
from judge.jury import Jury
from judge.jury.combine import METHODS, JuryMethod
from judge.models import calls_in_flight
from judge.shapes import SHAPES as SHAPE_TABLE

SHAPES = tuple(SHAPE_TABLE)  # the request shapes Judge knows, by name


@dataclass(frozen=True)
class JudgeOptions:
    """How responses are judged: threshold, calibration, gate, guard, request shape, jury."""

    threshold: float | None = option(
        None, "P(yes) at which a criterion is met (default: the calibration's, else 0.5)", type=number(0, 1)
    )
    calibration: Path | Calibration | None = option(
        None, "apply a calibration of this judge's P(yes) (from `rubric calibrate`)", type=Path, metavar="FILE"
    )
    gate: bool = option(
        True, flags=(("--no-gate", {"action": "store_false", "help": "do not cap the score when a hard rule fails"}),)
    )
    guard: bool | str = option(
        True,
        flags=(
            (
                "--no-guard",
                {
                    "action": "store_const",
                    "const": False,
                    "help": "send content-free responses to the judge too (off: they fail)",
                },
            ),
            (
                "--semantic-guard",
                {
                    "action": "store_const",
                    "const": "semantic",
                    "help": "the guard also reads sentence meaning: catches "
                    "filler the rules miss, but rejects more genuine short answers (README; needs rubric-judge[generate])",
                },
            ),
        ),
    )
    view: bool = option(
        True,
        flags=(
            (
                "--no-view",
                {
                    "action": "store_false",
                    "help": "judge the response only, not also its normalised view (formatting and talk about "
                    "the answer removed; the reading less favourable to the response kept)",
                },
            ),
        ),
    )
    reasoning: Reasoning = option(
        "exclude",
        "a reasoning model's <think>…</think>: judge the answer after it (exclude, default) or the whole text",
        choices=["exclude", "include"],
    )
    only_tags: frozenset[str] | None = option(
        None, "judge only criteria with one of these tags; skip the rest", type=tag_set, metavar="TAG,..."
    )
    batch_size: int = option(32, "questions per backend call (default %(default)s)", type=integer(1))
    concurrency: int | None = option(
        None,
        "API models: requests in flight (default 16); local models: batches in flight (default 4)",
        type=integer(1),
    )
    request_shape: str = option(
        "per_criterion",
        "per-criterion: one yes/no question per criterion, P(yes) read from the answer "
        "(default); generated: a generated verdict per criterion (reasoning, then the decision; local "
        "models decode it under its grammar); batched: one generated request per response, a label per "
        "criterion",
        type=words,
        choices=SHAPES,
        metavar="{per-criterion,generated,batched}",
    )
    jury: JuryMethod = option(
        "mean",
        "several --model: a jury's P(yes) per criterion: the judges' mean (default), median, majority "
        "vote (P(yes) = share of yes; a tie goes by the mean) or min (met only if all say so)",
        choices=METHODS,
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "request_shape", words(self.request_shape))
        if isinstance(self.only_tags, str):
            object.__setattr__(self, "only_tags", tag_set(self.only_tags))
        elif self.only_tags is not None and not isinstance(self.only_tags, frozenset):
            object.__setattr__(self, "only_tags", frozenset(self.only_tags))
        if self.request_shape not in SHAPES:
            raise ValueError(f"request_shape must be one of {', '.join(SHAPES)}, got {self.request_shape!r}")
        if self.jury not in METHODS:
            raise ValueError(f"jury must be one of {', '.join(METHODS)}, got {self.jury!r}")


def build_judge(options: JudgeOptions, backends: Backend | Sequence[Backend]) -> Judge | Jury:
    """The judge ``options`` describe over one backend; over several, a jury of such judges.
    Engine calls in flight are worked out per backend (judge.models.calls_in_flight)."""
    many = list(backends) if isinstance(backends, Sequence) else [backends]
    if len(many) > 1:
        if options.calibration is not None:
            raise ValueError(
                "--calibration is fitted for one judge; a jury takes none (calibrate each model, or judge without)"
            )
        return Jury([build_judge(options, backend) for backend in many], options.jury)
    backend = many[0]
    tags = options.only_tags
    return Judge(
        backend,
        threshold=options.threshold,
        gate=options.gate,
        guard="semantic" if options.guard == "semantic" else bool(options.guard),
        include=(lambda c: bool(tags & set(c.tags))) if tags else None,
        batch_size=options.batch_size,
        concurrency=calls_in_flight(backend, options.batch_size, options.concurrency),
        request_shape=options.request_shape,  # type: ignore[arg-type]
        reasoning=options.reasoning,
        view=options.view,
        calibration=Calibration.of(options.calibration),
    )
