"""1-5 score rubrics (Prometheus, BiGGen-Bench) judged by binary entailment.

A score rubric is a criterion with five level descriptions. We ask one yes/no question per
level k = 2..5, "is the response at least as good as the level-k description?", and read the
score as 1 + the number of levels met (``soft``: 1 + the sum of P(yes)). Scores are compared
with reference grades (Prometheus' Vicuna set: three GPT-4 grades per response) by Pearson,
Spearman and Kendall correlation and by agreement (exact, within one).

Layouts:
- Prometheus evaluation rows ``{"idx", "instruction": <the full Prometheus prompt>,
  "gpt4_score": [..]}`` (the task, response, reference answer and rubric are parsed out of
  the prompt's ``###`` sections; mt_bench_eval has no grades);
- BiGGen-Bench ``{id: {"system_prompt", "input", "reference_answer", "score_rubric":
  {"criteria", "score1_description".."score5_description"}}}``; its ``response`` fields are
  placeholders, so the reference answer is what is graded, and a good judge gives it 5.
"""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from judge.engine import Judge, JudgeItem
from judge.extras import module
from judge.verdict import CriterionResult
from rubrics.model import Criterion, Provenance, Rubric, id_safe
from rubrics.records import LoadReport, Skip, load_records

LEVELS = (2, 3, 4, 5)


@dataclass(frozen=True)
class ScoreRubric:
    criterion: str
    levels: dict[int, str]  # 1..5

    def to_rubric(self, rubric_id: str) -> Rubric:
        criteria = [
            Criterion(
                id=f"level-{k}",
                text=f"On this criterion: {self.criterion} -- the response is at least as good as this level-{k} description: {self.levels[k]}",
                tags=[f"level:{k}"],
            )
            for k in LEVELS
        ]
        return Rubric(id=id_safe(rubric_id), criteria=criteria, provenance=Provenance(method="score-rubric-levels"))


def predicted_scores(results: Sequence[CriterionResult]) -> tuple[float | None, float | None]:
    """(hard, soft) 1-5 scores, or (None, None) if a level could not be judged."""
    if any(r.status != "scored" for r in results):
        return None, None
    return 1.0 + sum(bool(r.met) for r in results), 1.0 + sum(float(r.p_yes) for r in results)  # type: ignore[arg-type]


@dataclass(frozen=True)
class ScoredExample:
    id: str
    source: str
    prompt: str
    response: str
    reference: str | None
    rubric: ScoreRubric
    gold: float | None


SECTION = re.compile(r"^###(.+?):[ \t]*\n?", re.MULTILINE)


def parse_prometheus(prompt: str) -> dict[str, str]:
    """The ``###Title:`` sections of a Prometheus prompt, by title."""
    parts = SECTION.split(prompt)
    return {parts[i].strip(): parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}


def parse_levels(text: str) -> ScoreRubric:
    match = re.match(r"\[(.+?)\]\s*\n", text, flags=re.DOTALL)
    if match is None:
        raise Skip("no [criterion] in the score rubric")
    levels = {
        int(k): d.strip() for k, d in re.findall(r"^Score (\d):\s*(.+)$", text[match.end() :], flags=re.MULTILINE)
    }
    if sorted(levels) != [1, 2, 3, 4, 5]:
        raise Skip("score rubric without the five levels")
    return ScoreRubric(match.group(1).strip(), levels)


def _prometheus(record: dict[str, Any], default_id: str, source: str) -> ScoredExample:
    sections = parse_prometheus(record["instruction"])
    for needed in ("The instruction to evaluate", "Response to evaluate", "Score Rubrics"):
        if needed not in sections:
            raise Skip(f"prompt without a ###{needed} section")
    grades = record.get("gpt4_score")
    if isinstance(grades, str):
        grades = json.loads(grades)
    gold = statistics.fmean(float(g) for g in grades) if isinstance(grades, list) and grades else None
    example_id = str(record.get("idx", default_id))
    if record.get("response_source"):  # one prompt, several systems' responses
        example_id += f"-{record['response_source']}"
    return ScoredExample(
        example_id,
        source,
        sections["The instruction to evaluate"],
        sections["Response to evaluate"],
        sections.get("Reference Answer (Score 5)"),
        parse_levels(sections["Score Rubrics"]),
        gold,
    )


def _biggen(record: dict[str, Any], default_id: str, source: str) -> ScoredExample:
    rubric = record["score_rubric"]
    try:
        levels = {k: str(rubric[f"score{k}_description"]) for k in range(1, 6)}
        criterion = str(rubric["criteria"])
    except (KeyError, TypeError):
        raise Skip("score_rubric without criteria and five level descriptions") from None
    prompt = "\n\n".join(
        p for p in (record.get("system_prompt"), record.get("input")) if isinstance(p, str) and p.strip()
    )
    reference = record.get("reference_answer")
    if not isinstance(reference, str) or not reference.strip():
        raise Skip("no reference answer to grade")
    return ScoredExample(
        str(record.get("id", default_id)), source, prompt, reference, None, ScoreRubric(criterion, levels), 5.0
    )


def _scored(record: Any, default_id: str, source: str) -> ScoredExample:
    if isinstance(record, Skip):
        raise record
    if not isinstance(record, dict):
        raise Skip("record is not an object")
    if "score_rubric" in record:
        return _biggen(record, default_id, source)
    if "instruction" in record and "###Score Rubrics" in str(record["instruction"]):
        return _prometheus(record, default_id, source)
    raise Skip("unknown layout (no Prometheus prompt, no BiGGen score_rubric)")


def load_scored(path: str | Path, report: LoadReport | None = None) -> list[ScoredExample]:
    source = Path(path).name.split(".")[0]
    return list(load_records(path, report, lambda record, default_id: _scored(record, default_id, source)))


async def grade_scored(judge: Judge, examples: Sequence[ScoredExample]) -> AsyncIterator[dict[str, Any]]:
    """One record per example: the 1-5 score read from the level questions, and the gold grade."""
    by_id = {e.id: e for e in examples}
    items = [JudgeItem(e.id, e.prompt, e.response, e.rubric.to_rubric(f"score-{e.id}"), e.reference) for e in examples]
    async for verdict in judge.aevaluate_many(items):
        example = by_id[verdict.item_id]
        hard, soft = predicted_scores(verdict.results)
        yield {
            "item_id": example.id,
            "source": example.source,
            "mode": "scored",
            "status": "scored" if hard is not None else "unscored",
            "score": hard,
            "soft_score": soft,
            "gold": example.gold,
            "reason": next((r.reason for r in verdict.results if r.status != "scored"), None),
            "levels_met": [r.criterion_id for r in verdict.results if r.met],
        }


def correlations(predicted: Sequence[float], gold: Sequence[float]) -> dict[str, float | None]:
    """Pearson, Spearman and Kendall (tau-b); None where undefined (fewer than 3 pairs, or a constant side)."""
    stats = module("report", "scipy.stats", "rank correlations (rubric eval --mode scored)")

    if len(predicted) < 3 or len(set(predicted)) < 2 or len(set(gold)) < 2:
        return {"pearson": None, "spearman": None, "kendall": None}
    return {
        "pearson": float(stats.pearsonr(predicted, gold).statistic),
        "spearman": float(stats.spearmanr(predicted, gold).statistic),
        "kendall": float(stats.kendalltau(predicted, gold).statistic),
    }


def summarise_scored(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    scored = [r for r in records if r["score"] is not None]
    graded = [r for r in scored if r["gold"] is not None]
    hard, soft, gold = [r["score"] for r in graded], [r["soft_score"] for r in graded], [r["gold"] for r in graded]
    return {
        "examples": len(records),
        "unscored": len(records) - len(scored),
        "with_gold": len(graded),
        "mean_score": statistics.fmean(r["score"] for r in scored) if scored else None,
        "mean_gold": statistics.fmean(gold) if gold else None,
        "score_distribution": {str(k): sum(r["score"] == k for r in scored) for k in range(1, 6)},
        "exact_agreement": sum(h == round(g) for h, g in zip(hard, gold)) / len(graded) if graded else None,
        "within_one": sum(abs(h - g) <= 1 for h, g in zip(hard, gold)) / len(graded) if graded else None,
        "correlation": correlations(hard, gold),
        "soft_correlation": correlations(soft, gold),
    }


def format_scored(summary: dict[str, Any]) -> str:
    def number(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    hard, soft = summary["correlation"], summary["soft_correlation"]
    distribution = ", ".join(f"{k}: {n}" for k, n in summary["score_distribution"].items())
    return "\n".join(
        [
            f"examples: {summary['examples']} ({summary['with_gold']} with a reference grade); unscored: {summary['unscored']}",
            f"mean score {number(summary['mean_score'])} (reference {number(summary['mean_gold'])}); scores {distribution}",
            f"agreement with the reference grade: exact {number(summary['exact_agreement'])}, within one {number(summary['within_one'])}",
            f"correlation (score / soft score): Pearson {number(hard['pearson'])} / {number(soft['pearson'])}, "
            f"Spearman {number(hard['spearman'])} / {number(soft['spearman'])}, Kendall {number(hard['kendall'])} / {number(soft['kendall'])}",
        ]
    )
