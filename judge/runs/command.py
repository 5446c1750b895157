"""`rubric judge` as a function of its typed options: judge a file in this process or on Ray,
and say what happened (the CLI prints it and picks the exit status)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from judge.backends.base import capability
from judge.build import JudgeOptions, build_judge
from judge.models import ModelOptions, open_backends
from judge.runs.console import printable
from judge.runs.options import RunOptions
from judge.runs.summary import RunSummary, format_summary


@dataclass
class JudgeOutcome:
    summary: RunSummary
    model_label: str
    threshold: float | str
    lines: list[str] = field(default_factory=list)  # what the run adds to the summary (batch jobs, API usage)
    demonstration: bool = False  # judged by the embedded demonstration model

    def report(self, run: RunOptions, judging: JudgeOptions) -> str:
        shape = judging.request_shape.replace("_", "-")
        head = f"model: {self.model_label}  threshold: {self.threshold}  request shape: {shape}  verdicts: {run.output}"
        notes = [DEMONSTRATION_NOTE] if self.demonstration else []
        return printable("\n".join([head, format_summary(self.summary), *self.lines, *notes]))


# Beside the numbers, where a user reads them: the table above comes from a 135M model.
DEMONSTRATION_NOTE = (
    "note: these scores come from the embedded demonstration judge (SmolLM2-135M), which is weak and often wrong; "
    "pass a real judge with --model (e.g. --model Qwen/Qwen2.5-7B-Instruct or openai/gpt-4o-mini)"
)


def judge_command(
    run: RunOptions,
    judging: JudgeOptions,
    models: ModelOptions,
    say: Callable[[str], None] = lambda message: print(printable(message), file=sys.stderr),
) -> JudgeOutcome:
    """Judge ``run.input`` into ``run.output`` (resumably) with the judge the options describe."""
    from judge.runs.sources import readable_again

    with readable_again(run.input) as source:  # standard input: read once, into a file the run can reread
        return _judge(replace(run, input=source), judging, models, say)


def _judge(run: RunOptions, judging: JudgeOptions, models: ModelOptions, say: Callable[[str], None]) -> JudgeOutcome:
    from judge.runs import ray_run
    from judge.runs.files import judge_file
    from judge.runs.sources import describe_missing
    from judge.rubric_lookup import RubricSource

    if (missing := describe_missing(run.input)) is not None:
        raise ValueError(missing)
    if run.engine == "ray":  # the judges are built in the actors
        summary = ray_run.judge_with_ray(run, judging, models)
        return JudgeOutcome(summary, models.label, ray_run.threshold(judging), demonstration=not models.model)
    backends = open_backends(models, on_default=say, concurrency=judging.concurrency)
    judge = build_judge(judging, backends)
    batches: list[Any] = []
    tags = judging.only_tags
    summary = judge_file(
        judge,
        run.input,
        run.output,
        RubricSource.from_option(run.rubric),
        progress=run.progress,
        overwrite=run.overwrite,
        settings={"only_tags": sorted(tags) if tags else None},
        before=_prefetch(judge, run, batches, say) if run.batch else None,
        columns=run.columns,
    )
    lines = [outcome.describe() for outcome in batches]
    for backend in backends:
        if (usage := capability(backend, "usage")) is not None:
            lines.append(
                f"API usage: {f'{backend.name}:{backend.model_id}: ' if len(backends) > 1 else ''}{usage.describe()}"
            )
    return JudgeOutcome(summary, judge.model_label, judge.threshold, lines, demonstration=not models.model)


def _prefetch(judge: Any, run: RunOptions, outcomes: list, say: Callable[[str], None]) -> Callable[[list], None]:
    """What judge_file calls first with --batch: the provider batch jobs (judge.runs.provider_jobs)."""
    from judge.aio import run_sync
    from judge.runs.provider_jobs import prefetch

    def send(items: list) -> None:
        quiet = (lambda message: None) if run.quiet else say
        outcomes.extend(
            run_sync(prefetch(judge, items, run.output, poll_seconds=run.batch_poll, progress=run.progress, say=quiet))
        )

    return send
