"""The generated request shape: each criterion judged by a generated verdict, reasoning
first and then a decision, instead of P(yes) read from one answer token.

Any backend can be asked this way: API models through their structured output, local
models decoded under the verdict's grammar (backends/grammar.py), so the JSON always
parses. The verdict is 0 or 1 (no probability), and its reasoning becomes the criterion's
explanation. A request that fails is unscored with the reason, never a guess.
"""

from __future__ import annotations

from collections.abc import Sequence

from judge.backends.base import Backend, Message, YesNoScore
from judge.backends.retry import is_retryable
from judge.backends.structured import GeneratedVerdict, instance_or_error

TEMPLATE = "entailment_generated"
MAX_OUTPUT_TOKENS = 256  # the reasoning's 600 characters and the JSON around them


async def judge(backend: Backend, messages: Sequence[Message]) -> YesNoScore:
    verdict = await instance_or_error(backend, list(messages), GeneratedVerdict, MAX_OUTPUT_TOKENS)
    if isinstance(verdict, Exception):
        return YesNoScore(None, reason=f"generated verdict failed: {type(verdict).__name__}: {str(verdict).splitlines()[0]}",
                          transient=is_retryable(verdict))
    return YesNoScore(float(verdict.satisfied), explanation=verdict.reasoning.strip() or None)
