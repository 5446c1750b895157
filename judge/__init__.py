"""The judge engine, its backends, cache and scoring."""

from judge.backends import get_backend
from judge.engine import Judge, JudgeItem
from judge.verdict import CriterionResult, Verdict

__all__ = ["CriterionResult", "Judge", "JudgeItem", "Verdict", "get_backend"]
