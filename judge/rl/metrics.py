"""What `rubric serve` counts for GET /metrics: requests, answers, latency, engine calls, cache."""

from __future__ import annotations

import math
import time
from collections import Counter, deque
from typing import Any

from judge.cache import CachedBackend
from judge.rl.microbatch import MicroBatcher
from judge.rl.monitors import HackMonitor


class Metrics:
    def __init__(self) -> None:
        self.started = time.time()
        self.requests: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        self.items = 0
        self.unscored = 0  # items with no reward
        self.criteria = 0  # criteria asked (not skipped); a row with no verdict counts as one
        self.unscored_criteria = 0  # of those, the ones that could not be decided
        self.counted_against = 0  # items with an unscored criterion counted against the response
        self.monitor = HackMonitor()  # each request is a batch (a trainer's GRPO batch through rubric_reward(URL))
        self.in_flight = 0
        self.disconnected = 0
        self.latencies: deque[float] = deque(maxlen=10_000)

    def count(self, rewards: list[Any], signs: dict[str, float | None]) -> None:
        """Count a request's rewards (judge.rl.scorer.Reward), and watch its hack signs (monitors.batch_signs)."""
        self.monitor.observe(signs)
        self.items += len(rewards)
        self.unscored += sum(r.value is None for r in rewards)
        for reward in rewards:
            undecided, asked = reward.undecided
            self.unscored_criteria += undecided
            self.criteria += asked
        self.counted_against += sum(bool(r.counted_against) for r in rewards)

    def snapshot(self, batcher: MicroBatcher[Any, Any], backend: Any) -> dict[str, Any]:
        ordered = sorted(self.latencies)
        backends = backend if isinstance(backend, list) else [backend]  # a judge's backends (a jury's: one per judge)
        counts = [(b.hits, b.misses) if isinstance(b, CachedBackend) else (None, None) for b in backends]
        hits = None if any(h is None for h, _ in counts) else sum(h for h, _ in counts)
        misses = None if any(m is None for _, m in counts) else sum(m for _, m in counts)
        lookups = (hits or 0) + (misses or 0)
        return {
            "uptime_s": round(time.time() - self.started, 3),
            "requests": dict(self.requests),
            "responses_by_status": {str(k): v for k, v in sorted(self.statuses.items())},
            "in_flight": self.in_flight,
            "client_disconnects": self.disconnected,
            "items": self.items,
            "unscored_items": self.unscored,
            "criteria": self.criteria,
            "unscored_criteria": self.unscored_criteria,
            "unscored_counted_against": self.counted_against,
            "monitors": {
                "last_request": self.monitor.latest,
                "warnings": len(self.monitor.warnings),
                "last_warning": self.monitor.warnings[-1] if self.monitor.warnings else None,
            },
            "engine_calls": batcher.batches,
            "abandoned_engine_calls": batcher.abandoned,
            "mean_batch_items": round(batcher.batched_items / batcher.batches, 3) if batcher.batches else None,
            "latency_s": {"p50": percentile(ordered, 0.50), "p99": percentile(ordered, 0.99), "window": len(ordered)},
            "cache": {"hits": hits, "misses": misses, "hit_rate": round(hits / lookups, 4) if lookups else None},
        }


def percentile(ordered: list[float], q: float) -> float | None:
    """Nearest-rank percentile of sorted values."""
    if not ordered:
        return None
    rank = max(1, min(len(ordered), math.ceil(q * len(ordered))))
    return round(ordered[rank - 1], 6)
