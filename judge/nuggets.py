"""Nuggets the code matcher could not decide, asked of the judge in three labels.

Search-Gen-V and TREC RAG label a nugget support / partial support / not support, partial
counting half. The engine gets the three from two yes/no questions about one nugget that
share everything but their last line (prompts/nugget_support.jinja): does the response
state the fact in full, and does it state at least part of it? Then

    support = P(full),  partial = max(0, P(part) - P(full)),  not = the rest,
    credit  = support + PARTIAL * partial

and the credit is the criterion's p_yes. So nuggets go through the one P(yes) machinery,
the one Verdict and the one scoring function (judge/scoring.py) like every criterion, and
``label`` names the most likely of the three.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import prompts
from judge.backends.base import Message, YesNoQuestion, YesNoScore

TEMPLATE = "nugget_support"
PARTIAL = 0.5  # a partly stated nugget counts half (TREC RAG, Search-Gen-V)
LEVELS = ("full", "part")
NuggetLabel = Literal["support", "partial_support", "not_support"]


def template_version() -> str:
    return prompts.template_version(TEMPLATE)


def questions(render: Callable[..., list[Message]], nugget: str, group: str) -> tuple[YesNoQuestion, ...]:
    """The full and the partial question about one nugget (render: the item's template call)."""
    version = template_version()
    return tuple(
        YesNoQuestion(tuple(render(TEMPLATE, criterion=nugget, level=level)), version, group=group) for level in LEVELS
    )


def combine(scores: Sequence[YesNoScore]) -> tuple[YesNoScore, NuggetLabel | None]:
    """One score (p_yes = the nugget's credit) and its most likely label from the two answers."""
    full, part = scores
    for level, score in zip(LEVELS, scores):
        if score.p_yes is None:
            reason = f"the judge gave no answer to the {level}-support question: {score.reason or 'no reason given'}"
            return YesNoScore(None, reason=reason, notes=score.notes, transient=score.transient), None
    assert full.p_yes is not None and part.p_yes is not None
    support = full.p_yes
    partial = max(0.0, part.p_yes - support)
    absent = max(0.0, 1.0 - support - partial)
    label: NuggetLabel = max(
        (("support", support), ("partial_support", partial), ("not_support", absent)), key=lambda pair: pair[1]
    )[0]
    seen = f"judge: support {support:.2f}, partial {partial:.2f}, not {absent:.2f}"
    masses = [s.yes_no_mass for s in scores if s.yes_no_mass is not None]
    explanations = [s.explanation for s in scores if s.explanation]
    return (
        YesNoScore(
            support + PARTIAL * partial,
            yes_no_mass=min(masses) if masses else None,
            notes=(seen, *full.notes, *part.notes),
            explanation="\n".join(explanations) or None,
        ),
        label,
    )


def code_label(met: bool) -> NuggetLabel:
    return "support" if met else "not_support"
