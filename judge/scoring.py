"""Pure scoring functions: from per-criterion results to a response's score.

Convention (HealthBench, Rubrics as Rewards): score = sum(weight * value) over the
scored criteria, divided by the sum of *positive* weights of the scored criteria.
Pitfalls (negative weights) subtract when met, so a score can fall below 0; means are
clipped to [0, 1] as HealthBench reports them. Unscored criteria are excluded from
numerator and denominator and counted, never treated as 0.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from judge.verdict import CriterionResult, GateState


@dataclass(frozen=True)
class Score:
    value: float | None
    n_scored: int
    n_unscored: int
    n_skipped: int
    gate: GateState
    reason: str | None = None


def decide(p_yes: float, threshold: float) -> bool:
    return p_yes >= threshold


def hard_rule_gate(results: Sequence[CriterionResult]) -> GateState:
    """'failed' if a scored hard rule is not met, 'undetermined' if one could not be scored."""
    rules = [r for r in results if r.kind == "hard_rule" and r.weight > 0 and r.status != "skipped"]
    if not rules:
        return "none"
    if any(r.status == "scored" and not r.met for r in rules):
        return "failed"
    if any(r.status == "unscored" for r in rules):
        return "undetermined"
    return "passed"


def weighted_score(
    results: Sequence[CriterionResult], *, soft: bool = True, gate: bool = True, gate_cap: float = 0.0
) -> Score:
    """Score one response. soft uses p_yes; hard uses the thresholded decision.

    With the gate on, a failed hard rule caps the score at gate_cap.
    """
    scored = [r for r in results if r.status == "scored"]
    n_unscored = sum(r.status == "unscored" for r in results)
    n_skipped = sum(r.status == "skipped" for r in results)
    gate_state = hard_rule_gate(results)
    denominator = sum(r.weight for r in scored if r.weight > 0)
    if denominator <= 0:
        return Score(None, len(scored), n_unscored, n_skipped, gate_state, "no positive-weight criterion was scored")
    numerator = 0.0
    for r in scored:
        value = r.p_yes if soft else float(bool(r.met))
        numerator += r.weight * float(value)  # type: ignore[arg-type]
    value = numerator / denominator
    if not math.isfinite(value):  # never written as NaN or Infinity
        return Score(
            None, len(scored), n_unscored, n_skipped, gate_state, "the score is not a finite number (weights too large)"
        )
    if gate and gate_state == "failed":
        value = min(value, gate_cap)
    return Score(value, len(scored), n_unscored, n_skipped, gate_state)


def mean_score(scores: Iterable[float | None], *, clip: bool = True) -> float | None:
    """Mean over defined scores; clipped to [0, 1] (HealthBench) unless clip=False."""
    values = [s for s in scores if s is not None]
    if not values:
        return None
    return clipped_mean(sum(values), len(values)) if clip else sum(values) / len(values)


def clipped_mean(total: float, count: int) -> float | None:
    """A mean from its running total and count, clipped to [0, 1] (HealthBench); None of nothing."""
    return min(1.0, max(0.0, total / count)) if count else None
