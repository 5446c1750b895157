"""The human summary of a run: items, mean scores, per-criterion pass rates, failures."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from judge.jury.agreement import JuryAgreement, format_agreement
from judge.scoring import clipped_mean


@dataclass
class CriterionStats:
    scored: int = 0
    met: int = 0
    unscored: int = 0
    p_yes_sum: float = 0.0
    weight: float = 0.0


@dataclass
class RunSummary:
    items: int = 0
    judged_now: int = 0
    resumed: int = 0
    unscored_items: int = 0
    unscored_criteria: int = 0
    malformed_lines: int = 0
    mean_score: float | None = None
    mean_hard_score: float | None = None
    judged_criteria: int = 0  # scored or unscored, i.e. not skipped by a filter
    criteria: dict[tuple[str, str], CriterionStats] = field(default_factory=dict)
    item_rows: list[tuple[str, str, float | None, float | None, int]] = field(default_factory=list)
    jury: dict[str, Any] | None = None  # a jury's agreement figures (judge.jury.agreement)

    @property
    def ok(self) -> bool:
        return not (self.malformed_lines or self.unscored_items or self.unscored_criteria)


class SummaryBuilder:
    """A run's summary by running aggregation: one record at a time, memory bounded by the
    criteria (and the first items shown), not by the rows."""

    def __init__(self, max_items: int = 20):
        self.summary = RunSummary()
        self.max_items = max_items
        self._means = {"score": [0.0, 0], "hard_score": [0.0, 0]}  # running total and count of each
        self._jury = JuryAgreement()

    def add(self, verdict: dict[str, Any]) -> None:
        summary = self.summary
        summary.items += 1
        summary.unscored_items += verdict.get("status") == "unscored"
        for key, running in self._means.items():
            if (value := verdict.get(key)) is not None:
                running[0] += value
                running[1] += 1
        if len(summary.item_rows) < self.max_items:
            summary.item_rows.append(
                (
                    str(verdict["item_id"]),
                    verdict.get("rubric_id", "?"),
                    verdict.get("score"),
                    verdict.get("hard_score"),
                    verdict.get("n_unscored", 0),
                )
            )
        for result in verdict.get("results", []):
            entry = summary.criteria.setdefault(
                (verdict.get("rubric_id", "?"), result["criterion_id"]), CriterionStats()
            )
            entry.weight = result.get("weight", 0.0)
            summary.judged_criteria += result["status"] != "skipped"
            if result["status"] == "scored":
                entry.scored += 1
                entry.met += bool(result.get("met"))
                entry.p_yes_sum += result.get("p_yes") or 0.0
            elif result["status"] == "unscored":
                entry.unscored += 1
                summary.unscored_criteria += 1
        self._jury.add(verdict)

    def result(self, *, judged_now: int, malformed_lines: int) -> RunSummary:
        summary = self.summary
        summary.judged_now, summary.resumed, summary.malformed_lines = (
            judged_now,
            summary.items - judged_now,
            malformed_lines,
        )
        summary.mean_score = clipped_mean(*self._means["score"])  # type: ignore[arg-type]
        summary.mean_hard_score = clipped_mean(*self._means["hard_score"])  # type: ignore[arg-type]
        summary.jury = self._jury.figures()
        return summary


def summarise(verdicts: Iterable[dict[str, Any]], *, judged_now: int, malformed_lines: int) -> RunSummary:
    """Summarise verdict records (as written to the output file)."""
    builder = SummaryBuilder()
    for verdict in verdicts:
        builder.add(verdict)
    return builder.result(judged_now=judged_now, malformed_lines=malformed_lines)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _table(rows: list[tuple[str, ...]], left_columns: int) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(
            cell.ljust(w) if i < left_columns else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths))
        ).rstrip()
        for row in rows
    ]


def format_summary(summary: RunSummary, max_items: int = 20) -> str:
    lines = [
        f"items: {summary.items} ({summary.judged_now} judged now, {summary.resumed} from an earlier run)",
        f"mean score: {_fmt(summary.mean_score)} soft (P(yes)-weighted), {_fmt(summary.mean_hard_score)} hard (thresholded); means clipped to [0, 1]",
        f"unscored: {summary.unscored_criteria} criteria, {summary.unscored_items} items; malformed input lines: {summary.malformed_lines}",
    ]
    if summary.item_rows:
        rows = [("item", "rubric", "score", "hard score", "unscored")]
        rows += [(i, r, _fmt(score), _fmt(hard), str(n)) for i, r, score, hard, n in summary.item_rows[:max_items]]
        lines += ["", *_table(rows, 2)]
        if summary.items > len(summary.item_rows[:max_items]):
            lines.append(f"... and {summary.items - len(summary.item_rows[:max_items])} more items in the output file")
    if summary.criteria:
        rows = [("rubric", "criterion", "weight", "pass rate", "mean p_yes", "scored", "unscored")]
        for (rubric_id, criterion_id), s in summary.criteria.items():
            rate = f"{s.met}/{s.scored} {100 * s.met / s.scored:.0f}%" if s.scored else "n/a"
            mean_p = f"{s.p_yes_sum / s.scored:.3f}" if s.scored else "n/a"
            rows.append((rubric_id, criterion_id, f"{s.weight:g}", rate, mean_p, str(s.scored), str(s.unscored)))
        lines += ["", *_table(rows, 2)]
    if summary.jury:
        lines += ["", format_agreement(summary.jury)]
    return "\n".join(lines)


def format_comparison(summary: dict[str, Any]) -> str:
    """The human summary of a `rubric pairwise` run (judge.runs.files.compare_file's summary)."""
    preferred = summary["preferred"]
    lines = [
        f"pairs: {summary['pairs']} ({summary['judged_now']} judged now); preferred A {preferred['A']}, "
        f"B {preferred['B']}, tie {preferred['tie']} (of which {summary['position_flips']} flipped with the order)",
        f"unscored: {summary['unscored']}; malformed input lines: {summary['malformed_lines']}",
    ]
    if summary["accuracy"] is not None:
        lines.append(
            f"accuracy against labels: {summary['accuracy']:.3f} over {summary['labelled']} labelled pairs (a tie counts as wrong)"
        )
    return "\n".join(lines)
