"""`rubric generate` as one library call: read the input, build the method's generator, run
them all resumably, write the rubrics, and report what happened (lines for people, the
outcomes for programs). The CLI only parses arguments and prints the report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from judge.backends.base import Backend, model_label
from judge.aio import run_sync
from judge.pairwise import PairwiseJudge
from judge.runs.resume import digest
from judge.generate.options import GenerateOptions
from judge.generate.run import GenerationResult, generate_all
from rubrics.io import save_rubrics
from rubrics.pairs import load_pairs
from rubrics.records import LoadReport


@dataclass
class GenerateReport:
    result: GenerationResult
    lines: list[str] = field(default_factory=list)  # the human summary
    ok: bool = True  # something was kept and nothing failed


def generate(options: GenerateOptions, open_model: Callable[[], Backend], say: Callable[[str], None] = lambda _: None) -> GenerateReport:
    """Run one generation method; ``open_model`` is called only when the method needs a model;
    ``say`` hears how the input (and corpus) read. ValueError for unusable input."""
    if not options.input.is_file():
        raise ValueError(f"{options.input}: no such input file")
    if options.method in ("contrastive", "auto"):
        return _from_pairs(options, open_model, say)
    return _from_text(options, open_model, say)


def _checked(report: LoadReport, options: GenerateOptions, count: int, say: Callable[[str], None]) -> None:
    say(f"input: {report.describe()}" + (f"; using the first {count}" if options.limit else ""))
    if (problem := report.unusable()) is not None:
        raise ValueError(f"{options.input}: {problem}")


def _from_pairs(options: GenerateOptions, open_model: Callable[[], Backend], say: Callable[[str], None]) -> GenerateReport:
    report = LoadReport()
    pairs = list(load_pairs(options.input, report))[: options.limit]
    _checked(report, options, len(pairs), say)
    backend = open_model()
    judge = PairwiseJudge(backend)
    generator: Any
    if options.method == "contrastive":
        from judge.generate.contrastive import ContrastiveGenerator, ContrastiveSettings

        generator = ContrastiveGenerator(backend, judge, ContrastiveSettings(tau=options.tau, max_tries=options.max_tries))
    else:
        from judge.generate.auto_rubric import AutoRubricGenerator, AutoSettings

        settings = AutoSettings(tau=options.tau, max_rounds=options.rounds, max_rubrics=options.max_rubrics,
                                max_core=options.max_core, min_gain=options.min_gain, name=options.name)
        generator = AutoRubricGenerator(backend, judge, settings)
    run = {"method": options.method, **judge.settings(), "settings": generator.settings}
    result = generate_all(pairs, generator, options.output, run, concurrency=options.concurrency,
                          progress=options.progress, overwrite=options.overwrite)
    rubrics, general = result.rubrics, None
    if options.method == "auto" and rubrics:
        from judge.generate.auto_rubric import DEFAULT_EMBEDDING_MODEL, sentence_embedder

        embed = sentence_embedder(options.embedding_model)
        general = run_sync(generator.generalise(rubrics, embed, embedding_model=options.embedding_model or DEFAULT_EMBEDDING_MODEL))
    save_rubrics(([general] if general else []) + rubrics, options.output)
    counts = result.counts
    lines = [f"model: {judge.model_label}  method: {options.method}  pairs: {len(pairs)}",
             f"kept {counts['kept']}, rejected {counts['rejected']} (label not reproduced), failed {counts['failed']} (no usable rubric)"]
    if general is not None:
        params = general.provenance.params
        lines.append(f"general rubric {general.id!r}: {len(general.criteria)} criteria in {params.get('themes', 0)} themes, "
                     f"from a core set of {params['core']} of {params['candidates']} rubrics")
    lines += [f"  failed {o.pair_id}: {o.reason}" for o in result.outcomes if o.status == "failed"]
    lines.append(f"rubrics: {options.output} ({len(rubrics) + bool(general)}); per-pair log: {result.log_path}")
    return GenerateReport(result, lines, ok=bool(rubrics) and not counts["failed"])


def _from_text(options: GenerateOptions, open_model: Callable[[], Backend], say: Callable[[str], None]) -> GenerateReport:
    """nuggets (questions + corpus) and constraints (instructions): one rubric per input item."""
    report = LoadReport()
    label, extra = "none", {}
    generator: Any
    if options.method == "constraints":
        from judge.generate.constraints import ConstraintGenerator, ConstraintSettings, load_instructions

        items = load_instructions(options.input, report)[: options.limit]
        _checked(report, options, len(items), say)
        backend = None if options.extract_only else open_model()
        label = model_label(backend) if backend is not None else label
        generator = ConstraintGenerator(backend, ConstraintSettings(use_model=not options.extract_only), model_label=label)
    elif options.method == "nuggets":
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
        items = load_questions(options.input, report)[: options.limit]
        _checked(report, options, len(items), say)
        backend = open_model()
        label = model_label(backend)
        settings = NuggetSettings(max_passages=options.passages, weighted=not options.unweighted)
        generator = NuggetGenerator(backend, corpus, embed, settings, model_label=label)
        extra = {"corpus": digest([p.text for p in corpus.passages])}
    else:
        raise ValueError(f"unknown generation method {options.method!r}")
    run = {"method": options.method, "model": label, "settings": generator.settings, **extra}
    result = generate_all(items, generator, options.output, run, concurrency=options.concurrency,
                          progress=options.progress, overwrite=options.overwrite, unit="item")
    save_rubrics(result.rubrics, options.output)
    counts, outcomes = result.counts, result.outcomes
    lines = [f"model: {label}  method: {options.method}  items: {len(items)}",
             f"kept {counts['kept']}, no evidence or nothing found {counts['rejected']}, failed {counts['failed']}"]
    if options.method == "constraints":
        first = [o.attempts[0] for o in outcomes if o.attempts]
        lines.append(f"constraints checked in code: {sum(a.get('checked_in_code', 0) for a in first)}; sentences the extractor "
                     f"left to the model: {sum(len(a.get('unparsed', [])) for a in first)}; model decompositions failed: "
                     f"{sum(bool(a.get('model_error')) for a in first)}")
    lines += [f"  {o.status} {o.pair_id}: {o.reason}" for o in outcomes if o.status != "kept" or o.reason]
    lines.append(f"rubrics: {options.output} ({len(result.rubrics)}); per-item log: {result.log_path}")
    return GenerateReport(result, lines, ok=bool(result.rubrics) and not counts["failed"])
