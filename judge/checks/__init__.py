"""Everything the engine decides in code, without asking a model: one registry.

``CHECKS`` maps each check type of the spec language (rubrics/checks.py) to the function
that decides it: ``check(response, reference, spec) -> CheckOutcome``. Reference answers
(reference.py), instruction constraints (constraints.py, the IFEval families) and nuggets
(nuggets.py: matched in code, the unsure ones left to the judge).

The engine never calls them in its own process: ``shared_pool().arun`` runs them in worker
processes under a hard time limit (pool.py), since a check's cost can explode with its input.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from judge.checks.constraints import TYPES as CONSTRAINT_TYPES, check_constraint
from judge.checks.nuggets import nugget_match
from judge.checks.outcome import CheckOutcome
from judge.checks.pool import CheckCall, CheckPool, configure, shared_pool
from judge.checks.reference import reference_answer
from rubrics.checks import check_problem, validate_checks

Check = Callable[[str, "str | None", dict[str, Any]], CheckOutcome]

CHECKS: dict[str, Check] = {
    "reference_answer": reference_answer,
    "nugget_match": nugget_match,
    **{name: check_constraint for name in CONSTRAINT_TYPES},
}

__all__ = [
    "CHECKS",
    "CheckCall",
    "CheckOutcome",
    "CheckPool",
    "check_problem",
    "configure",
    "shared_pool",
    "validate_checks",
]
