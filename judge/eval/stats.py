"""The statistics every eval mode reports: bootstrap intervals and standard errors of a
mean (clipped to [0, 1] where HealthBench clips), and seeded stratified samples."""

from __future__ import annotations

import random
import statistics
from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from typing import Any, TypeVar

from judge.scoring import mean_score

T = TypeVar("T")
RESAMPLES = 1000


def _resampled_means(values: Sequence[float], clip: bool, resamples: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    n = len(values)
    return sorted(mean_score([values[rng.randrange(n)] for _ in range(n)], clip=clip) for _ in range(resamples))  # type: ignore[misc]


def interval(
    values: Sequence[float], *, clip: bool = False, resamples: int = RESAMPLES, seed: int = 0
) -> tuple[float, float] | None:
    """95% percentile interval of the mean, by resampling the values with replacement."""
    if not values:
        return None
    means = _resampled_means(values, clip, resamples, seed)
    return means[int(0.025 * resamples)], means[min(resamples - 1, int(0.975 * resamples))]


def bootstrap(
    values: Sequence[float], *, clip: bool = True, resamples: int = RESAMPLES, seed: int = 0
) -> dict[str, Any]:
    """The mean (clipped to [0, 1] unless ``clip=False``), its bootstrap standard error and
    95% percentile interval: ``{"n", "value", "se", "ci95"}``."""
    if not values:
        return {"n": 0, "value": None, "se": None, "ci95": None}
    means = _resampled_means(values, clip, resamples, seed)
    return {
        "n": len(values),
        "value": mean_score(values, clip=clip),
        "se": statistics.pstdev(means),
        "ci95": [means[int(0.025 * resamples)], means[min(resamples - 1, int(0.975 * resamples))]],
    }


def rate(flags: Sequence[bool], seed: int = 0) -> dict[str, Any]:
    """A share of True with its 95% interval: ``{"n", "value", "ci95"}``."""
    values = [float(f) for f in flags]
    bounds = interval(values, seed=seed)
    return {
        "n": len(values),
        "value": sum(values) / len(values) if values else None,
        "ci95": list(bounds) if bounds else None,
    }


def stratified_sample(
    items: Sequence[T], limit: int | None, stratum: Callable[[T], Hashable], seed: int = 0
) -> list[T]:
    """At most ``limit`` items, each stratum in proportion to its size (largest remainders
    get the spare places), seeded, in the input's order."""
    if limit is None or limit >= len(items):
        return list(items)
    strata: dict[Any, list[T]] = defaultdict(list)
    for item in items:
        strata[stratum(item)].append(item)
    rng = random.Random(seed)
    quotas = {key: limit * len(members) / len(items) for key, members in strata.items()}
    counts = {key: int(q) for key, q in quotas.items()}
    for key in sorted(quotas, key=lambda k: quotas[k] - counts[k], reverse=True)[: limit - sum(counts.values())]:
        counts[key] += 1
    chosen: list[T] = []
    for key in sorted(strata):
        members = strata[key][:]
        rng.shuffle(members)
        chosen += members[: counts[key]]
    order = {id(item): i for i, item in enumerate(items)}
    return sorted(chosen, key=lambda item: order[id(item)])
