"""A judging run over a JSONL file: resolve rubrics, judge, write incrementally, summarise."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from judge.engine import Judge, JudgeItem
from judge.pairwise import PairItem, PairwiseJudge
from judge.runs.idtable import IdTable
from rubrics.records import Problem
from judge.runs.inputs import binary_problem, file_shape, read_items
from judge.runs.log import open_resumed
from judge.runs.parquet_output import is_parquet, log_path, pyarrow_modules, write_parquet
from judge.runs.resume import digest, refuse_same_file
from judge.runs.sources import Columns, is_lines
from judge.runs.summary import RunSummary, SummaryBuilder
from rubrics.pairs import load_labelled_pairs
from rubrics.records import LoadReport
from judge.rubric_lookup import NO_RUBRIC, RubricSource

logger = logging.getLogger("rubric.runs")
MAX_WARNINGS = 10  # per kind of input problem; the rest are counted in the summary


def item_hash(item: JudgeItem) -> str:
    """What a verdict depends on in the item itself: prompt, response, reference, rubric."""
    return digest([item.prompt, item.response, item.reference, item.rubric.model_dump(mode="json")])


class Warnings:
    """Input problems, one line each for the first MAX_WARNINGS, then a count with the
    commonest reasons; the first says what the file looks like when that explains it. They
    are held until ``close``, so that an input none of whose lines names a rubric is said
    once (``NoRubric``) instead of once a line."""

    def __init__(self, source: str | Path, warn: Callable[[str], None]):
        self.source, self.warn, self.count = source, warn, 0
        self.reasons: Counter[str] = Counter()
        self.held: list[tuple[str | None, str]] = []  # (reason, message)

    def line(self, error: Problem) -> None:
        self.count += 1
        self.reasons[error.message] += 1
        if self.count == 1 and (shape := file_shape(self.source)) is not None:
            self.held.append((None, f"{self.source}: {shape}"))
        if self.count <= MAX_WARNINGS:
            where = f"{self.source}/{error.file}" if error.file else str(self.source)
            self.held.append(
                (
                    error.message,
                    f"{where}:{error.line}: {error.message} ({'line' if is_lines(self.source) else 'row'} skipped)",
                )
            )

    def close(self, items: int) -> None:
        """Say what was held; with no item at all for want of a rubric, say that once (NoRubric)."""
        no_rubric = items == 0 and NO_RUBRIC in self.reasons
        for reason, message in self.held:
            if not (no_rubric and reason == NO_RUBRIC):
                self.warn(message)
        if no_rubric:
            raise NoRubric(
                f"{self.source}: no rubric: pass --rubric NAME|FILE, or give each line a 'rubric' or 'rubric_id'; "
                "no item to judge"
            )
        if self.count > MAX_WARNINGS:
            common = "; ".join(f"{n} x {why}" for why, n in self.reasons.most_common(3))
            self.warn(
                f"{self.source}: {self.count - MAX_WARNINGS} more lines skipped, {self.count} in all (most often: {common})"
            )


class NoRubric(ValueError):
    """No line of the input has a rubric and none was given for all."""


def judge_file(
    judge: Judge,
    input_path: str | Path,
    output_path: str | Path,
    rubrics: RubricSource,
    *,
    warn: Callable[[str], None] = logger.warning,
    progress: bool | None = None,
    overwrite: bool = False,
    settings: dict[str, Any] | None = None,
    before: Callable[[list[JudgeItem]], None] | None = None,
    columns: Columns = Columns(),
) -> RunSummary:
    """Judge every line of input_path not yet judged in output_path by this same run;
    appends one verdict line per item (the input's ``id`` echoed, with the run settings and
    the item's input hash, judge/resume.py). A resumed output made by other settings or
    for other input stops the run (ResumeMismatch) unless ``overwrite``.

    settings: what else shapes the verdicts (e.g. a criterion filter), recorded and compared.
    before: called with the items left to judge once the resume is settled (e.g. a provider batch).
    progress: None shows a bar only on a terminal.
    """
    refuse_same_file(input_path, output_path)
    if is_parquet(output_path):
        pyarrow_modules()  # the install hint before any judging, not after
    if (binary := binary_problem(input_path)) is not None:
        raise ValueError(binary)
    warnings = Warnings(input_path, warn)
    hashes = IdTable()  # id -> input digest, on disk: a million-row input does not grow the process
    try:
        for entry in read_items(input_path, rubrics, columns=columns):  # what this input holds, before any judging
            if isinstance(entry, Problem):
                warnings.line(entry)
            else:
                hashes.add(entry.id, item_hash(entry))
        warnings.close(len(hashes))
    except BaseException:
        hashes.close()
        raise
    run = {**judge.settings(), **(settings or {}), **({"columns": columns.renamed} if columns.renamed else {})}
    resumed = open_resumed(log_path(output_path), warn, run, hashes, overwrite=overwrite)
    kept = resumed.kept
    input_ids: dict[str, Any] = {}  # items on their way: the id as the input wrote it

    left: Iterable[JudgeItem] = (
        e for e in read_items(input_path, rubrics, skip_ids=kept, columns=columns) if isinstance(e, JudgeItem)
    )
    if before is not None:  # it needs them all at once (a provider batch job), so the judging reads the same list
        left = list(left)
        before(left)

    def todo() -> Iterator[JudgeItem]:
        for item in left:
            input_ids[item.id] = item.input_id
            yield item

    async def records() -> AsyncIterator[dict[str, Any]]:
        async for verdict in judge.aevaluate_many(todo()):
            yield {"id": input_ids.pop(verdict.item_id), **verdict.model_dump(mode="json")}

    summary = SummaryBuilder()  # running: the new verdicts are not kept in memory
    for record in kept.values():
        summary.add(record)
    try:
        resumed.write_all(records(), len(hashes) - len(kept), "item", progress, on_record=summary.add, keep=False)
        if is_parquet(output_path):  # from the log, now complete: the verdicts of this input's ids
            write_parquet(log_path(output_path), output_path, keep=hashes)
    finally:
        hashes.close()
    return summary.result(judged_now=summary.summary.items - len(kept), malformed_lines=warnings.count)


def compare_file(
    judge: PairwiseJudge,
    input_path: str | Path,
    output_path: str | Path,
    *,
    warn: Callable[[str], None] = logger.warning,
    progress: bool | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Judge every pair of input_path not yet judged in output_path by this same run, both
    orders; returns a summary. Pairs are read by the one pair reader (rubrics.pairs): ours,
    LLMBar, JudgeBench, chosen/rejected. Resumes like judge_file."""
    refuse_same_file(input_path, output_path)
    report = LoadReport()
    pairs = list(load_labelled_pairs(input_path, report, require_label=False))
    for problem in report.problems[:MAX_WARNINGS]:
        warn(f"{problem} (record skipped)")
    if len(report.problems) > MAX_WARNINGS or sum(report.skipped.values()) > MAX_WARNINGS:
        warn(f"{input_path}: {report.describe()}")
    if (problem := report.unusable()) is not None:
        raise ValueError(f"{input_path}: {problem}")
    labels = {p.id: p.label for p in pairs}
    hashes = {p.id: digest([p.prompt, p.response_a, p.response_b, list(p.criteria)]) for p in pairs}
    resumed = open_resumed(output_path, warn, judge.settings(), hashes, overwrite=overwrite)
    kept = resumed.kept
    todo = [PairItem(p.id, p.prompt, p.response_a, p.response_b, p.criteria) for p in pairs if p.id not in kept]
    new = resumed.write_all(judge.acompare_many(iter(todo)), len(todo), "pair", progress)
    malformed = sum(report.skipped.values())
    records = [*kept.values(), *new]
    scored = [r for r in records if r["status"] == "scored"]
    labelled = [r for r in scored if labels[str(r["item_id"])] is not None]
    return {
        "pairs": len(records),
        "judged_now": len(new),
        "preferred": {side: sum(r["preferred"] == side for r in scored) for side in ("A", "B", "tie")},
        "position_flips": sum(r.get("position_consistent") is False for r in scored),
        "unscored": len(records) - len(scored),
        "malformed_lines": malformed,
        "labelled": len(labelled),
        "accuracy": (sum(r["preferred"] == labels[str(r["item_id"])] for r in labelled) / len(labelled))
        if labelled
        else None,
    }
