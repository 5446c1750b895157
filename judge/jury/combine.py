"""One criterion's result from several judges' results: the aggregate P(yes) a jury gives.

``mean``, ``median`` and ``min`` aggregate the P(yes) of the judges that scored it (``min``
is the strict jury: met only if every judge says so). ``majority`` votes: P(yes) is the
share of judges whose own decision was met, and a tied vote is decided by the mean P(yes).
A judge that could not score the criterion leaves it to the others (its reason is noted);
a criterion no judge could score is unscored with every judge's reason.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from typing import Literal

from judge.scoring import decide
from judge.verdict import CriterionResult

JuryMethod = Literal["mean", "median", "majority", "min"]
METHODS: tuple[JuryMethod, ...] = ("mean", "median", "majority", "min")


def combine(votes: Sequence[tuple[str, CriterionResult]], method: JuryMethod, threshold: float) -> CriterionResult:
    """The jury's result from (model label, that judge's result) per judge."""
    first = votes[0][1]
    panel = {label: (r.p_yes if r.status == "scored" else None) for label, r in votes}
    scored = [(label, r) for label, r in votes if r.status == "scored" and r.p_yes is not None]
    failed = [f"{label} could not score it: {r.reason}" for label, r in votes if r.status != "scored"]
    base = {"criterion_id": first.criterion_id, "kind": first.kind, "weight": first.weight, "jury": panel}
    if not scored:
        return CriterionResult(
            **base,
            status="unscored",
            reason="no judge of the jury could score it: " + "; ".join(failed),
            transient=any(r.transient for _, r in votes) or None,
        )
    p_values = [r.p_yes for _, r in scored]
    decisions = [bool(r.met) for _, r in scored]
    p_yes, met = aggregate(p_values, decisions, method, threshold)  # type: ignore[arg-type]
    notes = failed + [f"{label}: {note}" for label, r in scored for note in r.notes]
    explained = [(label, r.explanation) for label, r in scored if r.explanation]
    labels = Counter(r.label for _, r in scored if r.label)
    masses = [r.yes_no_mass for _, r in scored if r.yes_no_mass is not None]
    return CriterionResult(
        **base,
        status="scored",
        p_yes=p_yes,
        met=met,
        disputed=len(set(decisions)) > 1,
        label=labels.most_common(1)[0][0] if labels else None,
        yes_no_mass=sum(masses) / len(masses) if masses else None,
        explanation="\n".join(f"{label}: {text}" for label, text in explained) if explained else None,
        notes=notes,
    )


def aggregate(
    p_values: Sequence[float], decisions: Sequence[bool], method: JuryMethod, threshold: float
) -> tuple[float, bool]:
    """(P(yes), met) of the jury from the scoring judges' P(yes) and their own decisions."""
    mean = sum(p_values) / len(p_values)
    if method == "majority":
        yes = sum(decisions)
        no = len(decisions) - yes
        return yes / len(decisions), yes > no if yes != no else decide(mean, threshold)
    p_yes = {"mean": mean, "median": statistics.median(p_values), "min": min(p_values)}[method]
    return p_yes, decide(p_yes, threshold)
