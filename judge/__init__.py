"""The judge: the core (engine, pairwise, verdict, scoring, nuggets, hardening, cache, aio, checks/ and
models.open_backend) over backends/, with the apps above it: runs/ (resumable file runs),
eval/ (benchmarks and eval modes), audit/ (robustness), rl/ (rewards for trainers).
docs/architecture.md draws the layers."""

from judge.backends import get_backend
from judge.models import open_backend
from judge.engine import Judge, JudgeItem
from judge.verdict import CriterionResult, Verdict

__all__ = ["CriterionResult", "Judge", "JudgeItem", "Verdict", "get_backend", "open_backend"]
