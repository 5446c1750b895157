"""The results file of `rubric eval`, typed: what `run_eval` writes and `rubric report` reads.

One benchmark entry holds its input counts and the summary of its mode: preference modes
put ``overall`` and ``by_source`` beside ``input``; graded and scored modes nest theirs
under ``graded`` / ``scored``. Every model forbids unknown fields, so a summary that drifts
from this schema fails when the results are built, not when a report is drawn.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from rubrics.io import read_json, validated


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Rate(Strict):
    """A share with its 95% bootstrap interval (stats.rate)."""

    n: int
    value: float | None
    ci95: tuple[float, float] | None


class Mean(Rate):
    """A mean with its bootstrap standard error (stats.bootstrap)."""

    se: float | None


class LengthBias(Strict):
    better_is_longer: Rate
    better_is_shorter: Rate


class MarginFit(Strict):
    """The tie band of the order-averaged decision fitted on these pairs (judge.eval.margin):
    ``margin`` on all of them, for ``--decision averaged --margin``; the figures held out."""

    margin: float
    folds: int
    fold_margins: list[float]
    accuracy: Rate  # held out; a tie counts wrong
    judge_ties: Rate  # held out


class JudgeAlone(Strict):
    """One judge of a jury on the jury's pairs (pointwise): its own figures, and the jury's
    accuracy minus its own, paired."""

    accuracy: Rate
    judge_ties: Rate
    jury_minus_judge: Rate


class PreferenceSummary(Strict):
    pairs: int
    label_ties: int
    accuracy: Rate
    judge_ties: Rate
    unscored: int
    length_bias: LengthBias
    position_consistency: Rate | None = None  # pairwise mode
    fitted_margin: MarginFit | None = None  # pairwise mode, enough scored pairs with a winner
    equal_scores: Rate | None = None  # pointwise mode
    judges: dict[str, JudgeAlone] | None = None  # pointwise mode with a jury


class GradedSummary(Strict):
    examples: int
    unscored_examples: int
    undefined_examples: int
    unscored_criteria: int
    score: Mean
    soft_score: Mean
    tags: dict[str, Mean]


class Correlations(Strict):
    pearson: float | None
    spearman: float | None
    kendall: float | None


class ScoredSummary(Strict):
    examples: int
    unscored: int
    with_gold: int
    mean_score: float | None
    mean_gold: float | None
    score_distribution: dict[str, int]
    exact_agreement: float | None
    within_one: float | None
    correlation: Correlations
    soft_correlation: Correlations


class InputCounts(Strict):
    records: int
    skipped: dict[str, int]


class BenchmarkResult(Strict):
    input: InputCounts
    overall: PreferenceSummary | None = None
    by_source: dict[str, PreferenceSummary] | None = None
    graded: GradedSummary | None = None
    scored: ScoredSummary | None = None


class EvalResults(Strict):
    model: str
    mode: Literal["pairwise", "pointwise", "graded", "scored"]
    seed: int
    rubric: str | None = None  # preference modes: the pointwise rubric, or none
    benchmarks: dict[str, BenchmarkResult]

    def to_json(self) -> str:
        """The file's text: only the fields the mode has (exclude_unset keeps a None value)."""
        return self.model_dump_json(indent=2, exclude_unset=True) + "\n"

    @classmethod
    def read(cls, path: Path, data: Any = None) -> EvalResults:
        """The results in ``path`` (or its already read ``data``); ValueError naming the file and the bad fields."""
        return validated(cls, read_json(path) if data is None else data, path, "the results of `rubric eval`")
