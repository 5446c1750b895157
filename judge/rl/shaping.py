"""How a verdict becomes a training reward.

The engine's verdict holds P(yes) per criterion; a trainer wants one number. Shaping is
applied to the per-criterion results, so the same verdict can be read several ways:

- ``soft`` (default): weights times P(yes), over the positive weights (HealthBench
  convention; pitfalls subtract, so a reward can fall below 0). ``hard`` thresholds first.
- ``gate``: a failed hard rule caps the reward at ``gate_cap`` (off by default: the raw
  weighted score).
- ``unscored``: what a criterion that could not be scored does to the reward. A check that
  cannot finish must never pay: dropped from the denominator (the HealthBench convention of
  a verdict's score), an answer that makes math-verify time out earned more than an honest
  wrong one. ``"fail"`` (default) counts it against the response (a criterion not met, a
  pitfall met; then the gate applies); ``"none"`` gives the completion no reward. A
  criterion unscored for a passing cause (the judge's connection, a rate limit: not the
  response's doing) always gives no reward, and so does a verdict with no positive-weight
  criterion scored (a constant 0 would teach nothing and hide the fault).
- ``quality_bonus`` / ``quality_penalty`` (IFBench, Pyatkin et al.): once every other
  criterion is met (a pitfall: not met), the reward gains the bonus if the quality criterion
  (``quality_criterion``, by default the task criterion of constraint rubrics) passes at
  ``quality_threshold``, and loses the penalty if it does not; nothing while a constraint
  fails, so format alone earns no bonus.
- ``length_limit``: an overlong penalty in characters, zero up to ``length_limit -
  length_buffer``, growing linearly to ``length_coef`` at ``length_limit`` and staying
  there beyond it (the soft overlong punishment of DAPO, in characters so that it needs no
  tokenizer).

Group-relative normalisation (subtract the group mean, divide by its std) is left to the
trainer: GRPO in TRL, verl and OpenRLHF already does it, and doing it twice is wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, model_validator

from judge.scoring import weighted_score
from judge.verdict import CriterionResult


class Shaped(NamedTuple):
    """A reward, why there is none, and the criteria counted against the response because they could not be scored."""

    value: float | None
    reason: str | None = None
    counted_against: tuple[str, ...] = ()


class Shaping(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    score: Literal["soft", "hard"] = "soft"
    gate: bool = False
    gate_cap: float = 0.0
    unscored: Literal["fail", "none"] = "fail"
    quality_criterion: str = Field("task", description="The criterion the quality term reads (IFBench).")
    quality_threshold: float = Field(0.5, ge=0.0, le=1.0, description="Its P(yes) from which the bonus is paid.")
    quality_bonus: float = Field(0.0, ge=0.0, description="Added when every other criterion is met and it passes.")
    quality_penalty: float = Field(0.0, ge=0.0, description="Taken when every other criterion is met and it fails.")
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

    def reward(self, results: Sequence[CriterionResult], response: str) -> Shaped:
        """The reward, or None and why (see ``unscored`` in the module's docstring)."""
        unscored = [r for r in results if r.status == "unscored"]
        if not any(r.status == "scored" and r.weight > 0 for r in results):
            return Shaped(None, "no positive-weight criterion was scored")
        if unscored:
            passing = [r for r in unscored if r.transient]
            if passing or self.unscored == "none":
                first = (passing or unscored)[0]
                return Shaped(None, f"criterion {first.criterion_id!r} could not be scored ({first.reason}): no reward")
            results = [_counted_against(r) if r.status == "unscored" else r for r in results]
        score = weighted_score(results, soft=self.score == "soft", gate=self.gate, gate_cap=self.gate_cap)
        if score.value is None:
            return Shaped(None, score.reason)
        value = score.value + self.quality_term(results) - self.length_penalty(response)
        return Shaped(value, None, tuple(r.criterion_id for r in unscored))

    def quality_term(self, results: Sequence[CriterionResult]) -> float:
        """IFBench's quality term: once every other criterion is met, ``quality_bonus`` if the
        quality criterion passes (P(yes) at or above ``quality_threshold``), ``-quality_penalty``
        if not; nothing while a constraint fails, or without that criterion."""
        if not (self.quality_bonus or self.quality_penalty):
            return 0.0
        quality = next((r for r in results if r.criterion_id == self.quality_criterion), None)
        others = [r for r in results if r is not quality and r.status != "skipped"]
        if quality is None or quality.p_yes is None or not all(bool(r.met) == (r.weight > 0) for r in others):
            return 0.0
        return self.quality_bonus if quality.p_yes >= self.quality_threshold else -self.quality_penalty


def _counted_against(result: CriterionResult) -> CriterionResult:
    """An unscored criterion read against the response: not met, or, for a pitfall, met."""
    p = 1.0 if result.weight < 0 else 0.0
    return result.model_copy(update={"status": "scored", "p_yes": p, "met": bool(p)})
