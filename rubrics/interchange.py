"""Conversion to and from other projects' rubric-item formats, and ``to_rubric``: every
written form of a rubric (ours, principles, HealthBench, RaR) as one Rubric.

HealthBench (openai/simple-evals): ``{"criterion", "points", "tags"}``; negative
points are pitfalls. Rubrics as Rewards: ``{"title", "description", "weight"}``.
"""

from __future__ import annotations

from typing import Any, Literal

from rubrics.checks import validate_checks
from rubrics.model import ALLOW_NO_POSITIVE_WEIGHT, Criterion, Provenance, Rubric, derive_id

Format = Literal["auto", "native", "healthbench", "rar"]

# RaR's named importance levels, used when a weight is given as a word.
RAR_LEVELS = {"essential": 5.0, "important": 3.0, "optional": 1.0, "pitfall": -1.0}


def looks_like_healthbench(items: Any) -> bool:
    return _all_dicts_with(items, {"criterion", "points"})


def looks_like_rar(items: Any) -> bool:
    return _all_dicts_with(items, {"title", "weight"}) or _all_dicts_with(items, {"description", "weight"})


def _all_dicts_with(items: Any, keys: set[str]) -> bool:
    return isinstance(items, list) and bool(items) and all(isinstance(i, dict) and keys <= i.keys() for i in items)


def from_healthbench(
    items: list[dict[str, Any]], rubric_id: str, task: str | None = None, *, allow_no_positive: bool = False
) -> Rubric:
    """HealthBench items as a rubric. Two items of the same text are two criteria (simple-evals
    grades both): the second id gets a ``-2`` suffix. ``allow_no_positive``: accept a rubric
    of pitfalls only (its score is undefined; graded evaluation still records the verdicts)."""
    criteria, seen = [], set()
    for item in items:
        text = item["criterion"]
        base = item.get("id") or derive_id(text)
        criterion_id, k = base, 1
        while criterion_id in seen:
            k += 1
            criterion_id = f"{base}-{k}"
        seen.add(criterion_id)
        criteria.append(
            Criterion(id=criterion_id, text=text, weight=float(item["points"]), tags=list(item.get("tags") or []))
        )
    data = {"id": rubric_id, "task": task, "criteria": criteria, "provenance": Provenance(method="import:healthbench")}
    return Rubric.model_validate(data, context={ALLOW_NO_POSITIVE_WEIGHT: allow_no_positive})


def to_healthbench(rubric: Rubric) -> list[dict[str, Any]]:
    return [{"criterion": c.text, "points": c.weight, "tags": list(c.tags)} for c in rubric.criteria]


def _rar_weight(value: Any) -> float:
    if isinstance(value, str):
        key = value.strip().lower()
        if key in RAR_LEVELS:
            return RAR_LEVELS[key]
        return float(value)
    return float(value)


def from_rar(items: list[dict[str, Any]], rubric_id: str, task: str | None = None) -> Rubric:
    criteria = []
    for item in items:
        title = (item.get("title") or "").strip()
        description = (item.get("description") or "").strip()
        text = description or title
        tags = [title] if title and description else []
        criteria.append(Criterion(id=derive_id(text), text=text, weight=_rar_weight(item["weight"]), tags=tags))
    return Rubric(id=rubric_id, task=task, criteria=criteria, provenance=Provenance(method="import:rar"))


def to_rar(rubric: Rubric) -> list[dict[str, Any]]:
    return [
        {"title": c.tags[0] if c.tags else c.id, "description": c.text, "weight": c.weight} for c in rubric.criteria
    ]


def to_rubric(
    value: Any, rubric_id: str = "inline", *, fmt: Format = "auto", allow_no_positive: bool = False
) -> Rubric:
    """Any written form of a rubric as a Rubric with usable checks (ValueError or pydantic's
    ValidationError otherwise). ``allow_no_positive``: HealthBench rows of pitfalls only."""
    if isinstance(value, Rubric):
        return validate_checks(value)
    if fmt == "auto" and isinstance(value, list) and value and all(isinstance(p, str) for p in value):
        return Rubric.from_principles(value, rubric_id)
    if fmt == "healthbench" or (fmt == "auto" and looks_like_healthbench(value)):
        return from_healthbench(value, rubric_id, allow_no_positive=allow_no_positive)
    if fmt == "rar" or (fmt == "auto" and looks_like_rar(value)):
        return from_rar(value, rubric_id)
    if isinstance(value, dict):
        return validate_checks(Rubric.model_validate(value))
    raise ValueError("a rubric must be a rubric object, a list of principles, or HealthBench/RaR items")
