"""The answer part of a response from a reasoning policy.

Reasoning models write ``<think>…</think>`` before their answer (DeepSeek-R1, Qwen3,
QwQ; other fine-tunes <thinking>, <reasoning>, <scratchpad>), and a truncated rollout
leaves the tag unclosed. A criterion is about the answer
the user gets, so by default only what follows the reasoning is judged: reasoning that
talks its way to "yes" cannot earn a reward its answer does not, and an answer that is
empty once the reasoning is removed is content-free. ``reasoning="include"`` judges the
whole text instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Reasoning = Literal["exclude", "include"]
REASONING_CHOICES: tuple[Reasoning, ...] = ("exclude", "include")

# <think> (DeepSeek-R1, Qwen3, QwQ) and the tags other reasoning fine-tunes write.
_TAG = r"(?:think|thinking|thought|reasoning|scratchpad)"
_CLOSED = re.compile(rf"<({_TAG})>.*?</\1>|\[({_TAG})\].*?\[/\2\]", re.DOTALL | re.IGNORECASE)
_OPEN = re.compile(rf"(?:<{_TAG}>|\[{_TAG}\]).*\Z", re.DOTALL | re.IGNORECASE)  # cut off before its end
_CLOSING = re.compile(rf"</{_TAG}>|\[/{_TAG}\]", re.IGNORECASE)
_STRAY_CLOSE = re.compile(
    rf"\A.*?(?:</{_TAG}>|\[/{_TAG}\])", re.DOTALL | re.IGNORECASE
)  # the opening tag was in the prompt
_ANY = re.compile(rf"</?{_TAG}>|\[/?{_TAG}\]", re.IGNORECASE)


@dataclass(frozen=True)
class Answer:
    text: str  # what is judged
    reasoning_removed: bool  # some reasoning was cut out
    unclosed: bool = False  # the reasoning never ended: a truncated rollout


def answer_part(response: str, reasoning: Reasoning = "exclude") -> Answer:
    """The part of the response to judge: without its reasoning unless ``include``."""
    if reasoning == "include" or not _ANY.search(response):
        return Answer(response, False)
    text = _CLOSED.sub("", response)
    if _CLOSING.search(text) and not _OPEN.search(text):
        text = _STRAY_CLOSE.sub("", text)  # chat templates that open <think> for the model
    unclosed = bool(_OPEN.search(text))
    text = _OPEN.sub("", text)
    return Answer(text.strip(), True, unclosed)


def empty_answer_reason(answer: Answer) -> str | None:
    """Why an answer left by removing the reasoning is nothing to judge, or None."""
    if not answer.reasoning_removed or answer.text.strip():
        return None
    if answer.unclosed:
        return "content-free [reasoning only]: the reasoning never ends (an unclosed <think> or the like), so there is no answer"
    return "content-free [reasoning only]: nothing follows the reasoning (<think>…</think>)"
