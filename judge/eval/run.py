"""One eval run for every mode: load each benchmark, sample it, judge every item once
(resumably, in OUTPUT.pairs.jsonl), summarise per benchmark, write the results file.

The modes differ only in what they load, how they judge an item and how they summarise:
``pairwise`` and ``pointwise`` (labelled preference pairs, preference.py), ``graded``
(HealthBench-style rows, graded.py), ``scored`` (1-5 score rubrics, scored.py). The
results file is what ``rubric report`` reads, typed in results.py (``EvalResults``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from judge.backends.base import Backend
from judge.build import JudgeOptions, build_judge
from judge.engine import Judge
from judge.eval import graded, preference, scored, stats
from judge.eval.options import EvalSettings
from judge.eval.results import EvalResults
from judge.jury import Jury, JuryMethod
from judge.pairwise import PairwiseJudge
from judge.runs.log import open_resumed
from judge.runs.resume import digest
from rubrics.records import LoadReport
from judge.rubric_lookup import RubricSource


@dataclass
class EvalOutcome:
    results: EvalResults
    tables: list[tuple[str, str]]  # (heading, table) per benchmark, for people
    log_path: Path
    failed: bool  # some examples could not be scored


@dataclass
class _Mode:
    load: Callable[[str, LoadReport], list[Any]]
    key: Callable[[Any], str]
    stratum: Callable[[Any], Any]
    judged: Callable[[list[Any]], AsyncIterator[dict[str, Any]]]
    summarise: Callable[[list[dict[str, Any]]], dict[str, Any]]
    describe: Callable[[dict[str, Any]], str]
    heading: str
    run: dict[str, Any]  # what the records depend on besides the item
    model: str
    failed: Callable[[dict[str, Any]], bool] = lambda summary: False
    rubric_id: str | None = None  # pointwise: the rubric every response is scored with
    nested: bool = False  # the summary sits under the mode's name in the results
    unit: str = "pair"


def _judge(backends: list[Backend], method: JuryMethod, gate: bool = True) -> Judge | Jury:
    """One judge, or a jury of one per backend."""
    return build_judge(JudgeOptions(jury=method, gate=gate), backends)


def _mode(settings: EvalSettings, backends: list[Backend]) -> _Mode:
    seed = settings.seed
    if settings.mode == "pairwise" and len(backends) > 1:
        raise ValueError(
            "a jury judges each response on its own: use --mode pointwise, graded or scored (pairwise takes one --model)"
        )
    if settings.mode in ("pairwise", "pointwise"):
        rubric = RubricSource.from_option(settings.rubric).default if settings.mode == "pointwise" else None
        if settings.mode == "pointwise" and rubric is None:
            raise ValueError(f"{settings.rubric} holds several rubrics; name one file or library rubric")
        engine: PairwiseJudge | Judge | Jury = (
            PairwiseJudge(backends[0], decision=settings.decision, margin=settings.margin)  # type: ignore[arg-type]
            if settings.mode == "pairwise"
            else _judge(backends, settings.jury)
        )
        pairwise = engine if isinstance(engine, PairwiseJudge) else None
        judge = None if isinstance(engine, PairwiseJudge) else engine
        run = {"mode": settings.mode, **engine.settings(), **({"rubric": digest(rubric)} if rubric else {})}
        return _Mode(
            load=lambda name, report: preference.load_benchmark(name, report, settings.data_dir),
            key=preference.item_id,
            stratum=lambda p: (p.source, p.label or ""),
            judged=lambda todo: preference.judge_pairs(
                settings.mode, todo, pairwise=pairwise, judge=judge, rubric=rubric
            ),
            summarise=lambda records: preference.summarise_by_source(records, seed=seed),
            describe=preference.format_table,
            heading=f"{settings.mode}, model {engine.model_label}" + (f", rubric {rubric.id}" if rubric else ""),
            run=run,
            model=engine.model_label,
            rubric_id=rubric.id if rubric else None,
        )
    judge = _judge(backends, settings.jury, gate=False)  # HealthBench and 1-5 rubrics have no hard-rule gate
    run = {"mode": settings.mode, **judge.settings()}
    if settings.mode == "graded":

        def load_graded(name: str, report: LoadReport) -> list[Any]:
            if not Path(name).is_file():
                raise ValueError(f"{name}: graded mode reads files of HealthBench-style rows; no such file")
            return graded.load_graded(name, report)

        return _Mode(
            load=load_graded,
            key=lambda e: e.id,
            stratum=lambda e: e.source,
            judged=lambda todo: graded.grade(judge, todo),
            summarise=lambda records: graded.summarise_graded(records, seed=seed),
            describe=graded.format_graded,
            heading=f"rubric-graded, model {judge.model_label}",
            run=run,
            model=judge.model_label,
            failed=lambda summary: bool(summary["unscored_examples"]),
            nested=True,
            unit="example",
        )
    if settings.mode == "scored":
        return _Mode(
            load=lambda name, report: [
                e
                for path in preference.benchmark_files(name, settings.data_dir, mode="scored")
                for e in scored.load_scored(path, report)
            ],
            key=lambda e: e.id,
            stratum=lambda e: e.source,
            judged=lambda todo: scored.grade_scored(judge, todo),
            summarise=scored.summarise_scored,
            describe=scored.format_scored,
            heading=f"1-5 score rubric as four level questions, model {judge.model_label}",
            run=run,
            model=judge.model_label,
            nested=True,
            unit="example",
        )
    raise ValueError(f"unknown eval mode {settings.mode!r}")


def load_benchmarks(
    settings: EvalSettings, mode: _Mode, say: Callable[[str], None]
) -> dict[str, tuple[list[Any], LoadReport]]:
    """Each benchmark's items (sampled with --limit) and its load report; a benchmark with no
    usable item or mostly skipped records stops the run (ValueError with the counts)."""
    chosen = {}
    for name in settings.benchmarks:
        report = LoadReport(unit="pairs" if mode.unit == "pair" else "examples")
        items = mode.load(name, report)
        if (problem := report.unusable()) is not None:
            raise ValueError(f"{name}: {problem}")
        sample = stats.stratified_sample(items, settings.limit, mode.stratum, settings.seed)
        chosen[name] = (sample, report)
        say(f"{name}: {report.describe()}" + (f"; sampled {len(sample)}" if settings.limit else ""))
    return chosen


def judge_resumably(
    settings: EvalSettings, items: dict[str, Any], mode: _Mode, warn: Callable[[str], None]
) -> tuple[dict[str, dict[str, Any]], Path]:
    """A record for every item (key -> item): those in OUTPUT.pairs.jsonl that an earlier run
    with the same settings made for the same item, the rest judged now, appended as they come."""
    hashes = {key: digest(item) for key, item in items.items()}
    resumed = open_resumed(
        settings.output.with_name(settings.output.name + ".pairs.jsonl"),
        warn,
        mode.run,
        hashes,
        overwrite=settings.overwrite,
        what="record",
    )
    todo = [item for key, item in items.items() if key not in resumed.kept]
    new = resumed.write_all(mode.judged(todo), len(todo), mode.unit, settings.progress)
    return {**resumed.kept, **{r["item_id"]: r for r in new}}, resumed.log.path


def run_eval(
    settings: EvalSettings,
    backends: Backend | list[Backend],
    *,
    say: Callable[[str], None] = lambda _: None,
    warn: Callable[[str], None] = lambda _: None,
) -> EvalOutcome:
    """Run an eval and write its results file; ``say`` hears what was loaded, ``warn`` what an
    earlier run left in the per-item log."""
    mode = _mode(settings, backends if isinstance(backends, list) else [backends])
    chosen = load_benchmarks(settings, mode, say)
    # one judgement per item, even when two benchmarks share a file (llmbar and llmbar-natural)
    items = {mode.key(item): item for sample, _ in chosen.values() for item in sample}
    every, log_path = judge_resumably(settings, items, mode, warn)
    raw: dict[str, Any] = {"model": mode.model, "mode": settings.mode, "seed": settings.seed, "benchmarks": {}}
    if settings.mode in ("pairwise", "pointwise"):
        raw["rubric"] = mode.rubric_id
    tables, failed = [], False
    for name, (sample, report) in chosen.items():
        summary = mode.summarise([every[mode.key(item)] for item in sample])
        entry = {"input": {"records": report.read, "skipped": dict(report.skipped)}}
        raw["benchmarks"][name] = {**entry, settings.mode: summary} if mode.nested else {**entry, **summary}
        tables.append((f"{name} ({mode.heading})", mode.describe(summary)))
        failed = failed or mode.failed(summary)
    results = EvalResults.model_validate(raw)
    settings.output.write_text(results.to_json(), encoding="utf-8")
    return EvalOutcome(results, tables, log_path, failed)
