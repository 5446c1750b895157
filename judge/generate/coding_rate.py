"""Coding rate of a set of embeddings, and greedy selection of a compact, diverse subset.

R(Z) = 1/2 logdet(I + d / (n eps^2) Z Z^T) for n unit-norm rows of dimension d (MCR^2):
the number of bits needed to code the rows up to precision eps. It grows when a row adds a
new direction and not when it repeats one, so greedily adding the row that raises R the
most picks rubrics that say different things (Auto-Rubric, stage 2). Pure numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)


def coding_rate(rows: np.ndarray, eps: float = 0.1) -> float:
    """R of unit-norm rows (n x d); 0 for no rows."""
    n, d = rows.shape
    if n == 0:
        return 0.0
    gram = rows @ rows.T  # n x n: logdet(I_n + c Z Z^T) = logdet(I_d + c Z^T Z), the smaller side
    sign, logdet = np.linalg.slogdet(np.eye(n) + (d / (n * eps**2)) * gram)
    return 0.5 * float(logdet)


@dataclass(frozen=True)
class Selection:
    indices: list[int]  # in the order chosen
    gains: list[float]  # the rate each one added
    rate: float
    stopped: str  # why the selection ended


def greedy_select(vectors: np.ndarray, *, eps: float = 0.1, max_size: int = 20, min_gain: float = 0.05) -> Selection:
    """Add, one at a time, the row that raises the coding rate most; stop at max_size, when
    no row is left, or when the best gain is below min_gain (it would add nothing new)."""
    rows = normalise(vectors)
    chosen: list[int] = []
    gains: list[float] = []
    rate = 0.0
    remaining = list(range(len(rows)))
    stopped = "no rows left"
    while remaining:
        if len(chosen) >= max_size:
            stopped = f"size cap {max_size}"
            break
        rates = [coding_rate(rows[chosen + [i]], eps) for i in remaining]
        best = int(np.argmax(rates))
        gain = rates[best] - rate
        if gain < min_gain:
            stopped = f"best gain {gain:.4f} below {min_gain}"
            break
        chosen.append(remaining.pop(best))
        gains.append(gain)
        rate = rates[best]
    return Selection(chosen, gains, rate, stopped)
