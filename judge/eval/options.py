"""What `rubric eval` and `rubric calibrate` are run with (typed; each option declares its flag,
judge/flags.py), and how a pair asked in both orders is decided.

``EvalSettings`` is what run.run_eval takes, with the benchmark names from the data registry
(datasets.yaml) in its help; ``CalibrateFlags`` what `rubric calibrate` takes
(eval/calibrate.py's ``CalibrateOptions`` is built from it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from judge.eval import datasets
from judge.flags import option, words

MODES = ("pairwise", "pointwise", "graded", "scored")
DECISIONS = ("both_orders", "averaged")


def _benchmark_help() -> str:
    return f"{', '.join(datasets.benchmarks('pairs'))}, or a file of labelled pairs; repeatable"


def _mode_help() -> str:
    return (
        "pairwise: compare the two, both orders (default); pointwise: score each with --rubric; graded: HealthBench-style "
        "rows, each response graded with its own rubric (points, tags); "
        f"scored: 1-5 score rubrics ({', '.join(datasets.benchmarks('scored'))}) against reference grades"
    )


@dataclass(frozen=True)
class Decision:
    """How a pair asked in both orders is decided (judge.pairwise)."""

    decision: str = option(
        "both_orders",
        "both-orders: a preference must hold in both orders, a flip is a tie (default); averaged: "
        "the order-averaged P(A better) decides, a tie within --margin of 0.5",
        type=words,
        choices=DECISIONS,
        metavar="{both-orders,averaged}",
    )
    margin: float = option(0.0, "averaged: the tie band around 0.5 (default %(default)s)")


@dataclass(frozen=True)
class EvalSettings:
    benchmarks: tuple[str, ...] = option(
        flags=(
            ("--benchmark", {"action": "append", "required": True, "metavar": "NAME|FILE", "help": _benchmark_help()}),
        )
    )
    output: Path = option(help="results (JSON)")
    mode: str = option("pairwise", _mode_help(), choices=MODES)
    rubric: str | None = option("helpfulness", "pointwise: the rubric (default %(default)s)", metavar="FILE|NAME")
    limit: int | None = option(None, "at most N pairs per benchmark, stratified by source and label")
    seed: int = option(0, "sampling and bootstrap seed")
    data_dir: Path | None = option(
        None,
        "a local copy of the benchmark data (DATASET/FILE under it), looked at before "
        "$RUBRIC_JUDGE_DATA; otherwise named benchmarks are downloaded (sha256-checked) into the user cache",
    )
    overwrite: bool = option(False, cli=False)  # the CLI's shared --overwrite
    progress: bool | None = option(None, cli=False)  # None: a bar on a terminal (the CLI's --quiet turns it off)
    decision: str = option("both_orders", cli=False)  # pairwise: as Decision
    margin: float = option(0.0, cli=False)  # pairwise, averaged: the tie band around 0.5
    jury: str = option("mean", cli=False)  # several models: how the jury aggregates each criterion (judge.jury; --jury)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "benchmarks", (self.benchmarks,) if isinstance(self.benchmarks, str) else tuple(self.benchmarks)
        )
        object.__setattr__(self, "decision", words(self.decision))


@dataclass(frozen=True)
class CalibrateFlags:
    """Every `rubric calibrate` flag but the model's (used with --input) and --overwrite."""

    output: Path = option(help="the calibration file to write (JSON)")
    verdicts: Path | None = option(None, "verdicts of `rubric judge` (JSONL) to calibrate on, with --labels")
    labels: Path | None = option(
        None, 'label lines {"id", "criterion_id", "label"} (default: the "labels" of --input rows)'
    )
    input: Path | None = option(
        None, 'labelled rows to judge first: judge input lines with "labels": {criterion_id: label}'
    )
    rubric: str | None = option(None, "with --input: the rubric, as for `rubric judge`", metavar="FILE|NAME")
    min_labels: int = option(
        30, "labels (of both classes) a criterion needs for a map of its own (default %(default)s)"
    )
    folds: int = option(5, "cross-validation folds for the choice of map and the held-out report (default %(default)s)")
    target_fpr: float | None = option(
        None, "choose the threshold that keeps the false-positive rate at most this (default: best balanced accuracy)"
    )
    seed: int = option(0, "fold assignment seed")
