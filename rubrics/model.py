"""The rubric data model: criteria, rubrics, Theme–Tips grouping and provenance."""

from __future__ import annotations

import hashlib
import math
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

CriterionKind = Literal["hard_rule", "principle", "nugget", "constraint"]

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]*$"
ALLOW_NO_POSITIVE_WEIGHT = "allow_no_positive_weight"  # validation context key


def derive_id(text: str, prefix: str = "c") -> str:
    """A stable id from content, so an id-less criterion keeps its id across runs."""
    return f"{prefix}-{hashlib.sha1(text.strip().encode('utf-8')).hexdigest()[:10]}"


def id_safe(text: str) -> str:
    """A form of text that is a valid id (ID_PATTERN)."""
    cleaned = re.sub(r"[^A-Za-z0-9_.:\-]+", "-", text).strip("-.")
    return cleaned if cleaned and cleaned[0].isalnum() else f"x{cleaned}"


class Criterion(BaseModel):
    """One yes/no question about a response.

    Phrase it so that "yes" is good. A negative weight makes it a *pitfall*
    (HealthBench): the text describes bad behaviour and "met" subtracts.
    """

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=ID_PATTERN, description="Stable id, unique within its rubric.")
    text: str = Field(min_length=1, description="The criterion, answerable yes or no.")
    kind: CriterionKind = "principle"
    weight: float = Field(1.0, allow_inf_nan=False, description="Signed weight (finite); negative marks a pitfall.")
    tags: list[str] = Field(default_factory=list)
    theme: str | None = Field(None, description="Name of the Theme this criterion is a tip of.")
    sources: list[str] = Field(default_factory=list, description="Ids of what it was derived from.")
    check: dict[str, Any] | None = Field(
        None, description="Optional machine-checkable spec: {'type': ..., ...parameters}."
    )

    @model_validator(mode="before")
    @classmethod
    def _default_id(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("id") and isinstance(data.get("text"), str):
            data = {**data, "id": derive_id(data["text"])}
        return data

    @field_validator("text")
    @classmethod
    def _not_blank(cls, text: str) -> str:
        if not text.strip():
            raise ValueError("criterion text is blank")
        return text.strip()

    @field_validator("check")
    @classmethod
    def _check_has_type(cls, check: dict[str, Any] | None) -> dict[str, Any] | None:
        if check is not None and not isinstance(check.get("type"), str):
            raise ValueError("a check needs a string 'type'")
        return check

    @property
    def is_pitfall(self) -> bool:
        return self.weight < 0


class Theme(BaseModel):
    """A Theme of a Theme–Tips rubric; its tips are the criteria naming it."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    description: str | None = None


class Provenance(BaseModel):
    """How and from what a rubric was made. Generators may add their own fields."""

    model_config = ConfigDict(extra="allow")

    method: str = "manual"
    model: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    sources: list[str] = Field(default_factory=list)
    created: str | None = None


class Rubric(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=ID_PATTERN)
    task: str | None = Field(None, description="The prompt or task this rubric belongs to, if any.")
    description: str | None = None
    intended_use: str | None = None
    criteria: list[Criterion] = Field(min_length=1)
    themes: list[Theme] = Field(default_factory=list)
    provenance: Provenance = Field(default_factory=Provenance)

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> Rubric:
        seen: set[str] = set()
        for criterion in self.criteria:
            if criterion.id in seen:
                raise ValueError(f"duplicate criterion id {criterion.id!r}")
            seen.add(criterion.id)
        if not math.isfinite(sum(abs(c.weight) for c in self.criteria)):
            raise ValueError("the weights add up to more than a float can hold; use smaller weights")
        # HealthBench rows whose items are all pitfalls are graded (their score is undefined,
        # as in simple-evals); that reader passes this context. Elsewhere such a rubric is an error.
        allow = bool(info.context and info.context.get(ALLOW_NO_POSITIVE_WEIGHT))
        if not allow and not any(c.weight > 0 for c in self.criteria):
            raise ValueError(
                "no criterion has a positive weight, so the score (normalised by the "
                "sum of positive weights) would be undefined"
            )
        theme_names = {t.name for t in self.themes}
        for criterion in self.criteria:
            if criterion.theme is not None and self.themes and criterion.theme not in theme_names:
                raise ValueError(
                    f"criterion {criterion.id!r} names theme {criterion.theme!r}, "
                    f"which is not among the declared themes {sorted(theme_names)}"
                )
        return self

    @property
    def positive_weight(self) -> float:
        return sum(c.weight for c in self.criteria if c.weight > 0)

    def criterion(self, criterion_id: str) -> Criterion:
        for criterion in self.criteria:
            if criterion.id == criterion_id:
                return criterion
        raise KeyError(criterion_id)

    @classmethod
    def from_principles(cls, principles: list[str], rubric_id: str = "principles") -> Rubric:
        """A rubric of equally weighted principles (RLBFF style)."""
        return cls(id=rubric_id, criteria=[Criterion(text=p) for p in principles])  # type: ignore[call-arg]
