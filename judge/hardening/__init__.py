"""Defences against a gullible judge that run before any model is called: the content-free
guard (guard.py, reading sentences with the word classes of lexicon.py) and the answer
part of a reasoning model's response (reasoning.py)."""

from typing import Any

from judge.hardening.guard import GuardDecision, content_free_reason, inspect, screen
from judge.hardening.reasoning import REASONING_CHOICES, Reasoning, answer_part

__all__ = ["REASONING_CHOICES", "GuardDecision", "Reasoning", "answer_part", "content_free_reason", "guard_reader", "inspect", "screen"]


def guard_reader(engine: Any) -> Any:
    """The semantic reader of an engine whose guard is "semantic" (loaded once, on first
    use, and kept on the engine), else None."""
    if engine.guard != "semantic":
        return None
    if engine._reader is None:
        from judge.hardening.semantic import SemanticReader

        engine._reader = SemanticReader()
    return engine._reader
