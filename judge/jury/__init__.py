"""Juries of judges: each criterion judged by several models, their P(yes) aggregated
(combine.py), the judges' agreement measured from the verdicts (agreement.py)."""

from typing import Any

from judge.jury.agreement import format_agreement, jury_agreement
from judge.jury.combine import METHODS, JuryMethod, aggregate, combine

__all__ = ["METHODS", "Jury", "JuryMethod", "aggregate", "combine", "format_agreement", "jury_agreement"]


def __getattr__(name: str) -> Any:
    # The panel stands on the engine, and the engine's options read the jury methods above:
    # the panel is imported when first asked for, so importing combine needs no engine.
    if name == "Jury":
        from judge.jury.panel import Jury

        return Jury
    raise AttributeError(f"module 'judge.jury' has no attribute {name!r}")
