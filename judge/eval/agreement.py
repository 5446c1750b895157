"""How well probabilities and decisions agree with labels: the figures `rubric calibrate`
reports before and after calibration, always on held-out folds.

ECE: the count-weighted mean gap between the mean predicted probability and the observed
rate over 10 equal-width bins (the bins are kept for the reliability diagram). Brier: the
mean squared error of the probabilities. AUROC: how well they rank positives above
negatives (None with one class only). Accuracy, Cohen's kappa and Krippendorff's alpha
(nominal; the judge and the labels as two coders) of the thresholded decisions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from judge.extras import module

BINS = 10


def _libraries() -> tuple[Any, Any]:
    return module("calibrate", "sklearn.metrics"), module("calibrate", "krippendorff")


def reliability(probabilities: Sequence[float], labels: Sequence[bool], bins: int = BINS) -> list[dict[str, Any]]:
    """Per equal-width bin: its bounds, count, mean probability and observed rate of yes."""
    rows = []
    for k in range(bins):
        low, high = k / bins, (k + 1) / bins
        inside = [(p, y) for p, y in zip(probabilities, labels) if low <= p < high or (k == bins - 1 and p == 1.0)]
        rows.append(
            {
                "low": low,
                "high": high,
                "n": len(inside),
                "mean_p": sum(p for p, _ in inside) / len(inside) if inside else None,
                "observed": sum(y for _, y in inside) / len(inside) if inside else None,
            }
        )
    return rows


def expected_calibration_error(probabilities: Sequence[float], labels: Sequence[bool], bins: int = BINS) -> float:
    total = len(probabilities)
    return sum(
        row["n"] / total * abs(row["mean_p"] - row["observed"])
        for row in reliability(probabilities, labels, bins)
        if row["n"]
    )


def agreement(
    probabilities: Sequence[float], labels: Sequence[bool], threshold: float | Sequence[float]
) -> dict[str, Any]:
    """Every figure for one set of probabilities, decided at ``threshold`` (one, or one per row)."""
    metrics, krippendorff = _libraries()
    n = len(labels)
    thresholds = [threshold] * n if isinstance(threshold, (int, float)) else list(threshold)
    decisions = [p >= t for p, t in zip(probabilities, thresholds)]
    both = len(set(labels)) == 2
    same = all(d == decisions[0] for d in decisions) and all(y == decisions[0] for y in labels)
    return {
        "n": n,
        "ece": expected_calibration_error(probabilities, labels),
        "brier": sum((p - y) ** 2 for p, y in zip(probabilities, labels)) / n,
        "auroc": float(metrics.roc_auc_score(labels, probabilities)) if both else None,
        "accuracy": sum(d == y for d, y in zip(decisions, labels)) / n,
        "balanced_accuracy": float(metrics.balanced_accuracy_score(labels, decisions)) if both else None,
        "false_positive_rate": (
            sum(d and not y for d, y in zip(decisions, labels)) / max(1, sum(not y for y in labels))
        ),
        "kappa": None if same else float(metrics.cohen_kappa_score(labels, decisions)),
        "alpha": None
        if same
        else float(
            krippendorff.alpha(
                reliability_data=[list(map(int, decisions)), list(map(int, labels))], level_of_measurement="nominal"
            )
        ),
    }
