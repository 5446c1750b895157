"""``check: {type: reference_answer}``: the response's final answer equals the item's reference.

Code cannot be talked into a "yes", and a response with no extractable final answer fails.
math-verify's cost explodes on answers like ``9^{9^{9^{9}}}``: its own timeouts (SIGALRM,
main thread only) cannot stop a C call that holds the GIL, so they are off and the engine
runs this check in a worker process it can kill (judge/checks/pool.py).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from judge.checks.outcome import CheckOutcome
from judge.extras import install_hint


def _normalise(text: str) -> str:
    return re.sub(r"[^\w]+", " ", text.casefold()).strip()


def _math_verify() -> Any:
    try:
        import math_verify
    except ModuleNotFoundError:
        return None
    logging.getLogger("math_verify").setLevel(logging.ERROR)  # it warns that we time it out ourselves (the pool does)
    return math_verify


def reference_answer(response: str, reference: str | None, spec: dict[str, Any]) -> CheckOutcome:
    """The response's final answer equals the reference (numbers and expressions by
    math-verify; a short text reference by normalised match with the response's last line)."""
    if reference is None or not reference.strip():
        return CheckOutcome(None, "this check needs a reference answer on the item")
    math_verify = _math_verify()
    if math_verify is None:
        return CheckOutcome(None, f"this check needs the math-verify package: {install_hint('verify')}")
    gold = math_verify.parse(reference, parsing_timeout=None)
    if gold:
        answer = math_verify.parse(response, parsing_timeout=None)
        if not answer:
            return CheckOutcome(False, "checked in code: no final answer could be extracted from the response")
        met = math_verify.verify(gold, answer, timeout_seconds=None)
        return CheckOutcome(
            bool(met), f"checked in code: final answer {answer[-1]} {'=' if met else '!='} reference {gold[-1]}"
        )
    lines = [line for line in response.strip().splitlines() if line.strip()]
    last = _normalise(lines[-1]) if lines else ""
    met = bool(last) and f" {_normalise(reference)} " in f" {last} "
    return CheckOutcome(
        met, f"checked in code: reference {'found' if met else 'not found'} in the response's last line"
    )
