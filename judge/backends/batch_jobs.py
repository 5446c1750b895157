"""Provider batch APIs (OpenAI's Batch API, Anthropic's Message Batches): about half the
synchronous price, own rate limits, answers within 24 hours. What the two share: one
request per yes/no question (or per sample of it), a job to poll, and the answers read back
into the same P(yes) the synchronous path gives. The provider modules say how each is sent.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from judge.backends.base import Message, YesNoScore

JobState = Literal["running", "ended", "expired", "cancelled", "failed"]
CUSTOM_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # what both providers accept as a custom id


@dataclass(frozen=True)
class JobStatus:
    """Where a batch job stands: its state, and requests finished (answered or failed) of all."""

    state: JobState
    finished: int
    total: int
    detail: str = ""  # the provider's own status word or error, for messages


def custom_id(question: int, sample: int) -> str:
    return f"q{question}-s{sample}"


def parse_custom_id(value: str) -> tuple[int, int]:
    """(question, sample) of a custom id made by custom_id."""
    question, _, sample = value.partition("-")
    return int(question[1:]), int(sample[1:])


@runtime_checkable
class BatchCapable(Protocol):
    """A backend that can send its yes/no questions as a provider batch job."""

    samples: int

    def batch_line(self, custom_id: str, messages: Sequence[Message]) -> dict[str, Any]:
        """The provider's request line for one question (one sample of it)."""
        ...

    async def batch_submit(self, lines: list[dict[str, Any]]) -> str:
        """Upload the request lines, create the job; its id."""
        ...

    async def batch_poll(self, job_id: str) -> JobStatus: ...

    async def batch_results(self, job_id: str) -> dict[str, YesNoScore]:
        """Every request's answer by custom id (p_yes None with the provider's reason where it failed)."""
        ...


def combine_samples(answers: Sequence[YesNoScore]) -> YesNoScore:
    """One question's samples into its P(yes): the yes share of the samples that answered."""
    scored = [a for a in answers if a.p_yes is not None]
    if not scored:
        return YesNoScore(None, reason=answers[0].reason if answers else "no answer in the batch")
    if len(answers) == 1:
        return scored[0]
    failed = [a for a in answers if a.p_yes is None]
    notes = [f"{len(failed)} of {len(answers)} samples failed in the batch: {failed[0].reason}"] if failed else []
    notes.append(f"P(yes) from {len(scored)} sampled verdicts in a provider batch")
    return YesNoScore(sum(a.p_yes for a in scored) / len(scored), notes=tuple(notes), explanation=scored[0].explanation)  # type: ignore[misc]
