"""The batched request shape: all criteria of a rubric in one request, one label per id.

Labels are read leniently and one at a time, so a model that skips, repeats or garbles
one criterion's label loses that criterion only, never the whole rubric.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from judge.backends.structured import BatchedVerdict, CriterionLabel

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
