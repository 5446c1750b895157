"""Meta-evaluation: how well does a judge configuration pick the better response?

Benchmarks are labelled pairs (rubrics/pairs.py reads the layouts). Two modes:
- ``pairwise``: the judge compares the two responses, asked in both orders; a verdict that
  flips with the order is a tie. Reported: accuracy, ties, position consistency.
- ``pointwise``: each response is scored against a rubric on its own; the higher score is
  preferred, equal scores are a tie. Reported: accuracy and the rate of equal scores.
Accuracy counts a judge's tie or an unscored pair as wrong; pairs labelled a tie are
counted apart and left out of accuracy. Every figure comes with a 95% bootstrap interval,
and accuracy is split by whether the labelled-better response is the longer one (a judge
that just likes length scores high on one side and low on the other).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

from judge.eval import datasets, margin, stats
from judge.engine import Judge, JudgeItem
from judge.pairwise import PairItem, PairwiseJudge
from rubrics.model import Rubric
from rubrics.pairs import LabelledPair, load_labelled_pairs
from rubrics.records import LoadReport

Mode = Literal["pairwise", "pointwise"]


def benchmark_files(name: str, data_dir: Path | None = None, mode: str = "pairs") -> list[Path]:
    """A benchmark's files: a registered name (a local copy or a checked download, see
    judge/eval/datasets.py) or a file path."""
    known = datasets.benchmarks(mode)
    if name in known:
        return [datasets.locate(f, data_dir) for f in known[name].files]
    if Path(name).is_file():
        return [Path(name)]
    raise ValueError(f"unknown benchmark {name!r}; known: {', '.join(sorted(known))}, or a file path")


def load_benchmark(name: str, report: LoadReport, data_dir: Path | None = None) -> list[LabelledPair]:
    pairs: list[LabelledPair] = []
    for path in benchmark_files(name, data_dir):
        source = path.name.split(".")[0]
        pairs += [p for p in load_labelled_pairs(path, report, source)]
    return pairs


def stratified_sample(pairs: Sequence[LabelledPair], limit: int | None, seed: int = 0) -> list[LabelledPair]:
    """At most ``limit`` pairs, each (source, label) stratum in proportion to its size."""
    return stats.stratified_sample(pairs, limit, lambda p: (p.source, p.label or ""), seed)


def item_id(pair: LabelledPair) -> str:
    return f"{pair.source}:{pair.id}"


def _record(pair: LabelledPair, mode: Mode, status: str, preferred: str | None, **extra: Any) -> dict[str, Any]:
    longer = (
        "A"
        if len(pair.response_a) > len(pair.response_b)
        else "B"
        if len(pair.response_b) > len(pair.response_a)
        else "same"
    )
    return {
        "item_id": item_id(pair),
        "source": pair.source,
        "mode": mode,
        "label": pair.label,
        "status": status,
        "preferred": preferred,
        "correct": None if pair.label == "tie" else status == "scored" and preferred == pair.label,
        "longer": longer,
        **extra,
    }


async def judge_pairs(
    mode: Mode,
    pairs: Iterable[LabelledPair],
    *,
    pairwise: PairwiseJudge | None = None,
    judge: Judge | None = None,
    rubric: Rubric | None = None,
) -> AsyncIterator[dict[str, Any]]:
    """One record per pair, in completion order."""
    pairs = list(pairs)
    by_id = {item_id(p): p for p in pairs}
    if mode == "pairwise":
        assert pairwise is not None
        items = [PairItem(item_id(p), p.prompt, p.response_a, p.response_b) for p in pairs]
        async for v in pairwise.acompare_many(items):
            yield _record(
                by_id[v.item_id],
                mode,
                v.status,
                v.preferred,
                p_a=v.p_a,
                position_consistent=v.position_consistent,
                reason=v.reason,
            )
        return
    assert judge is not None and rubric is not None
    items = [
        JudgeItem(f"{item_id(p)}#{side}", p.prompt, text, rubric)
        for p in pairs
        for side, text in (("A", p.response_a), ("B", p.response_b))
    ]
    halves: dict[str, dict[str, Any]] = defaultdict(dict)
    async for verdict in judge.aevaluate_many(items):
        key, side = verdict.item_id.rsplit("#", 1)
        halves[key][side] = verdict
        if len(halves[key]) == 2:
            both = halves.pop(key)
            yield _pointwise_record(by_id[key], both["A"], both["B"])


def _pointwise_record(pair: LabelledPair, a: Any, b: Any) -> dict[str, Any]:
    # a jury's verdicts carry each judge's own score: the record keeps them, so one run
    # measures the jury against each of its judges on the same pairs
    judges = {"judges": {label: [a.jury[label], b.jury.get(label)] for label in a.jury}} if a.jury and b.jury else {}
    if a.score is None or b.score is None:
        reason = a.reason if a.score is None else b.reason
        return _record(pair, "pointwise", "unscored", None, score_a=a.score, score_b=b.score, reason=reason, **judges)
    preferred = _preferred(a.score, b.score)
    return _record(
        pair,
        "pointwise",
        "scored",
        preferred,
        score_a=a.score,
        score_b=b.score,
        equal_scores=preferred == "tie",
        **judges,
    )


def _preferred(a: float | None, b: float | None) -> str | None:
    if a is None or b is None:
        return None
    return "A" if a > b else "B" if b > a else "tie"


def judges_alone(labelled: Sequence[dict[str, Any]], seed: int = 0) -> dict[str, Any] | None:
    """A jury's pairs: each judge's own accuracy and ties, and the jury's accuracy minus the
    judge's, paired on the same pairs (mean of +1/0/-1 per pair, with its 95% interval)."""
    names = next((list(r["judges"]) for r in labelled if r.get("judges")), None)
    if not names:
        return None
    out = {}
    for name in names:
        preferred = [_preferred(*r.get("judges", {}).get(name, (None, None))) for r in labelled]
        correct = [p == r["label"] for p, r in zip(preferred, labelled)]
        difference = [float(bool(r["correct"])) - float(c) for r, c in zip(labelled, correct)]
        bounds = stats.interval(difference, seed=seed)
        out[name] = {
            "accuracy": stats.rate(correct, seed),
            "judge_ties": stats.rate([p == "tie" for p in preferred], seed),
            "jury_minus_judge": {
                "n": len(difference),
                "value": sum(difference) / len(difference) if difference else None,
                "ci95": list(bounds) if bounds else None,
            },
        }
    return out


def summarise(records: Sequence[dict[str, Any]], *, seed: int = 0) -> dict[str, Any]:
    """Accuracy (with intervals), ties, unscored, position consistency or equal scores, and
    the length-bias split, for the records given."""
    labelled = [r for r in records if r["label"] != "tie"]
    scored = [r for r in records if r["status"] == "scored"]
    summary: dict[str, Any] = {
        "pairs": len(records),
        "label_ties": len(records) - len(labelled),
        "accuracy": stats.rate([bool(r["correct"]) for r in labelled], seed),
        "judge_ties": stats.rate([r["preferred"] == "tie" for r in labelled], seed),
        "unscored": sum(r["status"] == "unscored" for r in records),
        "length_bias": {
            "better_is_longer": stats.rate([bool(r["correct"]) for r in labelled if r["longer"] == r["label"]], seed),
            "better_is_shorter": stats.rate(
                [bool(r["correct"]) for r in labelled if r["longer"] not in (r["label"], "same")], seed
            ),
        },
    }
    if any(r["mode"] == "pairwise" for r in records):
        summary["position_consistency"] = stats.rate(
            [bool(r.get("position_consistent")) for r in scored if r["mode"] == "pairwise"], seed
        )
        summary["fitted_margin"] = fitted_margin(records, seed=seed)
    if any(r["mode"] == "pointwise" for r in records):
        summary["equal_scores"] = stats.rate(
            [bool(r.get("equal_scores")) for r in scored if r["mode"] == "pointwise"], seed
        )
        summary["judges"] = judges_alone(labelled, seed)
    return summary


def fitted_margin(records: Sequence[dict[str, Any]], *, folds: int = 5, seed: int = 0) -> dict[str, Any] | None:
    """The order-averaged decision's tie band fitted on the scored pairwise records, with its
    accuracy and ties on held-out folds; None with fewer pairs than folds or no pair with a
    winner. Unscored pairs
    are left out of the fit and count wrong in the held-out accuracy, as in the main figure."""
    usable = [r for r in records if r["mode"] == "pairwise" and r["status"] == "scored" and r.get("p_a") is not None]
    if len(usable) < folds:
        return None
    p_a, labels = [r["p_a"] for r in usable], [r["label"] for r in usable]
    decisions, fold_margins = margin.held_out(p_a, labels, folds, seed)
    winners = [(d, y) for d, y in zip(decisions, labels) if y != "tie"]
    if not winners:
        return None
    unscored = sum(r["status"] == "unscored" and r["label"] != "tie" for r in records)
    return {
        "margin": margin.fit_margin(p_a, labels),
        "folds": folds,
        "fold_margins": fold_margins,
        "accuracy": stats.rate([d == y for d, y in winners] + [False] * unscored, seed),
        "judge_ties": stats.rate([d == "tie" for d, _ in winners], seed),
    }


def summarise_by_source(records: Sequence[dict[str, Any]], *, seed: int = 0) -> dict[str, Any]:
    sources: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        sources[record["source"]].append(record)
    return {
        "overall": summarise(records, seed=seed),
        "by_source": {name: summarise(rs, seed=seed) for name, rs in sorted(sources.items())},
    }


def format_table(results: dict[str, Any]) -> str:
    """The printed table: one row per source, then overall."""

    def cell(rate: dict[str, Any] | None) -> str:
        if not rate or rate["value"] is None:
            return "-"
        low, high = rate["ci95"]
        return f"{rate['value']:.3f} [{low:.2f},{high:.2f}]"

    header = f"{'source':<28} {'pairs':>5} {'accuracy [95% CI]':>20} {'judge ties':>10} {'consistent/equal':>17} {'better longer':>20} {'better shorter':>20}"
    lines = [header, "-" * len(header)]
    rows = list(results["by_source"].items()) + [("overall", results["overall"])]
    for name, s in rows:
        second = (s.get("position_consistency") or s.get("equal_scores") or {}).get("value")
        ties = s["judge_ties"]["value"]
        lines.append(
            f"{name:<28} {s['pairs']:>5} {cell(s['accuracy']):>20} {(f'{ties:.1%}' if ties is not None else '-'):>10} "
            f"{(f'{second:.1%}' if second is not None else '-'):>17} "
            f"{cell(s['length_bias']['better_is_longer']):>20} {cell(s['length_bias']['better_is_shorter']):>20}"
        )
    overall = results["overall"]
    lines.append(
        f"label ties left out of accuracy: {overall['label_ties']}; unscored pairs (counted wrong): {overall['unscored']}"
    )
    for name, alone in (overall.get("judges") or {}).items():
        difference = alone["jury_minus_judge"]
        low_high = f" [{difference['ci95'][0]:+.2f},{difference['ci95'][1]:+.2f}]" if difference["ci95"] else ""
        lines.append(
            f"  {name} alone: accuracy {cell(alone['accuracy'])}, ties {alone['judge_ties']['value']:.1%}; "
            f"jury minus this judge {difference['value']:+.3f}{low_high} (paired)"
        )
    if fit := overall.get("fitted_margin"):
        lines.append(
            f"order-averaged decision with the tie band fitted on these pairs: --decision averaged --margin {fit['margin']:.3f} "
            f"({fit['folds']}-fold held out: accuracy {cell(fit['accuracy'])}, judge ties {fit['judge_ties']['value']:.1%})"
        )
    return "\n".join(lines)
