"""Measuring judges: benchmarks by name (datasets), the eval modes (preference pairs:
pairwise and pointwise; graded: HealthBench-style rows; scored: 1-5 score rubrics), and
the HTML report of verdicts and eval results."""
