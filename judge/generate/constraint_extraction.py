"""Instruction text -> typed constraint specs that code can check (judge/checks/constraints.py).

Rules are written from how people phrase verifiable instructions ("at least 300 words",
"do not use any commas", "wrap your entire response with double quotation marks"). Each
rule reads the whole instruction or one sentence of it and returns specs; a sentence that
sounds like a constraint but no rule understood is returned as *unparsed*, so a model can
judge it instead (nothing is silently dropped).
"""

from __future__ import annotations

import re


from judge.generate import constraint_formats as formats, constraint_words as words
from judge.generate.constraint_phrases import CONSTRAINT_CUE, Extraction, sentences_of

__all__ = ["Extraction", "extract"]


SENTENCE_RULES = words.SENTENCE_RULES + formats.SENTENCE_RULES
TEXT_SENTENCE_RULES = words.TEXT_SENTENCE_RULES + formats.TEXT_SENTENCE_RULES
WHOLE_TEXT_RULES = formats.WHOLE_TEXT_RULES + words.WHOLE_TEXT_RULES


def extract(instruction: str) -> Extraction:
    """Typed constraint specs stated in the instruction, and the constraint-like sentences
    no rule understood."""
    found = Extraction()
    for rule in WHOLE_TEXT_RULES:
        rule(instruction, found)
    for sentence in sentences_of(instruction):
        hit = False
        for rule in SENTENCE_RULES:
            hit |= rule(sentence, found)
        for rule in TEXT_SENTENCE_RULES:
            hit |= rule(sentence, found, instruction)
        if (
            not hit
            and CONSTRAINT_CUE.search(sentence)
            and not re.search(r"\brepea?t|\b(?:end|finish)\b", sentence, re.IGNORECASE)
        ):
            found.unparsed.append(sentence)
    counted = {s["keyword"] for s in found.specs if s["type"] == "keywords:frequency"}
    found.specs = [s for s in found.specs if not (s["type"] == "keywords:existence" and s["keywords"][0] in counted)]
    if {"change_case:english_lowercase", "change_case:english_capital"} & found.types():
        found.specs = [
            s for s in found.specs if not (s["type"] == "language:response_language" and s["language"] == "en")
        ]
    return found
