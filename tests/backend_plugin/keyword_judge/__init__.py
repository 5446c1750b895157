"""A backend written outside rubric-judge: ``keyword:WORD`` says yes when the response holds WORD.

It knows rubric-judge only through the Backend protocol (no base class), so it also shows that
a backend without the optional capabilities gets their defaults.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from judge.backends import Message, YesNoQuestion, YesNoScore


class KeywordBackend:
    name = "keyword"
    context_window = None

    def __init__(self, word: str):
        self.model_id = word

    @classmethod
    def from_spec(cls, rest: str, **options: Any) -> KeywordBackend:
        if not rest or options:
            raise ValueError("keyword:WORD takes a word and no options")
        return cls(rest)

    def identity(self) -> dict[str, Any]:
        return {"backend": self.name, "model": self.model_id}

    def count_tokens(self, messages: Sequence[Message]) -> int | None:
        return None

    async def p_yes(self, questions: Sequence[YesNoQuestion]) -> list[YesNoScore]:
        return [YesNoScore(1.0 if self.model_id.lower() in _response(q).lower() else 0.0) for q in questions]

    async def generate(self, messages: Sequence[Message], **_: Any) -> str:
        return "Yes"


def _response(question: YesNoQuestion) -> str:
    """The user turn that holds the response (the whole prompt: the word is looked for in it)."""
    return " ".join(str(m["content"]) for m in question.messages if m["role"] == "user")
