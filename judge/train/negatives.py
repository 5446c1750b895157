"""Negatives that keep a response's form and drop its task.

The hacks a GRPO policy found against constraint rubrics (a required phrase written alone,
an answer only quoted, a cut-off start) and the classic judge foolers (another prompt's
answer, a refusal) all look like answers and do no task. Each turns a row whose task
criterion is met into a row where it is not: the criteria named as the task's are labelled
not met, criteria with a code check are decided again by the check on the new response,
and every other criterion is left unlabelled (a refusal may still be polite).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace

from judge.checks.text import first_sentence
from judge.item import JudgeItem

REFUSALS = (
    "I'm sorry, but I can't help with that request.",
    "I am not able to answer this. Is there anything else I can help you with?",
    "As an AI language model, I cannot complete this task.",
)


def _last_line(response: str, _other: str, _rng: random.Random) -> str:
    """The closing phrase or line alone (what an end-phrase constraint asks for)."""
    lines = [line for line in response.strip().splitlines() if line.strip()]
    tail = lines[-1] if lines else ""
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", tail) if s.strip()]
    return sentences[-1].strip() if sentences else ""


def _quoted(response: str, _other: str, _rng: random.Random) -> str:
    """The first sentence only, wrapped in double quotes."""
    return f'"{first_sentence(response)}"'


def _truncated(response: str, _other: str, _rng: random.Random) -> str:
    return first_sentence(response)


def _other_answer(_response: str, other: str, _rng: random.Random) -> str:
    return other


def _refusal(_response: str, _other: str, rng: random.Random) -> str:
    return rng.choice(REFUSALS)


PERTURBATIONS: dict[str, Callable[[str, str, random.Random], str]] = {
    "phrase-alone": _last_line,
    "quoted": _quoted,
    "truncated": _truncated,
    "other-answer": _other_answer,
    "refusal": _refusal,
}


def negatives(
    rows: Sequence[tuple[JudgeItem, dict[str, bool]]],
    task_criteria: Sequence[str],
    kinds: Sequence[str] = tuple(PERTURBATIONS),
    seed: int = 0,
) -> Iterator[tuple[JudgeItem, dict[str, bool], str, str]]:
    """(perturbed item, its labels, the perturbation's name, the original's id) for each row
    whose task criterion is labelled met; code-checked criteria are left to their checks."""
    unknown = sorted(set(kinds) - set(PERTURBATIONS))
    if unknown:
        raise ValueError(f"unknown negative kind(s) {', '.join(unknown)}; known: {', '.join(PERTURBATIONS)}")
    rng = random.Random(seed)
    responses = [item.response for item, _ in rows]
    for index, (item, labels) in enumerate(rows):
        task = {cid: False for cid in task_criteria if labels.get(cid) is True}
        if not task:
            continue
        for kind in kinds:
            other = responses[(index + 1 + rng.randrange(max(len(responses) - 1, 1))) % len(responses)]
            response = PERTURBATIONS[kind](item.response, other, rng).strip()
            if not response or response == item.response.strip():
                continue
            yield replace(item, id=f"{item.id}:{kind}", response=response), task, kind, item.id
