"""`rubric report`: one self-contained HTML file from a verdicts JSONL or an eval JSON.

No external assets: charts are inline SVG drawn by matplotlib (glyphs as paths, so no
fonts are fetched), styles are inline, nothing is scripted. It opens offline.
"""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path
from typing import Any

import jinja2

from judge.calibration import Calibration
from judge.eval.results import EvalResults, Rate
from judge.extras import module
from judge.runs.summary import RunSummary, summarise
from rubrics.io import read_json
from rubrics.records import read_records

WORST_ITEMS = 10


def svg(figure: Any) -> str:
    """A matplotlib figure as inline SVG markup (without the XML prolog)."""
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _pyplot() -> Any:
    matplotlib = module("report", "matplotlib")
    matplotlib.use("Agg")
    matplotlib.rcParams["svg.fonttype"] = "path"
    import matplotlib.pyplot as plt

    return plt


def histogram(scores: list[float]) -> str:
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(6, 2.6))
    axes.hist(
        scores,
        bins=[i / 10 for i in range(-10, 11)] if min(scores, default=0) < 0 else [i / 20 for i in range(21)],
        color="#4c72b0",
    )
    axes.set_xlabel("score (soft)")
    axes.set_ylabel("items")
    return svg(figure)


def pass_rate_chart(rows: list[tuple[str, float]]) -> str:
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(6, 0.3 * len(rows) + 0.8))
    labels, rates = zip(*rows)
    axes.barh(range(len(rows)), rates, color="#55a868")
    axes.set_yticks(range(len(rows)), labels, fontsize=8)
    axes.invert_yaxis()
    axes.set_xlim(0, 1)
    axes.set_xlabel("pass rate")
    return svg(figure)


def accuracy_chart(rows: list[tuple[str, float, list[float] | None]]) -> str:
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(6, 0.35 * len(rows) + 0.8))
    names = [r[0] for r in rows]
    values = [r[1] for r in rows]
    errors = [
        [v - (r[2] or [v, v])[0] for v, r in zip(values, rows)],
        [(r[2] or [v, v])[1] - v for v, r in zip(values, rows)],
    ]
    axes.barh(range(len(rows)), values, xerr=errors, color="#8172b2", capsize=3)
    axes.set_yticks(range(len(rows)), names, fontsize=8)
    axes.invert_yaxis()
    axes.set_xlim(0, 1)
    axes.axvline(0.5, color="grey", linewidth=0.8, linestyle=":")
    axes.set_xlabel("accuracy (95% bootstrap interval)")
    return svg(figure)


def verdicts_context(records: list[dict[str, Any]], malformed: int) -> dict[str, Any]:
    summary: RunSummary = summarise(records, judged_now=len(records), malformed_lines=malformed)
    criteria = sorted(
        ((f"{rubric}/{criterion}", s) for (rubric, criterion), s in summary.criteria.items()),
        key=lambda row: (row[1].met / row[1].scored) if row[1].scored else -1.0,
    )
    reasons: Counter[str] = Counter()
    for record in records:
        if record.get("status") == "unscored" and record.get("reason"):
            reasons[f"item: {record['reason']}"] += 1
        for result in record.get("results", []):
            if result.get("status") == "unscored":
                reasons[f"criterion: {result.get('reason') or 'no reason given'}"] += 1
    scored = [r for r in records if r.get("score") is not None]
    worst = sorted(scored, key=lambda r: r["score"])[:WORST_ITEMS]
    scores = [r["score"] for r in scored]
    return {
        "kind": "verdicts",
        "summary": summary,
        "models": sorted({r.get("model", "?") for r in records}),
        "histogram": histogram(scores) if scores else None,
        "criteria": [(name, s, s.met / s.scored if s.scored else None) for name, s in criteria],
        "pass_chart": pass_rate_chart([(name, s.met / s.scored) for name, s in criteria if s.scored])
        if any(s.scored for _, s in criteria)
        else None,
        "reasons": reasons.most_common(),
        "worst": worst,
    }


def eval_context(results: EvalResults) -> dict[str, Any]:
    benchmarks = []
    for name, data in results.benchmarks.items():
        entry: dict[str, Any] = {
            "name": name,
            "graded": data.graded,
            "scored": data.scored,
            "input": data.input,
            "chart": None,
            "rows": [],
        }
        if data.overall is not None:
            entry["rows"] = [*(data.by_source or {}).items(), ("overall", data.overall)]
            chart_rows = [
                (source, s.accuracy.value, s.accuracy.ci95)
                for source, s in entry["rows"]
                if s.accuracy.value is not None
            ]
            entry["chart"] = accuracy_chart(chart_rows) if chart_rows else None
        benchmarks.append(entry)
    return {"kind": "eval", "results": results, "benchmarks": benchmarks}


def reliability_chart(bins: dict[str, list[dict[str, Any]]]) -> str:
    """Observed rate of yes against mean P(yes) per bin, raw and calibrated (held out)."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(4.2, 4.2))
    axes.plot([0, 1], [0, 1], color="grey", linewidth=0.8, linestyle=":")
    for side, colour in (("raw", "#c44e52"), ("calibrated", "#4c72b0")):
        points = [(b["mean_p"], b["observed"], b["n"]) for b in bins[side] if b["n"]]
        if points:
            xs, ys, ns = zip(*points)
            axes.plot(xs, ys, marker="o", color=colour, label=side)
            axes.scatter(xs, ys, s=[8 + 60 * n / max(ns) for n in ns], color=colour)
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.set_xlabel("mean P(yes) in the bin")
    axes.set_ylabel("share labelled yes")
    axes.legend(loc="upper left")
    return svg(figure)


def calibration_context(calibration: Calibration) -> dict[str, Any]:
    report = calibration.report
    figures = ("ece", "brier", "auroc", "accuracy", "balanced_accuracy", "false_positive_rate", "kappa", "alpha")
    rows = [(side, [report["held_out"][side][name] for name in figures]) for side in ("raw", "calibrated")]
    return {
        "kind": "calibration",
        "calibration": calibration,
        "figures": figures,
        "rows": rows,
        "chart": reliability_chart(report["reliability"]),
        "report": report,
    }


def read_verdicts(path: Path) -> tuple[list[dict[str, Any]], int]:
    records, malformed = [], 0
    for _, record in read_records(path):
        if isinstance(record, dict) and "item_id" in record:  # a verdict names its item
            records.append(record)
        else:
            malformed += 1
    return records, malformed


def build_report(path: str | Path) -> str:
    """The HTML report of a verdicts file (.jsonl) or an eval results file (.json)."""
    path = Path(path)
    if path.suffix == ".jsonl":
        records, malformed = read_verdicts(path)
        if not records:
            raise ValueError(f"{path}: no verdict lines")
        context = verdicts_context(records, malformed)
    else:
        data = read_json(path)  # read once: a calibration file has a global map, eval results do not
        is_calibration = isinstance(data, dict) and "global_map" in data
        context = (
            calibration_context(Calibration.load(path, data))
            if is_calibration
            else eval_context(EvalResults.read(path, data))
        )
    return TEMPLATE.render(source=path.name, **context)


def pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def interval(rate: Rate | None) -> str:
    if rate is None or rate.value is None or rate.ci95 is None:
        return "–"
    low, high = rate.ci95
    return f"{rate.value:.3f} [{low:.3f}, {high:.3f}]"


ENVIRONMENT = jinja2.Environment(
    autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True
)
ENVIRONMENT.filters.update(pct=pct, interval=interval)
TEMPLATE = ENVIRONMENT.from_string(
    """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>rubric-judge report: {{ source }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 70em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
section { margin-bottom: 2em; } .muted { color: #777; }
</style></head><body>
<h1>rubric-judge report</h1>
<p class="muted">from <code>{{ source }}</code></p>
{% if kind == "verdicts" %}
<section id="summary"><h2>Summary</h2>
<table>
<tr><th>items</th><td class="num" id="items">{{ summary.items }}</td></tr>
<tr><th>mean score (soft, clipped to [0, 1])</th><td class="num" id="mean-score">{{ summary.mean_score | pct }}</td></tr>
<tr><th>mean hard score</th><td class="num" id="mean-hard-score">{{ summary.mean_hard_score | pct }}</td></tr>
<tr><th>unscored items</th><td class="num" id="unscored-items">{{ summary.unscored_items }}</td></tr>
<tr><th>unscored criteria</th><td class="num" id="unscored-criteria">{{ summary.unscored_criteria }}</td></tr>
<tr><th>unreadable lines</th><td class="num">{{ summary.malformed_lines }}</td></tr>
<tr><th>models</th><td>{{ models | join(", ") }}</td></tr>
</table></section>
<section id="histogram"><h2>Score histogram</h2>{% if histogram %}{{ histogram | safe }}{% else %}<p>No scored item.</p>{% endif %}</section>
<section id="criteria"><h2>Per-criterion pass rates</h2>
{% if pass_chart %}{{ pass_chart | safe }}{% endif %}
<table><tr><th>rubric/criterion</th><th>weight</th><th>pass rate</th><th>met</th><th>scored</th><th>unscored</th></tr>
{% for name, s, rate in criteria %}
<tr><td>{{ name }}</td><td class="num">{{ "%g" | format(s.weight) }}</td><td class="num">{{ rate | pct }}</td><td class="num">{{ s.met }}</td><td class="num">{{ s.scored }}</td><td class="num">{{ s.unscored }}</td></tr>
{% endfor %}
</table></section>
{% if summary.jury %}{% set j = summary.jury %}
<section id="jury"><h2>Jury agreement</h2>
<p>{{ j.judges | join(", ") }}: Krippendorff's alpha <span id="jury-alpha">{{ j.overall.alpha | pct }}</span> (nominal, on each judge's decision);
all judges alike on {{ j.overall.agreement | pct }} of {{ j.overall.units }} criterion judgements, {{ j.overall.disputed }} disputed.</p>
<table><tr><th>rubric/criterion</th><th>alpha</th><th>all alike</th><th>disputed</th><th>judged</th></tr>
{% for name, f in j.criteria.items() %}<tr><td>{{ name }}</td><td class="num">{{ f.alpha | pct }}</td><td class="num">{{ f.agreement | pct }}</td><td class="num">{{ f.disputed }}</td><td class="num">{{ f.units }}</td></tr>
{% endfor %}</table>
{% if j.most_disputed %}<h3>Most disputed items</h3><table><tr><th>item</th><th>criteria disputed</th>{% for judge in j.judges %}<th>{{ judge }}</th>{% endfor %}</tr>
{% for item in j.most_disputed %}<tr><td>{{ item.item_id }}</td><td class="num">{{ item.disputed_criteria }}</td>{% for judge in j.judges %}<td class="num">{{ item.scores[judge] | pct }}</td>{% endfor %}</tr>
{% endfor %}</table>{% endif %}</section>
{% endif %}
<section id="unscored"><h2>Unscored reasons</h2>
{% if reasons %}<table><tr><th>reason</th><th>count</th></tr>
{% for reason, count in reasons %}<tr><td>{{ reason }}</td><td class="num">{{ count }}</td></tr>
{% endfor %}</table>{% else %}<p>Nothing was left unscored.</p>{% endif %}</section>
<section id="worst"><h2>Worst-scoring items</h2>
{% for record in worst %}
<h3>{{ record.item_id }} <span class="muted">rubric {{ record.rubric_id }}, score {{ record.score | pct }}</span></h3>
<table><tr><th>criterion</th><th>weight</th><th>status</th><th>P(yes)</th><th>met</th><th>reason / explanation</th></tr>
{% for r in record.results %}
<tr><td>{{ r.criterion_id }}</td><td class="num">{{ "%g" | format(r.weight) }}</td><td>{{ r.status }}</td><td class="num">{{ r.p_yes | pct }}</td><td>{{ r.met }}</td><td>{{ r.reason or r.explanation or "" }}</td></tr>
{% endfor %}
</table>
{% endfor %}</section>
{% elif kind == "calibration" %}
<section id="summary"><h2>Calibration {{ calibration.id }}</h2>
<table><tr><th>judge</th><td>{{ calibration.model }}</td></tr><tr><th>map</th><td>{{ report.method }}</td></tr>
<tr><th>threshold</th><td class="num">{{ calibration.threshold | pct }} ({{ calibration.threshold_rule }})</td></tr>
<tr><th>labels</th><td class="num">{{ report.labels }} ({{ report.positives }} yes), {{ report.folds }} folds</td></tr>
<tr><th>criteria with their own map</th><td class="num">{{ report.criteria_with_own_map | length }}</td></tr></table></section>
<section id="held-out"><h2>Held-out figures</h2>
<table><tr><th></th>{% for name in figures %}<th>{{ name }}</th>{% endfor %}</tr>
{% for side, values in rows %}<tr><th>{{ side }}</th>{% for v in values %}<td class="num">{{ v | pct }}</td>{% endfor %}</tr>
{% endfor %}</table></section>
<section id="reliability"><h2>Reliability diagram</h2>{{ chart | safe }}</section>
{% else %}
<section id="summary"><h2>Summary</h2>
<table><tr><th>model</th><td>{{ results.model }}</td></tr><tr><th>mode</th><td>{{ results.mode }}</td></tr>
{% if results.rubric %}<tr><th>rubric</th><td>{{ results.rubric }}</td></tr>{% endif %}</table></section>
{% for benchmark in benchmarks %}
<section class="benchmark" id="benchmark-{{ benchmark.name }}"><h2>{{ benchmark.name }}</h2>
{% if benchmark.scored %}
{% set g = benchmark.scored %}
<table><tr><th>examples (with a reference grade)</th><td class="num">{{ g.examples }} ({{ g.with_gold }})</td></tr>
<tr><th>mean score (reference)</th><td class="num">{{ g.mean_score | pct }} ({{ g.mean_gold | pct }})</td></tr>
<tr><th>exact agreement / within one</th><td class="num">{{ g.exact_agreement | pct }} / {{ g.within_one | pct }}</td></tr>
<tr><th>Pearson / Spearman / Kendall</th><td class="num">{{ g.correlation.pearson | pct }} / {{ g.correlation.spearman | pct }} / {{ g.correlation.kendall | pct }}</td></tr>
<tr><th>the same with the soft score</th><td class="num">{{ g.soft_correlation.pearson | pct }} / {{ g.soft_correlation.spearman | pct }} / {{ g.soft_correlation.kendall | pct }}</td></tr>
<tr><th>scores 1-5</th><td class="num">{% for k, n in g.score_distribution.items() %}{{ k }}: {{ n }}{{ ", " if not loop.last }}{% endfor %}</td></tr>
<tr><th>unscored</th><td class="num">{{ g.unscored }}</td></tr></table>
{% elif benchmark.graded %}
{% set g = benchmark.graded %}
<table><tr><th>examples</th><td class="num">{{ g.examples }}</td></tr>
<tr><th>score (met points / positive points, mean clipped to [0, 1]) [95% CI]</th><td class="num">{{ g.score | interval }}</td></tr>
<tr><th>bootstrap standard error</th><td class="num">{{ g.score.se | pct }}</td></tr>
<tr><th>soft score (P(yes)-weighted)</th><td class="num">{{ g.soft_score | interval }}</td></tr>
<tr><th>unscored examples / criteria</th><td class="num">{{ g.unscored_examples }} / {{ g.unscored_criteria }}</td></tr></table>
{% if g.tags %}<table><tr><th>tag</th><th>examples</th><th>score [95% CI]</th><th>SE</th></tr>
{% for tag, b in g.tags.items() %}<tr><td>{{ tag }}</td><td class="num">{{ b.n }}</td><td class="num">{{ b | interval }}</td><td class="num">{{ b.se | pct }}</td></tr>
{% endfor %}</table>{% endif %}
{% else %}
{% if benchmark.chart %}{{ benchmark.chart | safe }}{% endif %}
<table><tr><th>source</th><th>pairs</th><th>accuracy [95% CI]</th><th>judge ties</th><th>{{ "position consistency" if results.mode == "pairwise" else "equal scores" }}</th><th>better is longer</th><th>better is shorter</th><th>label ties</th><th>unscored</th></tr>
{% for source, s in benchmark.rows %}
<tr><td>{{ source }}</td><td class="num">{{ s.pairs }}</td><td class="num">{{ s.accuracy | interval }}</td><td class="num">{{ s.judge_ties.value | pct }}</td>
<td class="num">{{ (s.position_consistency if results.mode == "pairwise" else s.equal_scores) | interval }}</td>
<td class="num">{{ s.length_bias.better_is_longer | interval }}</td><td class="num">{{ s.length_bias.better_is_shorter | interval }}</td>
<td class="num">{{ s.label_ties }}</td><td class="num">{{ s.unscored }}</td></tr>
{% endfor %}
</table>
{% set alone = benchmark.rows[-1][1].judges if benchmark.rows else None %}
{% if alone %}<table id="judges-alone"><tr><th>each judge of the jury alone</th><th>accuracy [95% CI]</th><th>judge ties</th><th>jury minus this judge (paired) [95% CI]</th></tr>
{% for judge, a in alone.items() %}<tr><td>{{ judge }}</td><td class="num">{{ a.accuracy | interval }}</td><td class="num">{{ a.judge_ties.value | pct }}</td><td class="num">{{ a.jury_minus_judge | interval }}</td></tr>
{% endfor %}</table>{% endif %}
{% set fit = benchmark.rows[-1][1].fitted_margin if benchmark.rows else None %}
{% if fit %}<p>Order-averaged decision with the tie band fitted on these pairs: <code>--decision averaged --margin {{ "%.3f" | format(fit.margin) }}</code>; {{ fit.folds }}-fold held out: accuracy {{ fit.accuracy | interval }}, judge ties {{ fit.judge_ties.value | pct }}.</p>{% endif %}
{% endif %}
{% if benchmark.input.skipped %}<p class="muted">Input: {{ benchmark.input.records }} records; skipped {% for why, n in benchmark.input.skipped.items() %}{{ n }} ({{ why }}){{ ", " if not loop.last }}{% endfor %}.</p>{% endif %}
</section>
{% endfor %}
{% endif %}
</body></html>
"""
)
