"""`rubric judge --batch`: the run's yes/no questions go first to the provider's batch API
(about half the price), their answers into the judgement cache; the run itself then reads
them from there, and asks synchronously only what the batch could not answer.

Only questions not already cached are sent. The job's id and the map from its custom ids
to cache keys are written beside the output (OUTPUT.batches.json) the moment the job
exists, so a rerun after an interruption polls the same job instead of paying twice; the
entry is removed once its answers are in the cache. A job that expires, is cancelled or
fails leaves what it answered; the rest is asked synchronously (and unscored with the
reason if that fails too). A jury sends one job per judge whose backend has a batch API.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from judge.backends.base import BackendError, YesNoQuestion, YesNoScore, remember_prefixes
from judge.backends.batch_jobs import BatchCapable, JobStatus, combine_samples, custom_id, parse_custom_id
from judge.cache import CachedBackend
from judge.engine import Judge, JudgeItem

POLL_FAILURES = 5  # polls failing in a row before the run stops (the job's id stays for a rerun)


@dataclass
class BatchOutcome:
    """One judge's job: questions found cached, sent, answered, failed there (with why)."""

    model: str
    job_id: str | None = None
    cached: int = 0
    sent: int = 0
    answered: int = 0
    failed: int = 0
    state: str = "none"
    resumed: bool = False
    reasons: Counter[str] = field(default_factory=Counter)

    def describe(self) -> str:
        if self.job_id is None:
            return f"batch {self.model}: nothing to send ({self.cached} questions already cached)"
        line = (
            f"batch {self.model}: job {self.job_id} {self.state}{' (resumed)' if self.resumed else ''}: "
            f"{self.sent} questions sent, {self.answered} answered, {self.failed} failed there"
        )
        if self.failed:
            common = "; ".join(f"{n} x {why}" for why, n in self.reasons.most_common(2))
            line += f" and were asked synchronously ({common})"
        return line + (f"; {self.cached} were cached" if self.cached else "")


def state_path(output: str | Path) -> Path:
    output = Path(output)
    return output.with_name(output.name + ".batches.json")


def _load(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ValueError(
            f"{path}: cannot read the batch jobs of an earlier run ({e}); remove it to start new jobs"
        ) from None


def _save(path: Path, jobs: dict[str, Any]) -> None:
    if not jobs:
        path.unlink(missing_ok=True)
        return
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(jobs, indent=1), encoding="utf-8")
    os.replace(partial, path)  # a crash leaves the old state or the new, never half of one


async def prefetch(
    judge: Any,
    items: Sequence[JudgeItem],
    output: str | Path,
    *,
    poll_seconds: float = 30.0,
    progress: bool | None = None,
    say: Callable[[str], None] = lambda _: None,
) -> list[BatchOutcome]:
    """Send the questions of ``items`` that ``judge`` (a Judge or a Jury) would ask and no cache
    holds as provider batch jobs, wait for them, and keep the answers in the cache."""
    if judge.request_shape != "per_criterion":
        raise ValueError("--batch sends the per-criterion yes/no questions: use --request-shape per-criterion")
    members: list[Judge] = judge.judges
    path = state_path(output)
    jobs = _load(path)
    outcomes = []
    for member in members:
        backend = member.backend
        if not isinstance(backend, CachedBackend):
            raise ValueError("--batch keeps the batch's answers in the judgement cache: drop --no-cache")
        if not isinstance(backend.inner, BatchCapable):
            if len(members) == 1:
                raise ValueError(
                    f"--batch: {member.model_label} has no provider batch API (openai/ and anthropic/ models have)"
                )
            say(f"batch: {member.model_label} has no batch API; it judges synchronously")
            continue
        outcome = BatchOutcome(member.model_label)
        job = jobs.get(member.model_label)
        if job is None:
            job = await _submit(member, backend, items, outcome)
            if job is None:
                outcomes.append(outcome)
                continue
            jobs[member.model_label] = job
            _save(path, jobs)
            say(
                f"batch {member.model_label}: job {job['id']} created with {job['lines']} requests; interrupt and rerun to resume"
            )
        else:
            outcome.resumed = True
            say(f"batch {member.model_label}: polling job {job['id']} of an earlier run")
        await _collect(backend, job, outcome, poll_seconds, progress)
        del jobs[member.model_label]
        _save(path, jobs)
        outcomes.append(outcome)
    return outcomes


async def _submit(
    member: Judge, backend: CachedBackend, items: Sequence[JudgeItem], outcome: BatchOutcome
) -> dict[str, Any] | None:
    """Create the job for the uncached questions (None if there are none)."""
    inner: Any = backend.inner
    questions: dict[str, YesNoQuestion] = {}
    for item in items:
        for question in (await member.prepare(item)).questions:
            questions.setdefault(backend.p_yes_key(question), question)
    missing = [(key, q) for key, q in questions.items() if not backend.known(key)]
    outcome.cached = len(questions) - len(missing)
    if not missing:
        return None
    remember_prefixes(
        inner, [q for _, q in missing]
    )  # Anthropic: the criteria of one response share a cache breakpoint
    lines = [
        inner.batch_line(custom_id(n, s), q.messages) for n, (_, q) in enumerate(missing) for s in range(inner.samples)
    ]
    try:
        job_id = await inner.batch_submit(lines)
    except Exception as e:  # nothing was created: say why in one line (the run has not started)
        raise BackendError(f"batch {member.model_label}: the job could not be created: {type(e).__name__}: {e}") from e
    return {
        "id": job_id,
        "requests": {str(n): key for n, (key, _) in enumerate(missing)},
        "samples": inner.samples,
        "lines": len(lines),
    }


async def _collect(
    backend: CachedBackend, job: dict[str, Any], outcome: BatchOutcome, poll_seconds: float, progress: bool | None
) -> None:
    inner: Any = backend.inner
    outcome.job_id, outcome.sent = job["id"], len(job["requests"])
    status = await _wait(inner, job["id"], poll_seconds, progress, outcome.model)
    outcome.state = status.state
    answers: dict[str, YesNoScore] = await inner.batch_results(job["id"]) if status.state != "failed" else {}
    by_question: dict[int, list[YesNoScore]] = defaultdict(list)
    for cid, score in answers.items():
        by_question[parse_custom_id(cid)[0]].append(score)
    missing = YesNoScore(None, reason=f"no answer in the batch (job {status.state}: {status.detail})")
    inner.usage.batch_requests += job["lines"]
    for n, key in job["requests"].items():
        got = by_question.get(int(n), [])
        got = got + [missing] * (job["samples"] - len(got))
        inner.usage.batch_failed += sum(a.p_yes is None for a in got)
        score = combine_samples(got)
        if score.p_yes is None:
            outcome.failed += 1
            outcome.reasons[score.reason or "no answer"] += 1
        else:
            backend.remember(key, score)
            outcome.answered += 1


async def _wait(inner: Any, job_id: str, poll_seconds: float, progress: bool | None, label: str) -> JobStatus:
    """Poll until the job is no longer running; a bar on a terminal (quiet in CI)."""
    with tqdm(
        total=None,
        unit="request",
        desc=f"batch {label}",
        file=sys.stderr,
        disable=None if progress is None else not progress,
    ) as bar:
        failures = 0
        while True:
            try:
                status: JobStatus = await inner.batch_poll(job_id)
            except Exception as e:  # the job lives on at the provider: a failed poll is tried again
                failures += 1
                if failures >= POLL_FAILURES:
                    raise BackendError(
                        f"batch {label}: {failures} polls of job {job_id} failed in a row ({type(e).__name__}: {e}); "
                        "rerun the command to resume polling it"
                    ) from e
                await asyncio.sleep(poll_seconds)
                continue
            failures = 0
            bar.total = status.total
            bar.n = status.finished
            bar.set_postfix_str(status.detail, refresh=True)
            if status.state != "running":
                return status
            await asyncio.sleep(poll_seconds)
