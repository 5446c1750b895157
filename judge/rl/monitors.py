"""Hack monitors: what a batch of completions looks like beside its reward.

A reward can rise while the policy stops doing the task: last round's GRPO policy learnt to
quote its answers, shorten them and write a required end phrase alone. These signs are cheap
to compute from the batch itself, so every reward door logs them (TRL's metrics, `rubric
serve`'s /metrics), and ``HackMonitor`` warns when the reward rises over a window of
batches while the task criterion's pass rate falls.

- ``quoted``: the share of completions wrapped whole in quotation marks;
- ``words``: their mean length in words;
- ``echo``: the mean share of a completion's word 3-grams that are in its prompt;
- ``phrase_alone``: of the completions whose rubric asks for a start or end phrase, the share
  that are little more than the phrase (fewer than 3 other words);
- ``refusal``: the share that open with a refusal;
- ``guarded``: the share the guard decided without the judge (content-free);
- ``task_pass``: the mean P(yes) of the task criterion (id or tag ``task``), where rubrics
  have one;
- ``reward``: the mean reward of those that have one.
"""

from __future__ import annotations

import logging
import re
from collections import deque
from collections.abc import Sequence
from typing import Any

from judge.engine import GUARD_DECIDED
from rubrics.model import Rubric

log = logging.getLogger("rubric.rewards")
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")
_QUOTES = {'"': '"', "“": "”", "'": "'", "«": "»", "„": "“"}
_REFUSAL = re.compile(
    r"^\W*(?:i(?:'m| am)? (?:sorry|afraid)|sorry\b|i (?:can(?:'|no)t|cannot|won't|am unable|'m unable)|"
    r"as an ai\b|i do not (?:feel comfortable|have the ability))",
    re.IGNORECASE,
)
PHRASE_PARAMS = ("end_phrase", "start_phrase", "phrase")
SIGNS = ("reward", "quoted", "words", "echo", "phrase_alone", "refusal", "guarded", "task_pass")


def _words(text: str) -> list[str]:
    return [w.casefold() for w in _WORD.findall(text)]


def _quoted(text: str) -> bool:
    text = text.strip()
    return len(text) > 1 and _QUOTES.get(text[0]) == text[-1]


def _echo(prompt: Any, response: str) -> float:
    prompt_words = _words(prompt if isinstance(prompt, str) else " ".join(str(m.get("content", "")) for m in prompt))
    grams = {tuple(prompt_words[i : i + 3]) for i in range(len(prompt_words) - 2)}
    words = _words(response)
    own = [tuple(words[i : i + 3]) for i in range(len(words) - 2)]
    return sum(g in grams for g in own) / len(own) if own else 0.0


def _phrases(rubric: Rubric | None) -> list[str]:
    found = []
    for criterion in rubric.criteria if rubric is not None else []:
        for name in PHRASE_PARAMS:
            if isinstance(value := (criterion.check or {}).get(name), str) and value.strip():
                found.append(value)
    return found


def _alone(response: str, phrases: list[str]) -> bool:
    rest = response
    for phrase in phrases:
        rest = rest.replace(phrase, " ")
    return len(_words(rest)) < 3


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def batch_signs(completions: Sequence[tuple[Any, str, Rubric | None, Any]]) -> dict[str, float | None]:
    """The signs of one batch: (prompt, response, its rubric or None, its Reward) per completion."""
    texts = [response for _, response, _, _ in completions]
    verdicts = [reward.verdict for *_, reward in completions if reward.verdict is not None]
    asked = [(response, phrases) for _, response, rubric, _ in completions if (phrases := _phrases(rubric))]
    task = [
        r.p_yes
        for v in verdicts
        for r in v.results
        if r.criterion_id == "task" and r.status == "scored" and r.p_yes is not None
    ]
    guarded = [bool(v.results) and all((r.reason or "").startswith(GUARD_DECIDED) for r in v.results) for v in verdicts]
    return {
        "reward": _mean([reward.value for *_, reward in completions if reward.value is not None]),
        "quoted": _mean([_quoted(t) for t in texts]),
        "words": _mean([len(_words(t)) for t in texts]),
        "echo": _mean([_echo(prompt, response) for prompt, response, _, _ in completions]),
        "phrase_alone": _mean([_alone(response, phrases) for response, phrases in asked]),
        "refusal": _mean([bool(_REFUSAL.search(t[:200])) for t in texts]),
        "guarded": _mean(guarded),
        "task_pass": _mean(task),
    }


class HackMonitor:
    """Watches the batches' signs; ``observe`` returns a warning (and logs it) when, over the
    last ``window`` batches, the mean reward of the later half rose by ``margin`` or more over
    the earlier half while the task criterion's pass rate fell by ``margin`` or more."""

    def __init__(self, window: int = 10, margin: float = 0.05):
        if window < 2:
            raise ValueError(f"a monitor's window needs at least 2 batches, got {window}")
        self.window, self.margin = window, margin
        self.history: deque[tuple[float, float]] = deque(maxlen=window)
        self.warnings: list[str] = []
        self.latest: dict[str, float | None] = {}

    def observe(self, signs: dict[str, float | None]) -> str | None:
        self.latest = signs
        reward, task = signs.get("reward"), signs.get("task_pass")
        if reward is None or task is None:
            return None
        self.history.append((reward, task))
        if len(self.history) < self.window:
            return None
        half = self.window // 2
        earlier, later = list(self.history)[:half], list(self.history)[-half:]
        rise = _mean([r for r, _ in later]) - _mean([r for r, _ in earlier])  # type: ignore[operator]
        fall = _mean([t for _, t in earlier]) - _mean([t for _, t in later])  # type: ignore[operator]
        if rise < self.margin or fall < self.margin:
            return None
        warning = (
            f"the reward rose by {rise:.3f} over the last {self.window} batches while the task criterion's "
            f"pass rate fell by {fall:.3f}: the policy may be meeting the rubric without doing the task"
        )
        self.warnings.append(warning)
        self.history.clear()  # one warning per window
        log.warning(warning)
        return warning
