"""Rubric-graded evaluation, the HealthBench convention.

Each example carries its own rubric (criteria with points, negative points for pitfalls,
and tags) and a response to grade. An example's score is the points of the criteria met
over the positive points available (so pitfalls can push it below 0); the benchmark score
is the mean clipped to [0, 1], with a bootstrap standard error and 95% interval. Per-tag
sub-scores, as simple-evals reports them: a row's ``example_tags`` (HealthBench's
``theme:*`` and ``physician_agreed_category:*``) each get the example's overall score; a
rubric-item tag (``axis:*``, ``cluster:*``) restricts the example to its criteria with that
tag, and examples without a positive-point criterion of the tag are left out of it. Two
items of the same text are graded as two criteria. A row whose items are all pitfalls is
graded too, but its score is undefined (no positive points): it is counted apart, not
scored (simple-evals asserts it never happens).

Rows (JSONL, or a JSON list): HealthBench's ``{"prompt_id", "prompt": [messages],
"completion" | "response", "rubrics": [{"criterion", "points", "tags"}]}`` or ours,
``{"id", "prompt", "response", "rubric": <any inline rubric>}``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from judge.engine import Judge, JudgeItem
from judge.eval import stats
from judge.scoring import weighted_score
from judge.verdict import CriterionResult
from rubrics.interchange import to_rubric
from rubrics.model import Rubric, id_safe
from rubrics.records import LoadReport, Skip, load_records


@dataclass(frozen=True)
class GradedExample:
    id: str
    prompt: str | list[dict[str, str]]
    response: str
    rubric: Rubric
    source: str
    example_tags: tuple[str, ...] = ()


def _example(record: Any, default_id: str, source: str) -> GradedExample:
    if isinstance(record, Skip):
        raise record
    if not isinstance(record, dict):
        raise Skip("record is not an object")
    example_id = str(record.get("id", record.get("prompt_id", default_id)))
    response = record.get("response", record.get("completion"))
    if not isinstance(response, str):
        raise Skip("missing field 'response' (or 'completion')")
    prompt = record.get("prompt")
    if not (isinstance(prompt, str) or (isinstance(prompt, list) and all(isinstance(m, dict) for m in prompt))):
        raise Skip("missing field 'prompt' (text or messages)")
    inline = record.get("rubrics", record.get("rubric"))
    if not inline:
        raise Skip("no rubric items")
    example_tags = record.get("example_tags") or []
    if not isinstance(example_tags, list) or not all(isinstance(t, str) for t in example_tags):
        raise Skip("'example_tags' is not a list of strings")
    rubric_id = id_safe(f"rubric-{example_id}")
    try:
        rubric = to_rubric(inline, rubric_id, allow_no_positive=True)
    except (ValueError, ValidationError) as e:
        raise Skip(f"invalid rubric: {str(e).splitlines()[0]}") from None
    return GradedExample(example_id, prompt, response, rubric, source, tuple(dict.fromkeys(example_tags)))


def load_graded(path: str | Path, report: LoadReport | None = None) -> list[GradedExample]:
    source = Path(path).name.split(".")[0]
    return list(load_records(path, report, lambda record, default_id: _example(record, default_id, source)))


def example_score(
    results: Sequence[CriterionResult], tags: dict[str, list[str]] | None = None, tag: str | None = None
) -> float | None:
    """HealthBench's score of one example (met criteria's points over positive points),
    over the criteria with ``tag`` when one is given."""
    if tag is not None:
        results = [r for r in results if tag in (tags or {}).get(r.criterion_id, [])]
    return weighted_score(results, soft=False, gate=False).value


async def grade(judge: Judge, examples: Sequence[GradedExample]) -> AsyncIterator[dict[str, Any]]:
    """One record per example, in completion order."""
    by_id = {e.id: e for e in examples}
    items = [JudgeItem(e.id, e.prompt, e.response, e.rubric) for e in examples]
    async for verdict in judge.aevaluate_many(items):
        example = by_id[verdict.item_id]
        tags = {c.id: list(c.tags) for c in example.rubric.criteria}
        every_tag = sorted({t for ts in tags.values() for t in ts})
        score = example_score(verdict.results)
        undefined = example.rubric.positive_weight <= 0
        status = "undefined" if undefined else "scored" if score is not None else "unscored"
        # simple-evals: example tags carry the overall score, then rubric-item tags override
        tag_scores = {t: score for t in example.example_tags} if score is not None else {}
        tag_scores.update({t: example_score(verdict.results, tags, t) for t in every_tag})
        yield {
            "item_id": example.id,
            "source": example.source,
            "mode": "graded",
            "status": status,
            "score": score,
            "soft_score": weighted_score(verdict.results, soft=True, gate=False).value,
            "n_unscored": verdict.n_unscored,
            "reason": "no positive-point criterion: the HealthBench score is undefined"
            if undefined
            else verdict.reason,
            "example_tags": list(example.example_tags),
            "tag_scores": tag_scores,
            "results": [r.model_dump(mode="json") for r in verdict.results],
        }


def summarise_graded(records: Sequence[dict[str, Any]], *, seed: int = 0) -> dict[str, Any]:
    scored = [r for r in records if r["score"] is not None]
    undefined = sum(r.get("status") == "undefined" for r in records)
    by_tag: dict[str, list[float]] = defaultdict(list)
    for record in scored:
        for tag, value in record["tag_scores"].items():
            if value is not None:
                by_tag[tag].append(value)
    return {
        "examples": len(records),
        "unscored_examples": len(records) - len(scored) - undefined,
        "undefined_examples": undefined,
        "unscored_criteria": sum(r["n_unscored"] for r in records),
        "score": stats.bootstrap([r["score"] for r in scored], seed=seed),
        "soft_score": stats.bootstrap([r["soft_score"] for r in scored if r["soft_score"] is not None], seed=seed),
        "tags": {tag: stats.bootstrap(values, seed=seed) for tag, values in sorted(by_tag.items())},
    }


def format_graded(summary: dict[str, Any]) -> str:
    def cell(b: dict[str, Any]) -> str:
        if b["value"] is None:
            return "-"
        return f"{b['value']:.3f} ± {b['se']:.3f} [{b['ci95'][0]:.2f},{b['ci95'][1]:.2f}]"

    lines = [
        f"examples: {summary['examples']}; unscored examples: {summary['unscored_examples']}; unscored criteria: {summary['unscored_criteria']}"
        + (
            f"; without positive points (score undefined): {summary['undefined_examples']}"
            if summary.get("undefined_examples")
            else ""
        ),
        f"score (met points / positive points, mean clipped to [0, 1], ± bootstrap SE [95% CI]): {cell(summary['score'])}",
        f"soft score (P(yes)-weighted): {cell(summary['soft_score'])}",
    ]
    if summary["tags"]:
        width = max(len(t) for t in summary["tags"])
        lines += ["", f"{'tag':<{width}}  {'examples':>8}  score"]
        lines += [f"{tag:<{width}}  {b['n']:>8}  {cell(b)}" for tag, b in summary["tags"].items()]
    return "\n".join(lines)
