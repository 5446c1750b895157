"""The generated request shape: each criterion judged by a generated verdict, reasoning
first and then a decision, instead of P(yes) read from one answer token.

Any backend can be asked this way: API models through their structured output, local
models decoded under the verdict's grammar (backends/grammar.py), so the JSON always
parses. The verdict is 0 or 1 (no probability), and its reasoning becomes the criterion's
explanation. A request that fails is unscored with the reason, never a guess.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from judge.backends.base import Backend, Message, YesNoScore
from judge.backends.retry import is_retryable
from judge.backends.structured import GeneratedVerdict, instance_or_error
from judge.item import JudgeItem, Prepared
from judge.shapes.base import Judge
from rubrics.model import Criterion

TEMPLATE = "entailment_generated"
MAX_OUTPUT_TOKENS = 256  # the reasoning's 600 characters and the JSON around them


async def judge_one(backend: Backend, messages: Sequence[Message]) -> YesNoScore:
    """One criterion's generated verdict as a score (1 or 0), or unscored with the reason."""
    verdict = await instance_or_error(backend, list(messages), GeneratedVerdict, MAX_OUTPUT_TOKENS)
    if isinstance(verdict, Exception):
        return YesNoScore(
            None,
            reason=f"generated verdict failed: {type(verdict).__name__}: {str(verdict).splitlines()[0]}",
            transient=is_retryable(verdict),
        )
    return YesNoScore(float(verdict.satisfied), explanation=verdict.reasoning.strip() or None)


class Generated:
    name = "generated"
    nugget_labels = False
    template = TEMPLATE

    def output_tokens(self, criteria: int) -> int:
        return MAX_OUTPUT_TOKENS

    def render(
        self, judge: Judge, item: JudgeItem, criteria: Sequence[Criterion], p: Prepared
    ) -> Callable[[str], list[Message]]:
        longest = max(criteria, key=lambda c: len(c.text)).text
        return lambda response: judge.render(item, response, criterion=longest)

    def plan(self, judge: Judge, item: JudgeItem, response: str, criteria: Sequence[Criterion], p: Prepared) -> None:
        p.requests.extend(
            ([criterion], judge.render(item, response, criterion=criterion.text)) for criterion in criteria
        )

    async def answer(self, judge: Judge, prepared: Sequence[Prepared]) -> None:
        pending = [(p, criteria[0], messages) for p in prepared for criteria, messages in p.requests]
        answers = await asyncio.gather(*(judge_one(judge.backend, messages) for _, _, messages in pending))
        for (p, criterion, _), answer in zip(pending, answers):
            p.results[criterion.id] = judge.result(criterion, answer)
