"""The batched request shape: all criteria of a rubric in one request, one label per id.

Labels are read leniently and one at a time, so a model that skips, repeats or garbles
one criterion's label loses that criterion only, never the whole rubric.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from judge.backends.base import Message, YesNoScore
from judge.backends.retry import is_retryable
from judge.backends.structured import BatchedVerdict, CriterionLabel, instance_or_error
from judge.item import JudgeItem, Prepared
from judge.shapes.base import Judge
from rubrics.model import Criterion

TEMPLATE = "entailment_batched"
TRUE_WORDS = {"true", "yes", "satisfied", "met", "pass"}
FALSE_WORDS = {"false", "no", "not satisfied", "unsatisfied", "not met", "fail"}


@dataclass(frozen=True)
class Label:
    p_yes: float | None
    reason: str | None = None
    explanation: str | None = None


def criterion_keys(count: int) -> list[str]:
    """Short ids the judge copies back (c1, c2, ...): safer to copy than long rubric ids."""
    return [f"c{i + 1}" for i in range(count)]


def max_output_tokens(count: int) -> int:
    return 48 + 64 * count


def read_value(value: bool | str | int | None) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    return None


def read_labels(keys: Sequence[str], verdict: BatchedVerdict) -> tuple[dict[str, Label], list[str]]:
    """One Label per key, and the ids the judge named that were not asked about."""
    given: dict[str, list[CriterionLabel]] = {}
    for entry in verdict.criteria:
        given.setdefault(entry.id.strip().lower(), []).append(entry)
    labels = {}
    for key in keys:
        entries = given.get(key, [])
        values = {read_value(e.satisfied) for e in entries}
        if not entries:
            labels[key] = Label(None, reason=f"the batched verdict has no label for criterion {key}")
        elif None in values:
            bad = next(e.satisfied for e in entries if read_value(e.satisfied) is None)
            labels[key] = Label(None, reason=f"the batched verdict gave criterion {key} an unknown label {bad!r}")
        elif len(values) > 1:
            labels[key] = Label(None, reason=f"the batched verdict labels criterion {key} both true and false")
        else:
            labels[key] = Label(float(values.pop()), explanation=entries[0].reasoning or None)
    unknown = sorted(set(given) - set(keys))
    return labels, unknown


class Batched:
    name = "batched"
    nugget_labels = False
    template = TEMPLATE

    def output_tokens(self, criteria: int) -> int:
        return max_output_tokens(criteria)

    def render(
        self, judge: Judge, item: JudgeItem, criteria: Sequence[Criterion], p: Prepared
    ) -> Callable[[str], list[Message]]:
        keyed = list(zip(criterion_keys(len(criteria)), (c.text for c in criteria)))
        return lambda response: judge.render(item, response, criteria=keyed)

    def plan(self, judge: Judge, item: JudgeItem, response: str, criteria: Sequence[Criterion], p: Prepared) -> None:
        p.requests.append((list(criteria), self.render(judge, item, criteria, p)(response)))

    async def answer(self, judge: Judge, prepared: Sequence[Prepared]) -> None:
        await asyncio.gather(
            *(self._ask(judge, p, criteria, messages) for p in prepared for criteria, messages in p.requests)
        )

    async def _ask(self, judge: Judge, p: Prepared, criteria: list[Criterion], messages: list[Message]) -> None:
        """One generated request for all the item's criteria; each label read on its own."""
        keys = criterion_keys(len(criteria))
        verdict = await instance_or_error(judge.backend, messages, BatchedVerdict, max_output_tokens(len(criteria)))
        if isinstance(verdict, Exception):
            for criterion in criteria:
                p.results[criterion.id] = judge.base_result(
                    criterion,
                    "unscored",
                    transient=is_retryable(verdict) or None,
                    reason=f"batched request failed: {type(verdict).__name__}: {verdict}",
                )
            return
        labels, unknown = read_labels(keys, verdict)
        if unknown:
            p.notes.append(f"the batched verdict named unknown criterion ids {unknown}; ignored")
        for key, criterion in zip(keys, criteria):
            label = labels[key]
            p.results[criterion.id] = judge.result(
                criterion, YesNoScore(label.p_yes, reason=label.reason, explanation=label.explanation)
            )
