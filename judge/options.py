"""What a judge is built from: ``JudgeOptions``, every judging setting in one frozen
dataclass. It is the engine's own state (``Judge.options``), the type every door speaks (the
flags `rubric judge` and `rubric serve` share, the keywords of the TRL and verl rewards), and
the one home of each setting's default and help: an option added here reaches every door.

Fields with ``cli=False`` are for Python callers only (the gate's cap, the prompt template,
code checks on or off). ``RUN_ONLY`` names the options that change how a run goes but not
its verdicts; every other option is part of ``Judge.settings()``, what a resumed run must
share.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from judge.calibration import Calibration
from judge.flags import integer, number, option, tag_set, words
from judge.hardening.reasoning import Reasoning
from judge.jury.combine import METHODS, JuryMethod
from judge.shapes import SHAPES as SHAPE_TABLE

SHAPES = tuple(SHAPE_TABLE)  # the request shapes Judge knows, by name
RUN_ONLY = frozenset({"batch_size", "concurrency", "jury"})  # how a run goes, not what it decides
# Always in a run's settings (what runs recorded before the others joined); any other option
# is recorded once it leaves its default, so earlier runs still resume.
RECORDED = ("threshold", "gate", "gate_cap", "guard", "reasoning", "view", "checks", "request_shape")


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
                    "filler the rules miss, but rejects more genuine short answers (docs/hardening.md; needs the generate extra)",
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
    gate_cap: float = option(0.0, cli=False)  # the most a response failing a hard rule scores, with the gate
    template: str = option("entailment", cli=False)  # the prompt template of a yes/no question (prompts/)
    checks: bool = option(True, cli=False)  # decide criteria with a machine-checkable spec in code (judge/checks/)
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
        if self.guard not in (True, False, "semantic"):
            raise ValueError(f"guard must be True, False or 'semantic', got {self.guard!r}")

    def recorded(self) -> dict[str, Any]:
        """The options a verdict depends on, as a run records them (see RECORDED)."""
        shown = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in RUN_ONLY or f.name in ("calibration", "template"):  # recorded as ids by the Judge
                continue
            if f.name in RECORDED or value != f.default:
                shown[f.name] = sorted(value) if isinstance(value, frozenset) else value
        return shown
