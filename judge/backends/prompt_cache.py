"""Anthropic prompt caching for the K criteria of one response: their requests share the
instructions, the prompt and the response, and differ only at the end of the last message
(YesNoQuestion.group). A cache breakpoint after that shared part lets the first request
write it and the others read it at a tenth of the price. Anthropic caches only prefixes of
at least 1024 tokens (2048 for Haiku models) and ignores the mark below that, so marking
is free where it does not help; a response judged on a single criterion is not marked
(a cache write costs 1.25x and would never be read).
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from judge.backends.base import Message, YesNoQuestion

KEEP = 512  # shared prefixes remembered by a backend (recent groups)


def shared_prefixes(questions: Sequence[YesNoQuestion]) -> list[str]:
    """The start of the last message shared by each group of two or more questions, cut at a line end."""
    groups: dict[str, list[str]] = defaultdict(list)
    for question in questions:
        if question.group is not None:
            groups[question.group].append(question.messages[-1]["content"])
    prefixes = []
    for contents in groups.values():
        if len(contents) < 2:
            continue
        common = os.path.commonprefix(contents)
        cut = common.rfind("\n") + 1
        if cut:
            prefixes.append(common[:cut])
    return prefixes


class PrefixMemory:
    """The shared prefixes of recent groups, looked up by the request that starts with one."""

    def __init__(self) -> None:
        self._prefixes: dict[str, None] = {}

    def remember(self, prefixes: Sequence[str]) -> None:
        for prefix in prefixes:
            self._prefixes.pop(prefix, None)
            self._prefixes[prefix] = None
        while len(self._prefixes) > KEEP:
            self._prefixes.pop(next(iter(self._prefixes)))

    def length_for(self, content: str) -> int:
        return max((len(p) for p in self._prefixes if content.startswith(p)), default=0)


def with_breakpoint(turns: list[Message], memory: PrefixMemory) -> list[dict[str, Any]]:
    """The turns with the last one's shared start marked for caching (as two text blocks), if it has one."""
    if not turns:
        return list(turns)
    content = turns[-1]["content"]
    length = memory.length_for(content)
    if not length:
        return list(turns)
    blocks = [
        {"type": "text", "text": content[:length], "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": content[length:]},
    ]
    return [*turns[:-1], {"role": turns[-1]["role"], "content": blocks}]
