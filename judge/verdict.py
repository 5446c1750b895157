"""What the engine returns: one result per criterion and a verdict per response."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from rubrics.model import CriterionKind

CriterionStatus = Literal["scored", "unscored", "skipped"]
GateState = Literal["passed", "failed", "undetermined", "none"]


class CriterionResult(BaseModel):
    criterion_id: str
    kind: CriterionKind = "principle"
    weight: float = 1.0
    status: CriterionStatus
    p_yes: float | None = Field(None, description="P(yes) that the response meets the criterion.")
    met: bool | None = Field(None, description="p_yes >= threshold; None unless scored.")
    p_yes_raw: float | None = Field(
        None, description="The judge's own P(yes) when a calibration changed it into p_yes."
    )
    yes_no_mass: float | None = Field(None, description="Next-token probability on Yes/No spellings, where read.")
    reason: str | None = Field(None, description="Why it is unscored or skipped, or how it was decided.")
    label: Literal["support", "partial_support", "not_support"] | None = Field(
        None, description="Nuggets: the most likely of the three labels (p_yes is then the nugget's credit)."
    )
    explanation: str | None = None
    notes: list[str] = Field(default_factory=list)
    jury: dict[str, float | None] | None = Field(
        None,
        description="Juries: each judge's P(yes) by model label (None where it could not score); p_yes is their aggregate.",
    )
    disputed: bool | None = Field(
        None, description="Juries: the judges that scored the criterion decided it differently."
    )
    transient: bool | None = Field(
        None,
        description="Unscored for a passing cause (connection, timeout, 5xx, rate limit): a rerun of the run asks again.",
    )


class Verdict(BaseModel):
    item_id: str
    rubric_id: str
    model: str
    threshold: float
    status: Literal["scored", "unscored"]
    score: float | None = Field(None, description="Soft score: weights times p_yes, over positive weight.")
    hard_score: float | None = Field(None, description="Hard score: weights times met, over positive weight.")
    gate: GateState = "none"
    n_scored: int = 0
    n_unscored: int = 0
    n_skipped: int = 0
    reason: str | None = None
    results: list[CriterionResult]
    notes: list[str] = Field(default_factory=list)
    template_version: str | None = None
    request_shape: Literal["per_criterion", "generated", "batched"] = "per_criterion"
    calibration: str | None = Field(None, description="The id of the calibration applied to p_yes, if any.")
    jury: dict[str, float | None] | None = Field(
        None, description="Juries: the soft score each judge alone would have given, by model label."
    )
