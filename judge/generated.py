"""The generated request shape: each criterion judged by a generated verdict, reasoning
first and then a decision, instead of P(yes) read from one answer token.

Any backend can be asked this way: API models through their structured output, local
models decoded under the verdict's grammar (backends/grammar.py), so the JSON always
parses. The verdict is 0 or 1 (no probability), and its reasoning becomes the criterion's
explanation. A request that fails is unscored with the reason, never a guess.
"""

from __future__ import annotations

from collections.abc import Sequence

from judge.backends.base import Backend, BackendFatalError, Message, YesNoScore
from judge.backends.structured import GeneratedVerdict

TEMPLATE = "entailment_generated"
MAX_OUTPUT_TOKENS = 256  # the reasoning's 600 characters and the JSON around them


async def judge(backend: Backend, messages: Sequence[Message]) -> YesNoScore:
    try:
        verdict = await backend.generate(messages, schema=GeneratedVerdict, max_tokens=MAX_OUTPUT_TOKENS, temperature=0.0)
        if not isinstance(verdict, GeneratedVerdict):
            raise TypeError(f"expected a GeneratedVerdict, got {type(verdict).__name__}")
    except BackendFatalError:
        raise
    except Exception as e:  # noqa: BLE001 - every failure becomes an unscored value
        return YesNoScore(None, reason=f"generated verdict failed: {type(e).__name__}: {str(e).splitlines()[0]}")
    return YesNoScore(float(verdict.satisfied), explanation=verdict.reasoning.strip() or None)
