"""A rubric that can be met without doing the task: every criterion it pays for is about the
response's surface (quotes, case, counts, punctuation, a literal phrase, its language).

A GRPO policy trained on such rubrics met the format and dropped the task (quoted its
answers, wrote a required end phrase alone). Nothing in the rubric can see that, so it is
said where rubrics are checked (`rubric rubrics validate`) and once per rubric where they
are used: the engine warns the first time it judges one, whichever door it came through.
"""

from __future__ import annotations

import logging
import threading

from judge.hardening.view import about_surface
from rubrics.model import Criterion, Rubric

log = logging.getLogger("rubric.rubrics")
TASK_TAG = "task"  # the criterion asking whether the response does the task (judge/generate/constraint_task.py)
CONTENT_CHECKS = {"reference_answer", "nugget_match"}  # checks of what a response says, not of its form
NAMED = 3  # rubrics named one by one in a process; then one line for the rest
_warned: set[str] = set()
_lock = threading.Lock()


def on_surface(criterion: Criterion) -> bool:
    """A criterion about the response's surface: a code check of its form (not of what it
    says: a reference answer, a nugget), or words that ask about marks, case, counts, a
    literal or a language. Never the task criterion (tagged ``task``), whatever words the
    request it quotes holds."""
    if TASK_TAG in criterion.tags:
        return False
    if criterion.check is not None:
        return criterion.check.get("type") not in CONTENT_CHECKS
    return about_surface(criterion.text)


def surface_only(rubric: Rubric) -> bool:
    """Whether every positive-weight criterion of the rubric is about the response's surface."""
    paid = [c for c in rubric.criteria if c.weight > 0]
    return bool(paid) and all(on_surface(c) for c in paid)


SURFACE_ONLY = (
    "every criterion is about the response's surface (quotes, case, counts, a literal phrase), so it can be "
    "met without doing the task; add a criterion for the task itself (`rubric generate --method constraints` "
    "writes one)"
)


def warn_once(rubric: Rubric) -> None:
    """Warn about a surface-only rubric the first time this process judges it (the first few
    by name, then one line for the rest: a GRPO dataset has a rubric per prompt)."""
    if len(_warned) > NAMED or rubric.id in _warned or not surface_only(rubric):
        return
    with _lock:
        if len(_warned) > NAMED or rubric.id in _warned:
            return
        _warned.add(rubric.id)
        count = len(_warned)
    if count <= NAMED:
        log.warning(f"rubric {rubric.id!r}: {SURFACE_ONLY}")
    else:
        log.warning("more rubrics can be met without doing the task; `rubric rubrics validate` names each")
