"""What `rubric eval` is run with, and the command-line flags that set it.

``EvalSettings`` is what run.run_eval takes; ``add_eval_arguments`` declares its flags with
the defaults taken from it, and the benchmark names from the data registry
(datasets.yaml), so neither is written twice.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, fields
from pathlib import Path

from judge.eval import datasets

MODES = ("pairwise", "pointwise", "graded", "scored")


@dataclass(frozen=True)
class EvalSettings:
    benchmarks: list[str]
    mode: str  # pairwise | pointwise | graded | scored
    output: Path
    rubric: str | None = "helpfulness"  # pointwise only
    limit: int | None = None
    seed: int = 0
    data_dir: Path | None = None
    overwrite: bool = False
    progress: bool | None = None  # None: a bar on a terminal
    decision: str = "both_orders"  # pairwise: both orders must agree, or the order-averaged P(A better) decides
    margin: float = 0.0  # pairwise, averaged: the tie band around 0.5
    jury: str = "mean"  # several models: how the jury aggregates each criterion (judge.jury)

    @classmethod
    def from_arguments(cls, args: argparse.Namespace) -> EvalSettings:
        given = {f.name: getattr(args, "benchmark" if f.name == "benchmarks" else f.name) for f in fields(cls) if f.name != "progress"}
        given["decision"] = given["decision"].replace("-", "_")
        return cls(**given, progress=False if args.quiet else None)


def add_decision_arguments(parser: argparse.ArgumentParser) -> None:
    """How a pair asked in both orders is decided (judge.pairwise)."""
    parser.add_argument("--decision", choices=["both-orders", "averaged"], default="both-orders",
                        help="both-orders: a preference must hold in both orders, a flip is a tie (default); averaged: the "
                        "order-averaged P(A better) decides, a tie within --margin of 0.5")
    parser.add_argument("--margin", type=float, default=0.0, help="averaged: the tie band around 0.5 (default %(default)s)")


def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    """Every `rubric eval` flag but the model's and --overwrite (which the CLI shares across commands)."""
    pairs, scored = (", ".join(datasets.benchmarks(kind)) for kind in ("pairs", "scored"))
    parser.add_argument("--benchmark", action="append", required=True, metavar="NAME|FILE",
                        help=f"{pairs}, or a file of labelled pairs; repeatable")
    parser.add_argument("--mode", choices=MODES, default="pairwise",
                        help="pairwise: compare the two, both orders (default); pointwise: score each with --rubric; "
                        "graded: HealthBench-style rows, each response graded with its own rubric (points, tags); "
                        f"scored: 1-5 score rubrics ({scored}) against reference grades")
    parser.add_argument("--rubric", metavar="FILE|NAME", default=EvalSettings.rubric, help="pointwise: the rubric (default %(default)s)")
    parser.add_argument("--limit", type=int, help="at most N pairs per benchmark, stratified by source and label")
    parser.add_argument("--seed", type=int, default=EvalSettings.seed, help="sampling and bootstrap seed")
    parser.add_argument("--data-dir", type=Path, help="a local copy of the benchmark data (DATASET/FILE under it), looked at before "
                        "$RUBRIC_JUDGE_DATA; otherwise named benchmarks are downloaded (sha256-checked) into the user cache")
    parser.add_argument("--output", required=True, type=Path, help="results (JSON)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_decision_arguments(parser)


def add_calibrate_arguments(parser: argparse.ArgumentParser) -> None:
    """Every `rubric calibrate` flag but the model's (used with --input) and --overwrite."""
    parser.add_argument("--verdicts", type=Path, help="verdicts of `rubric judge` (JSONL) to calibrate on, with --labels")
    parser.add_argument("--labels", type=Path, help='label lines {"id", "criterion_id", "label"} (default: the "labels" of --input rows)')
    parser.add_argument("--input", type=Path, help='labelled rows to judge first: judge input lines with "labels": {criterion_id: label}')
    parser.add_argument("--rubric", metavar="FILE|NAME", help="with --input: the rubric, as for `rubric judge`")
    parser.add_argument("--output", type=Path, required=True, help="the calibration file to write (JSON)")
    parser.add_argument("--min-labels", type=int, default=30, help="labels (of both classes) a criterion needs for a map of its own (default %(default)s)")
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds for the choice of map and the held-out report (default %(default)s)")
    parser.add_argument("--target-fpr", type=float, help="choose the threshold that keeps the false-positive rate at most this (default: best balanced accuracy)")
    parser.add_argument("--seed", type=int, default=0, help="fold assignment seed")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
