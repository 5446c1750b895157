"""`rubric generate` as one library call: read the input, build the method's generator, run
them all resumably, write the rubrics, and report what happened (lines for people, the
outcomes for programs). The CLI only parses arguments and prints the report.

Each method is a row of ``METHODS``: a function that reads its input and builds a ``Plan``
(the items, the generator, what the run depends on, how its outcome is summarised); the run
itself is the same for all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from judge.aio import run_sync
from judge.backends.base import Backend, model_label
from judge.generate.options import GenerateOptions
from judge.generate.run import GenerationResult, Generator, ItemOutcome, generate_all
from judge.pairwise import PairwiseJudge
from judge.runs.resume import digest
from rubrics.io import save_rubrics
from rubrics.model import Rubric
from rubrics.pairs import load_pairs
from rubrics.records import LoadReport

Say = Callable[[str], None]
OpenModel = Callable[[], Backend]


@dataclass
class GenerateReport:
    result: GenerationResult
    lines: list[str] = field(default_factory=list)  # the human summary
    ok: bool = True  # something was kept and nothing failed


@dataclass
class Plan:
    """A method's run: its items and generator, what the run depends on, and its summary."""

    items: Sequence[Any]
    generator: Generator
    run: dict[str, Any]
    heading: str  # "model: ... method: ... pairs: N"
    unit: str = "item"
    finish: Callable[[GenerationResult], tuple[list[Rubric], list[str]]] = lambda result: (result.rubrics, [])
    counted: str = (
        "kept {kept}, no evidence or nothing found {rejected}, failed {failed}"  # the counts, as this method means them
    )
    listed: Callable[[ItemOutcome], bool] = lambda o: (
        o.status != "kept" or bool(o.reason)
    )  # outcomes named in the report


def generate(options: GenerateOptions, open_model: OpenModel, say: Say = lambda _: None) -> GenerateReport:
    """Run one generation method; ``open_model`` is called only when the method needs a model;
    ``say`` hears how the input (and corpus) read. ValueError for unusable input."""
    if not options.input.is_file():
        raise ValueError(f"{options.input}: no such input file")
    if options.method not in METHODS:
        raise ValueError(f"unknown generation method {options.method!r}; known: {', '.join(METHODS)}")
    plan = METHODS[options.method](options, open_model, say)
    result = generate_all(
        plan.items,
        plan.generator,
        options.output,
        plan.run,
        concurrency=options.concurrency,
        progress=options.progress,
        overwrite=options.overwrite,
        unit=plan.unit,
    )
    rubrics, extra = plan.finish(result)
    save_rubrics(rubrics, options.output)
    counts = result.counts
    lines = [
        plan.heading,
        plan.counted.format(**{status: counts[status] for status in ("kept", "rejected", "failed")}),
        *extra,
    ]
    lines += [f"  {o.status} {o.item_id}: {o.reason}" for o in result.outcomes if plan.listed(o)]
    lines.append(f"rubrics: {options.output} ({len(rubrics)}); per-{plan.unit} log: {result.log_path}")
    return GenerateReport(result, lines, ok=bool(result.rubrics) and not counts["failed"])


def _checked(report: LoadReport, options: GenerateOptions, count: int, say: Say) -> None:
    say(f"input: {report.describe()}" + (f"; using the first {count}" if options.limit else ""))
    if (problem := report.unusable()) is not None:
        raise ValueError(f"{options.input}: {problem}")


PAIR_COUNTS = "kept {kept}, rejected {rejected} (label not reproduced), failed {failed} (no usable rubric)"


def _failed(outcome: ItemOutcome) -> bool:
    return outcome.status == "failed"


def _pairs(options: GenerateOptions, say: Say) -> list[Any]:
    report = LoadReport()
    pairs = list(load_pairs(options.input, report))[: options.limit]
    _checked(report, options, len(pairs), say)
    return pairs


def _pair_plan(
    options: GenerateOptions, pairs: list[Any], judge: PairwiseJudge, generator: Generator, finish: Any = None
) -> Plan:
    """The plan of a method over preference pairs: it judges with ``judge``, so its settings are the run's."""
    run = {"method": options.method, **judge.settings(), "settings": generator.settings}
    heading = f"model: {judge.model_label}  method: {options.method}  pairs: {len(pairs)}"
    plan = Plan(pairs, generator, run, heading, unit="pair", counted=PAIR_COUNTS, listed=_failed)
    if finish is not None:
        plan.finish = finish
    return plan


def contrastive(options: GenerateOptions, open_model: OpenModel, say: Say) -> Plan:
    from judge.generate.contrastive import ContrastiveGenerator, ContrastiveSettings

    pairs = _pairs(options, say)
    backend = open_model()
    judge = PairwiseJudge(backend)
    generator = ContrastiveGenerator(backend, judge, ContrastiveSettings(tau=options.tau, max_tries=options.max_tries))
    return _pair_plan(options, pairs, judge, generator)


def auto(options: GenerateOptions, open_model: OpenModel, say: Say) -> Plan:
    from judge.generate.auto_rubric import DEFAULT_EMBEDDING_MODEL, AutoRubricGenerator, AutoSettings, sentence_embedder

    pairs = _pairs(options, say)
    backend = open_model()
    judge = PairwiseJudge(backend)
    settings = AutoSettings(
        tau=options.tau,
        max_rounds=options.rounds,
        max_rubrics=options.max_rubrics,
        max_core=options.max_core,
        min_gain=options.min_gain,
        name=options.name,
    )
    generator = AutoRubricGenerator(backend, judge, settings)

    def finish(result: GenerationResult) -> tuple[list[Rubric], list[str]]:
        """The general Theme-Tips rubric first, then the per-pair rubrics."""
        if not result.rubrics:
            return [], []
        embed = sentence_embedder(options.embedding_model)
        general = run_sync(
            generator.generalise(
                result.rubrics, embed, embedding_model=options.embedding_model or DEFAULT_EMBEDDING_MODEL
            )
        )
        params = general.provenance.params
        return [general, *result.rubrics], [
            f"general rubric {general.id!r}: {len(general.criteria)} criteria in "
            f"{params.get('themes', 0)} themes, from a core set of {params['core']} of "
            f"{params['candidates']} rubrics"
        ]

    return _pair_plan(options, pairs, judge, generator, finish)


def constraints(options: GenerateOptions, open_model: OpenModel, say: Say) -> Plan:
    from judge.generate.constraints import ConstraintGenerator, ConstraintSettings, load_instructions

    report = LoadReport()
    items = load_instructions(options.input, report)[: options.limit]
    _checked(report, options, len(items), say)
    backend = None if options.extract_only else open_model()
    label = model_label(backend) if backend is not None else "none"
    settings = ConstraintSettings(use_model=not options.extract_only, task=options.task)  # type: ignore[arg-type]
    generator = ConstraintGenerator(backend, settings, model_label=label)

    def finish(result: GenerationResult) -> tuple[list[Rubric], list[str]]:
        first = [o.attempts[0] for o in result.outcomes if o.attempts]
        return result.rubrics, [
            f"constraints checked in code: {sum(a.get('checked_in_code', 0) for a in first)}; sentences the "
            f"extractor left to the model: {sum(len(a.get('unparsed', [])) for a in first)}; model "
            f"decompositions failed: {sum(bool(a.get('model_error')) for a in first)}"
        ]

    return Plan(
        items,
        generator,
        {"method": options.method, "model": label, "settings": generator.settings},
        f"model: {label}  method: {options.method}  items: {len(items)}",
        finish=finish,
    )


def nuggets(options: GenerateOptions, open_model: OpenModel, say: Say) -> Plan:
    from judge.generate.auto_rubric import sentence_embedder
    from judge.generate.nuggets import NuggetGenerator, NuggetSettings, load_questions
    from judge.generate.retrieval import StaticCorpus

    if options.corpus is None:
        raise ValueError("--method nuggets needs --corpus (a folder of .txt/.md files or a JSONL of documents)")
    corpus_report = LoadReport(unit="documents")
    embed = sentence_embedder(options.embedding_model)
    corpus = StaticCorpus.load(options.corpus, corpus_report, embed=embed if options.rerank else None)
    say(f"corpus: {corpus_report.describe()}, {len(corpus.passages)} passages")
    for problem in corpus_report.problems[:10]:
        say(f"  skipped {problem}")
    report = LoadReport()
    items = load_questions(options.input, report)[: options.limit]
    _checked(report, options, len(items), say)
    backend = open_model()
    label = model_label(backend)
    generator = NuggetGenerator(
        backend,
        corpus,
        embed,
        NuggetSettings(max_passages=options.passages, weighted=not options.unweighted),
        model_label=label,
    )
    run = {
        "method": options.method,
        "model": label,
        "settings": generator.settings,
        "corpus": digest([p.text for p in corpus.passages]),
    }
    return Plan(items, generator, run, f"model: {label}  method: {options.method}  items: {len(items)}")


METHODS: dict[str, Callable[[GenerateOptions, OpenModel, Say], Plan]] = {
    "contrastive": contrastive,
    "auto": auto,
    "nuggets": nuggets,
    "constraints": constraints,
}
