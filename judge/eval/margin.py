"""The tie band of the order-averaged pairwise decision, fitted on labelled pairs.

``decide_averaged`` prefers A when the order-averaged P(A better) exceeds 0.5 + margin,
B below 0.5 - margin, and calls a tie inside. Counted plainly (a tie is wrong on a pair
that has a winner) the best margin is always 0, so the fit scores a tie on such a pair
as half right: what a coin would earn on it. The band then widens only over pairs the
judge decides worse than a coin, and a tie label (PandaLM has them) is matched exactly.
The margin is fitted like a threshold: on some pairs, and reported on others.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from judge.pairwise import Preference, decide_averaged


def credit(decision: Preference, label: Preference) -> float:
    """1 for the labelled preference, half for a tie on a pair with a winner, else 0."""
    if decision == label:
        return 1.0
    return 0.5 if decision == "tie" else 0.0


def fit_margin(p_a: Sequence[float], labels: Sequence[Preference]) -> float:
    """The margin with the most credit on these pairs; the narrower band on a tie of credit.
    Candidates: 0 and each pair's distance from 0.5 (just wide enough to tie it)."""
    if len(p_a) != len(labels):
        raise ValueError(f"{len(p_a)} probabilities for {len(labels)} labels")
    if not p_a:
        raise ValueError("fitting a margin needs labelled pairs, got none")
    best, best_credit = 0.0, float("-inf")
    for margin in sorted({0.0, *(abs(p - 0.5) + 1e-9 for p in p_a)}):
        total = sum(credit(decide_averaged(p, margin), y) for p, y in zip(p_a, labels))
        if total > best_credit + 1e-12:
            best, best_credit = margin, total
    return best


def held_out(
    p_a: Sequence[float], labels: Sequence[Preference], folds: int = 5, seed: int = 0
) -> tuple[list[Preference], list[float]]:
    """Each pair decided with the margin fitted on the other folds (never on itself), and
    the margin of each fold."""
    if len(p_a) < folds or folds < 2:
        raise ValueError(f"{folds}-fold fitting needs at least {max(folds, 2)} pairs, got {len(p_a)}")
    order = list(range(len(p_a)))
    random.Random(seed).shuffle(order)
    decisions: list[Preference] = ["tie"] * len(p_a)
    margins = []
    for fold in range(folds):
        test = order[fold::folds]
        train = [i for i in order if i not in set(test)]
        margin = fit_margin([p_a[i] for i in train], [labels[i] for i in train])
        margins.append(margin)
        for i in test:
            decisions[i] = decide_averaged(p_a[i], margin)
    return decisions, margins
