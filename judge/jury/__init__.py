"""Juries of judges: each criterion judged by several models, their P(yes) aggregated
(combine.py), the judges' agreement measured from the verdicts (agreement.py)."""

from judge.jury.agreement import format_agreement, jury_agreement
from judge.jury.combine import METHODS, JuryMethod, aggregate, combine
from judge.jury.panel import Jury

__all__ = ["METHODS", "Jury", "JuryMethod", "aggregate", "combine", "format_agreement", "jury_agreement"]
