"""How a verdict becomes a training reward.

The engine's verdict holds P(yes) per criterion; a trainer wants one number. Shaping is
applied to the per-criterion results, so the same verdict can be read several ways:

- ``soft`` (default): weights times P(yes), over the positive weights (HealthBench
  convention; pitfalls subtract, so a reward can fall below 0). ``hard`` thresholds first.
- ``gate``: a failed hard rule caps the reward at ``gate_cap`` (off by default: the raw
  weighted score).
- ``length_limit``: an overlong penalty in characters, zero up to ``length_limit -
  length_buffer``, growing linearly to ``length_coef`` at ``length_limit`` and staying
  there beyond it (the soft overlong punishment of DAPO, in characters so that it needs no
  tokenizer).

Group-relative normalisation (subtract the group mean, divide by its std) is left to the
trainer: GRPO in TRL, verl and OpenRLHF already does it, and doing it twice is wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from judge.scoring import weighted_score
from judge.verdict import CriterionResult


class Shaping(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    score: Literal["soft", "hard"] = "soft"
    gate: bool = False
    gate_cap: float = 0.0
    length_limit: int | None = Field(None, gt=0, description="Characters at which the full length penalty applies.")
    length_buffer: int = Field(1000, gt=0, description="Characters before the limit over which the penalty grows.")
    length_coef: float = Field(0.5, ge=0.0, description="The penalty at and beyond the limit.")

    @model_validator(mode="after")
    def _buffer_within_limit(self) -> Shaping:
        if self.length_limit is not None and self.length_buffer > self.length_limit:
            raise ValueError(f"length_buffer ({self.length_buffer}) must not exceed length_limit ({self.length_limit})")
        return self

    def length_penalty(self, response: str) -> float:
        if self.length_limit is None:
            return 0.0
        start = self.length_limit - self.length_buffer
        over = (len(response) - start) / self.length_buffer
        return self.length_coef * min(1.0, max(0.0, over))

    def reward(self, results: Sequence[CriterionResult], response: str) -> tuple[float | None, str | None]:
        """(reward, None), or (None, why) when no positive-weight criterion was scored."""
        score = weighted_score(results, soft=self.score == "soft", gate=self.gate, gate_cap=self.gate_cap)
        if score.value is None:
            return None, score.reason
        if self.gate and score.gate == "undetermined":
            return None, "a hard rule could not be scored, so the gate is undecided"
        return score.value - self.length_penalty(response), None
