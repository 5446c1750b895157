"""Defences against a gullible judge that run before any model is called: the content-free
guard (guard.py, reading sentences with the word classes of lexicon.py) and the answer
part of a reasoning model's response (reasoning.py)."""

from judge.hardening.guard import GuardDecision, content_free_reason, inspect, screen
from judge.hardening.reasoning import REASONING_CHOICES, Reasoning, answer_part

__all__ = ["REASONING_CHOICES", "GuardDecision", "Reasoning", "answer_part", "content_free_reason", "inspect", "screen"]
