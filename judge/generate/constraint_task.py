"""The task an instruction asks for, without its formatting constraints, and the criterion
that asks whether a response does it.

A rubric of constraints alone can be met without doing the task: "write an article about
tea that ends with 'Is there anything else?'" is fully met by the phrase alone, and a GRPO
policy trained on such rubrics learnt exactly that. Every published recipe that avoids it
adds a task term (RLCF's "directly addresses the request" at the top weight, IFDecorator's
intent check on the instruction with its constraints stripped, IFBench's quality term once
the constraints pass). Here it is one model-judged criterion, shown the request with the
sentences and clauses that only constrain the form taken out.
"""

from __future__ import annotations

import re

from judge.generate.constraint_phrases import CONSTRAINT_CUE, sentences_of
from judge.hardening.surface import TASK_TAG
from rubrics.model import Criterion

TASK_ID = "task"
# A sentence that asks for something: it stays even when it also states a constraint
# ("Write a 300+ word essay about tea"), which the clause rules below take out of it.
_ASKS = re.compile(
    r"^\W*(?:please\s+)?(?:write|compose|create|draft|generate|produce|explain|describe|summari[sz]e|list|tell|"
    r"give|provide|plan|design|suggest|recommend|translate|rewrite|rephrase|name|help|find|imagine|pretend|act|"
    r"compare|outline|propose|prepare|brainstorm|come up|can|could|would|will|what|how|why|who|where|when|which|"
    r"is|are|do you|does (?:it|this|that|the)|i\b|i'm|my|we|our|as a)\b",
    re.IGNORECASE,
)
# Phrasings that only constrain the form: a sentence made of one is left out whole.
_FORM = re.compile(
    r"\b(?:end|ends|ending|finish|start|begin|wrap|repeat|quot\w*|comma\w*|capital\w*|lowercase|uppercase|allowed|"
    r"highlight\w*|bullet|paragraphs?|sections?|words?|sentences?|letters?|characters?|json|title|"
    r"postscript|p\.s\.|placeholders?|language|format\w*|markdown)\b",
    re.IGNORECASE,
)
_COUNT = r"(?:at least|at most|exactly|no more than|no less than|not more than|fewer than|less than|more than|over|under|only)"
_UNIT = r"(?:words?|sentences?|paragraphs?|bullet points?|bullets?|characters?|letters?|sections?|lines?)"
_CLAUSES = [  # clauses inside an asking sentence that only constrain the form
    r",?\s*(?:and\s+)?(?:that|which)?\s*(?:ends?|ending|finish(?:es|ing)?|starts?|starting|begins?|beginning)\s+"
    r"(?:it\s+|your (?:response|answer)\s+)?with\b.*$",
    rf"\b(?:in|with|using)?\s*{_COUNT}\s+\w+\s+{_UNIT}\b",
    rf"\b\d+\+?[- ]{_UNIT}\b",
    r",?\s*(?:written\s+)?(?:in|using)\s+all\s+(?:lowercase|capital|uppercase)(?:\s+letters?)?",
    r",?\s*(?:and\s+)?without\s+(?:using\s+)?(?:any\s+)?commas?",
    r",?\s*(?:and\s+)?(?:wrapped|wrap it|enclosed)\s+in\s+(?:double\s+)?quot\w*(?:\s+marks?)?",
]


def task_request(instruction: str) -> str:
    """The instruction without what only constrains the response's form: sentences that state
    a constraint and ask for nothing, and constraint clauses inside the sentences that ask.
    The first sentence stays if nothing else would."""
    sentences = sentences_of(instruction)
    kept = []
    for sentence in sentences:
        constrains = CONSTRAINT_CUE.search(sentence) or _FORM.search(sentence)
        if constrains and not _ASKS.search(sentence):
            continue
        for clause in _CLAUSES:
            sentence = re.sub(clause, "", sentence, flags=re.IGNORECASE)
        sentence = re.sub(r"\s+([,.;:!?])", r"\1", " ".join(sentence.split())).strip(" ,;:")
        if sentence:
            kept.append(sentence if sentence[-1] in ".!?\"”'" else f"{sentence}.")
    return " ".join(kept) or (sentences[0] if sentences else instruction.strip())


def task_criterion(instruction: str, weight: float, *, gate: bool = True) -> Criterion:
    """Does the response do what the request asks (its form aside)? A hard rule by default, so
    that meeting every formatting constraint without doing the task fails the gate; ``gate``
    False makes it a weighted principle. Its weight should dominate the constraints'."""
    return Criterion(
        id=TASK_ID,
        text=f"Whatever its form, the response does what this request asks: {task_request(instruction)}",
        kind="hard_rule" if gate else "principle",
        weight=weight,
        tags=[TASK_TAG],
    )
