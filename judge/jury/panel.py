"""A jury: several judges, one verdict. Every criterion is judged by each judge (its own
backend, cache entries, retries and limits; the judges run concurrently) and the jury's
P(yes) is their aggregate (judge/jury/combine.py). A ``Jury`` is used wherever a ``Judge``
is: the same evaluate methods, settings for resumed runs, verdicts of the same shape, with
each judge's P(yes) and score kept beside the aggregate.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from judge.backends.base import Backend
from judge.engine import Evaluates, Judge, JudgeItem, Prepared
from judge.jury.combine import METHODS, JuryMethod, combine
from judge.verdict import Verdict

# What may differ between the judges of one jury: everything else shapes every verdict alike.
PER_JUDGE = ("model", "backend", "calibration")


class Jury(Evaluates):
    """Judges whose verdicts are aggregated criterion by criterion.

    judges: two or more, built with the same options but their backend (and calibration);
    ``judge.build.build_judge(options, backends)`` builds them. method: mean, median, majority or min.
    """

    def __init__(self, judges: Sequence[Judge], method: JuryMethod = "mean"):
        if method not in METHODS:
            raise ValueError(f"jury method must be one of {', '.join(METHODS)}, got {method!r}")
        if len(judges) < 2:
            raise ValueError("a jury needs at least two judges")
        labels = [j.model_label for j in judges]
        if len(set(labels)) < len(labels):
            twice = next(label for label in labels if labels.count(label) > 1)
            raise ValueError(f"the jury names {twice} twice: each judge must be another model")
        shared = [{k: v for k, v in j.settings().items() if k not in PER_JUDGE} for j in judges]
        for judge, settings in zip(judges[1:], shared[1:]):
            differ = sorted(k for k in settings if settings[k] != shared[0].get(k))
            if differ:
                raise ValueError(
                    f"the judges of a jury share their settings; {judge.model_label} differs in {', '.join(differ)}"
                )
        self.judges = list(judges)
        self.method: JuryMethod = method
        first = self.judges[0]
        self.options = first.options
        self.threshold = first.threshold
        self.request_shape = first.request_shape
        self.template_version = first.template_version
        self.batch_size = first.batch_size
        self.concurrency = max(j.concurrency for j in self.judges)

    @property
    def model_label(self) -> str:
        return f"jury-{self.method}[{', '.join(self.labels)}]"

    @property
    def labels(self) -> list[str]:
        return [j.model_label for j in self.judges]

    @property
    def backends(self) -> list[Backend]:
        return [j.backend for j in self.judges]

    def settings(self) -> dict[str, Any]:
        return {"model": self.model_label, "jury": self.method, "judges": [j.settings() for j in self.judges]}

    # -- internals ----------------------------------------------------------------------------
    async def _judge_chunk(self, items: Sequence[JudgeItem]) -> list[Verdict]:
        decided = await asyncio.gather(*(judge.decide(items) for judge in self.judges))
        return [self._verdict([by_judge[i] for by_judge in decided]) for i in range(len(items))]

    def _verdict(self, prepared: list[Prepared]) -> Verdict:
        """The jury's verdict on one item from each judge's decided criteria."""
        first = prepared[0]
        merged = Prepared(first.item, deferred=dict(first.deferred))
        for p in prepared:
            merged.notes += [note for note in p.notes if note not in merged.notes]
        for criterion in first.item.rubric.criteria:
            if any(criterion.id in p.judged for p in prepared):
                votes = [(judge.model_label, p.results[criterion.id]) for judge, p in zip(self.judges, prepared)]
                merged.results[criterion.id] = combine(votes, self.method, self.threshold)
            else:  # decided in code, or skipped: the same for every judge
                merged.results[criterion.id] = first.results[criterion.id]
        alone = {judge.model_label: judge.verdict(p).score for judge, p in zip(self.judges, prepared)}
        verdict = self.judges[0].verdict(merged)
        return verdict.model_copy(update={"model": self.model_label, "jury": alone, "calibration": None})
