"""Defences against a gullible judge that run before any model is called: the content-free
guard (guard.py, reading sentences with the word classes of lexicon.py) and the answer
part of a reasoning model's response (reasoning.py)."""

from typing import Any

from judge.extras import require

from judge.hardening.guard import GuardDecision, content_free_reason, inspect, screen
from judge.hardening.reasoning import REASONING_CHOICES, Reasoning, answer_part

__all__ = [
    "REASONING_CHOICES",
    "GuardDecision",
    "Reasoning",
    "answer_part",
    "check_options",
    "content_free_reason",
    "guard_reader",
    "inspect",
    "screen",
]


def check_options(guard: object, reasoning: object) -> None:
    """The guard and reasoning settings an engine takes (Judge, PairwiseJudge), or ValueError."""
    if guard not in (True, False, "semantic"):
        raise ValueError(f"guard must be True, False or 'semantic', got {guard!r}")
    if reasoning not in REASONING_CHOICES:
        raise ValueError(f"reasoning must be 'exclude' or 'include', got {reasoning!r}")
    if guard == "semantic":  # its reader loads on first use: the install hint comes now, not mid-run
        require("generate", "sentence_transformers", purpose="the semantic guard")


def guard_reader(guard: object) -> Any:
    """The semantic reader when the guard is "semantic" (one per process, loaded on first
    use: its banks are fixed), else None."""
    if guard != "semantic":
        return None
    from judge.hardening.semantic import shared_reader

    return shared_reader()
