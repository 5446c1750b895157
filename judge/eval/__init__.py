"""Measuring judges: benchmarks by name (datasets), the eval modes (preference pairs:
pairwise and pointwise; graded: HealthBench-style rows; scored: 1-5 score rubrics), and
the HTML report of verdicts and eval results."""

# What records these apps read may be tables and datasets too: the reader of `rubric judge`
# registers itself with rubrics.records when imported (judge/runs/sources.py).
import judge.runs.sources  # noqa: E402, F401
