"""P(yes) from the top next-token alternatives an API returns (OpenAI, vLLM, litellm)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from judge.backends.base import YesNoScore

NO_LOGPROBS = "the server returned no logprobs for the answer token (for a model without them use mode=structured)"


def answer_word(token: str) -> str | None:
    """'Yes', ' yes', 'YES.', 'Ġyes' -> 'yes'; 'No' -> 'no'; anything else -> None."""
    word = token.strip().lstrip("Ġ▁").strip(" .,:;!\"'*").lower()
    return word if word in ("yes", "no") else None


def first_token_alternatives(completion: Any) -> list[tuple[str, float]] | None:
    """(token, logprob) of the first output token's top alternatives and the token itself,
    from a chat completion (OpenAI SDK or litellm objects); None if it carries no logprobs."""
    choices = getattr(completion, "choices", None)
    if not choices:
        raise ValueError("the completion has no choices")
    logprobs = getattr(choices[0], "logprobs", None)
    content = getattr(logprobs, "content", None) if logprobs is not None else None
    if not content:
        return None
    first = content[0]
    alternatives = [(alt.token, alt.logprob) for alt in getattr(first, "top_logprobs", None) or []]
    alternatives.append((first.token, first.logprob))  # the chosen token, if a server lists no alternatives
    return alternatives


def score_top_logprobs(alternatives: Sequence[tuple[str, float]] | None, asked: int) -> YesNoScore:
    """P(yes) = mass(yes spellings) / mass(yes + no spellings) among the alternatives.

    If neither word is among them the answer is not guessed: the score is None with the
    most likely tokens as the reason.
    """
    if not alternatives:
        return YesNoScore(None, reason=NO_LOGPROBS)
    mass = {"yes": 0.0, "no": 0.0}
    seen: set[str] = set()
    for token, logprob in alternatives:
        word = answer_word(token)
        if word is None or token in seen or not math.isfinite(logprob):
            continue
        seen.add(token)
        mass[word] += math.exp(logprob)
    total = mass["yes"] + mass["no"]
    if total <= 0.0:
        ranked = sorted(dict(alternatives).items(), key=lambda a: -a[1])[:3]
        likely = ", ".join(f"{t!r} {math.exp(lp):.2f}" for t, lp in ranked)
        hint = ""
        if ranked and ranked[0][0].strip().startswith("<think"):  # a thinking judge reasons before it answers
            hint = '; a thinking model: turn thinking off with chat_template_kwargs={"enable_thinking": false} in the model spec'
        return YesNoScore(
            None, reason=f"neither Yes nor No among the top {asked} next tokens (most likely: {likely}){hint}"
        )
    return YesNoScore(mass["yes"] / total, yes_no_mass=min(1.0, total))
