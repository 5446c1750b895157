"""Training examples for a judge: the engine's own yes/no questions, each with a label.

A labelled input row (what `rubric calibrate --input` reads: a judge input line with
``"labels": {criterion_id: label}``) becomes one example per labelled criterion the judge
would be asked about, on exactly the prompt the engine sends (the template, the response
quoted as data, the normalised view's question too where the engine asks it), so a model
trained on them is read out unchanged. A criterion with a code ``check`` is labelled by the
check when the row gives no label, and its question is asked without the check: the judge
learns to decide in words what code decided.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from judge.aio import run_sync
from judge.backends.base import Message
from judge.engine import Judge
from judge.item import JudgeItem


@dataclass(frozen=True)
class Example:
    messages: tuple[Message, ...]
    label: bool
    item_id: str  # examples of one row (its negatives included) stay on one side of a split
    criterion_id: str
    source: str  # "label" (the row's), "check" (decided in code), or a negative's augmentation


@dataclass
class Examples:
    examples: list[Example] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)  # why a labelled criterion gave no example
    found: int | None = None  # before a sample was drawn (--max-examples); None: nothing was left out

    def counts(self) -> dict[str, Any]:
        """Of the examples trained on (and how many were found, when a sample was drawn)."""
        return {
            "examples": len(self.examples),
            **({"found": self.found} if self.found is not None else {}),
            "positive": sum(e.label for e in self.examples),
            "items": len({e.item_id for e in self.examples}),
            "by_source": dict(Counter(e.source for e in self.examples)),
            "skipped": dict(self.skipped),
        }


def code_labels(judge: Judge, item: JudgeItem) -> dict[str, bool]:
    """What the rubric's code checks decide about this response (criterion id -> met)."""
    if not any(c.check for c in item.rubric.criteria):
        return {}
    prepared = run_sync(judge.prepare(item))
    checked = {c.id for c in item.rubric.criteria if c.check}
    return {
        cid: bool(result.p_yes >= 0.5)
        for cid, result in prepared.results.items()
        if cid in checked and result.status == "scored" and result.p_yes is not None
    }


def without_checks(item: JudgeItem) -> JudgeItem:
    criteria = [c.model_copy(update={"check": None}) if c.check else c for c in item.rubric.criteria]
    return replace(item, rubric=item.rubric.model_copy(update={"criteria": criteria}))


def examples_of(
    judge: Judge,
    item: JudgeItem,
    labels: dict[str, bool],
    source: str = "label",
    found: Examples | None = None,
    row: str | None = None,
) -> Examples:
    """The item's labelled questions: ``labels`` first, then what its checks decide. ``row``:
    the row it was made from (a negative's original), by default the item itself."""
    found = found if found is not None else Examples()
    decided = {**code_labels(judge, item), **labels}
    kinds = {cid: ("label" if cid in labels else "check") for cid in decided}
    prepared = run_sync(judge.prepare(without_checks(item)))
    asked: dict[str, list[Message]] = {}
    for part in (prepared, prepared.view):
        for criterion, questions in part.asked if part is not None else ():
            for question in questions:
                asked.setdefault(criterion.id, []).append(question.messages)
    for cid, label in decided.items():
        if cid not in asked:
            why = prepared.results[cid].reason if cid in prepared.results else "no such criterion in the rubric"
            found.skipped[":".join(str(why).split(":")[:2])] += 1  # the cause, not the response's words
            continue
        for messages in asked[cid]:
            found.examples.append(
                Example(tuple(messages), label, row or item.id, cid, source if kinds[cid] == "label" else "check")
            )
    return found


def collect(judge: Judge, rows: Iterable[tuple[JudgeItem, dict[str, bool], str, str]]) -> Examples:
    """Examples of (item, its labels, where they came from, the row it was made from) rows."""
    found = Examples()
    for item, labels, source, row in rows:
        examples_of(judge, item, labels, source, found, row)
    return found


def split_by_item(examples: Sequence[Example], folds: int) -> list[int]:
    """A fold per example, the same for every example of one item (stable across runs)."""
    return [int(hashlib.sha256(e.item_id.encode()).hexdigest(), 16) % folds for e in examples]
