"""Instruction constraints that code verifies exactly (the IFEval families and a few more).

A criterion carries a spec such as ``{"type": "length_constraints:number_words",
"relation": "at least", "num_words": 300}``. Type names and parameter names are IFEval's,
so IFEval-style data turns into rubrics as is. Each check reads the response only (and the
spec): no model, nothing a response can talk its way past.

Definitions (written from what the instructions ask):
- a *word* is a run of letters or digits (``don't`` is two words);
- a *sentence* ends at ``.``, ``!`` or ``?`` followed by a space, or at a blank line; common
  abbreviations and initials do not end one (a verse line without a full stop does not);
- *paragraphs* are separated by the markdown divider ``***`` (IFEval's wording) or, with
  ``separator: blank_line``, by empty lines;
- a *bullet* is a line starting with ``*``, ``-`` or ``+`` and a space;
- a *highlighted section* is ``*text*`` or ``**text**`` on one line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from judge.checks.outcome import CheckOutcome
from judge.checks.text import (
    LANGUAGES,
    count_characters,
    count_words,
    detect_language,
    keyword_pattern,
    language_needed,
    split_paragraphs,
    split_sentences,
    strip_code_fence,
)
from rubrics.checks import NEEDS, RELATIONS as RELATION_NAMES, check_problem

RELATIONS = dict(
    zip(
        RELATION_NAMES,
        (
            lambda n, k: n < k,  # less than
            lambda n, k: n <= k,  # at most
            lambda n, k: n == k,  # exactly
            lambda n, k: n >= k,  # at least
            lambda n, k: n > k,  # more than
        ),
    )
)
ANSWER_OPTIONS = ("My answer is yes.", "My answer is no.", "My answer is maybe.")


def _compare(count: int, relation: str, target: int) -> bool:
    return RELATIONS[relation](count, target)


def _no_comma(text: str) -> tuple[bool, str]:
    n = text.count(",") + text.count("，")
    return n == 0, f"{n} comma(s)"


def _number_words(text: str, num_words: int, relation: str) -> tuple[bool, str]:
    n = count_words(text)
    return _compare(n, relation, num_words), f"{n} words"


def _number_characters(text: str, num_characters: int, relation: str) -> tuple[bool, str]:
    n = count_characters(text)
    return _compare(n, relation, num_characters), f"{n} characters (字)"


def _number_sentences(text: str, num_sentences: int, relation: str) -> tuple[bool, str]:
    n = len(split_sentences(text))
    return _compare(n, relation, num_sentences), f"{n} sentences"


def _number_paragraphs(
    text: str, num_paragraphs: int, relation: str = "exactly", separator: str = "***"
) -> tuple[bool, str]:
    n = len(split_paragraphs(text, separator))
    return _compare(n, relation, num_paragraphs), f"{n} paragraphs"


def _nth_paragraph_first_word(text: str, num_paragraphs: int, nth_paragraph: int, first_word: str) -> tuple[bool, str]:
    paragraphs = split_paragraphs(text, "blank_line")
    if len(paragraphs) != num_paragraphs:
        return False, f"{len(paragraphs)} paragraphs, not {num_paragraphs}"
    if not 1 <= nth_paragraph <= len(paragraphs):
        return False, f"no paragraph {nth_paragraph}"
    words = re.findall(r"\w+(?:'\w+)?", paragraphs[nth_paragraph - 1])
    seen = words[0] if words else ""
    return seen.lower() == first_word.lower(), f"paragraph {nth_paragraph} starts with {seen!r}"


def _keywords_exist(text: str, keywords: list[str]) -> tuple[bool, str]:
    missing = [k for k in keywords if not keyword_pattern(k).search(text)]
    return not missing, f"missing {missing}" if missing else "all keywords present"


def _forbidden_words(text: str, forbidden_words: list[str]) -> tuple[bool, str]:
    found = [w for w in forbidden_words if keyword_pattern(w).search(text)]
    return not found, f"uses {found}" if found else "no forbidden word"


def _keyword_frequency(text: str, keyword: str, frequency: int, relation: str) -> tuple[bool, str]:
    n = len(keyword_pattern(keyword).findall(text))
    return _compare(n, relation, frequency), f"{keyword!r} {n} time(s)"


def _letter_frequency(text: str, letter: str, let_frequency: int, let_relation: str) -> tuple[bool, str]:
    n = text.lower().count(letter.lower())
    return _compare(n, let_relation, let_frequency), f"letter {letter!r} {n} time(s)"


def _capital_word_frequency(text: str, capital_frequency: int, capital_relation: str) -> tuple[bool, str]:
    n = sum(word.isupper() for word in re.findall(r"\w+", text))
    return _compare(n, capital_relation, capital_frequency), f"{n} all-capital word(s)"


def _english_lowercase(text: str) -> tuple[bool, str]:
    language = detect_language(text)
    met = text.islower() and language == "en"
    return met, f"lowercase: {text.islower()}, language: {language}"


def _english_capital(text: str) -> tuple[bool, str]:
    language = detect_language(text)
    met = text.isupper() and language == "en"
    return met, f"all capitals: {text.isupper()}, language: {language}"


def _lowercase(text: str) -> tuple[bool, str]:
    return text.islower(), f"lowercase: {text.islower()}"


def _capitals(text: str) -> tuple[bool, str]:
    return text.isupper(), f"all capitals: {text.isupper()}"


def _response_language(text: str, language: str) -> tuple[bool, str]:
    seen = detect_language(text)
    return seen == language, f"language: {seen}"


def _json_format(text: str) -> tuple[bool, str]:
    try:
        json.loads(strip_code_fence(text))
    except ValueError as e:
        return False, f"not JSON ({str(e).splitlines()[0]})"
    return True, "valid JSON"


def _title(text: str) -> tuple[bool, str]:
    titles = [t for t in re.findall(r"<<([^\n]+?)>>", text) if t.strip()]
    return bool(titles), f"title {titles[0]!r}" if titles else "no <<title>>"


def _number_bullets(text: str, num_bullets: int, relation: str = "exactly") -> tuple[bool, str]:
    n = len(re.findall(r"^\s*[*\-+]\s+\S", text, re.MULTILINE))
    return _compare(n, relation, num_bullets), f"{n} bullet point(s)"


def _number_highlights(text: str, num_highlights: int, relation: str = "at least") -> tuple[bool, str]:
    spans = re.findall(r"\*\*([^\n*]+)\*\*", text) + re.findall(r"(?<!\*)\*([^\n*]+)\*(?!\*)", text)
    n = sum(bool(s.strip()) for s in spans)
    return _compare(n, relation, num_highlights), f"{n} highlighted section(s)"


def _multiple_sections(
    text: str, num_sections: int, section_spliter: str, relation: str = "at least"
) -> tuple[bool, str]:
    n = len(re.findall(re.escape(section_spliter.strip()) + r"\s*\d+", text))
    return _compare(n, relation, num_sections), f"{n} section(s) marked {section_spliter.strip()} X"


def _number_placeholders(text: str, num_placeholders: int, relation: str = "at least") -> tuple[bool, str]:
    n = len(re.findall(r"\[[^\]\n]*\]", text))
    return _compare(n, relation, num_placeholders), f"{n} placeholder(s)"


def _postscript(text: str, postscript_marker: str) -> tuple[bool, str]:
    # "P.S." also matches "P. S." and "P.S"; the marker starts a line (after markdown emphasis).
    marker = re.escape(postscript_marker.strip().rstrip("."))
    marker = marker.replace(r"\.", r"\.\s?") + r"\.?"
    found = re.search(r"^[\s*_>#]*" + marker, text, re.IGNORECASE | re.MULTILINE)
    return bool(found), "postscript found" if found else f"no line starting with {postscript_marker}"


def _constrained_response(text: str, options: list[str] = list(ANSWER_OPTIONS)) -> tuple[bool, str]:
    chosen = [o for o in options if o in text]
    return bool(chosen), f"answers {chosen[0]!r}" if chosen else "none of the allowed answers"


def _repeat_prompt(text: str, prompt_to_repeat: str) -> tuple[bool, str]:
    met = text.strip().lower().startswith(prompt_to_repeat.strip().lower())
    return met, "starts with the request" if met else "does not start with the request repeated"


def _start_phrase(text: str, start_phrase: str) -> tuple[bool, str]:
    met = text.strip().strip('"*').lower().startswith(start_phrase.strip().lower())
    return met, "starts with the phrase" if met else "does not start with the phrase"


def _end_phrase(text: str, end_phrase: str) -> tuple[bool, str]:
    met = text.strip().strip('"*').rstrip().lower().endswith(end_phrase.strip().lower())
    return met, "ends with the phrase" if met else "does not end with the phrase"


def _two_responses(text: str) -> tuple[bool, str]:
    parts = [p.strip() for p in text.split("******") if p.strip()]
    met = len(parts) == 2 and parts[0] != parts[1]
    return met, f"{len(parts)} response(s) separated by ******" + (
        " (identical)" if len(parts) == 2 and not met else ""
    )


def _quotation(text: str) -> tuple[bool, str]:
    text = text.strip()
    met = len(text) > 1 and ((text[0] == '"' and text[-1] == '"') or (text[0] == "“" and text[-1] == "”"))
    return met, "wrapped in double quotes" if met else "not wrapped in double quotes"


@dataclass(frozen=True)
class ConstraintType:
    id: str
    check: Callable[..., tuple[bool, str]]
    describe: Callable[..., str]  # the criterion text for a spec
    language: bool = False  # needs langdetect

    @property
    def needs(self) -> tuple[str, ...]:
        """Required parameters: the spec language's (rubrics/checks.py)."""
        return NEEDS[self.id]


def _rel(relation: str, n: Any, unit: str) -> str:
    return f"{relation} {n} {unit}"


TYPES: dict[str, ConstraintType] = {
    t.id: t
    for t in [
        ConstraintType("punctuation:no_comma", _no_comma, lambda **_: "The response contains no commas."),
        ConstraintType(
            "length_constraints:number_words",
            _number_words,
            lambda num_words, relation, **_: f"The response has {_rel(relation, num_words, 'words')}.",
        ),
        ConstraintType(
            "length_constraints:number_characters",
            _number_characters,
            lambda num_characters, relation, **_: (
                f"The response has {_rel(relation, num_characters, 'characters (字)')}."
            ),
        ),
        ConstraintType(
            "length_constraints:number_sentences",
            _number_sentences,
            lambda num_sentences, relation, **_: f"The response has {_rel(relation, num_sentences, 'sentences')}.",
        ),
        ConstraintType(
            "length_constraints:number_paragraphs",
            _number_paragraphs,
            lambda num_paragraphs, relation="exactly", separator="***", **_: (
                f"The response has {_rel(relation, num_paragraphs, 'paragraphs')}"
                + (
                    ", separated by blank lines."
                    if separator == "blank_line"
                    else ", separated by the markdown divider ***."
                )
            ),
        ),
        ConstraintType(
            "length_constraints:nth_paragraph_first_word",
            _nth_paragraph_first_word,
            lambda num_paragraphs, nth_paragraph, first_word, **_: (
                f"The response has exactly {num_paragraphs} paragraphs separated by blank lines, and paragraph {nth_paragraph} starts with the word '{first_word}'."
            ),
        ),
        ConstraintType(
            "keywords:existence",
            _keywords_exist,
            lambda keywords, **_: "The response includes the keywords " + ", ".join(repr(k) for k in keywords) + ".",
        ),
        ConstraintType(
            "keywords:forbidden_words",
            _forbidden_words,
            lambda forbidden_words, **_: (
                "The response does not use the words " + ", ".join(repr(w) for w in forbidden_words) + "."
            ),
        ),
        ConstraintType(
            "keywords:frequency",
            _keyword_frequency,
            lambda keyword, frequency, relation, **_: (
                f"The response uses the word '{keyword}' {_rel(relation, frequency, 'times')}."
            ),
        ),
        ConstraintType(
            "keywords:letter_frequency",
            _letter_frequency,
            lambda letter, let_frequency, let_relation, **_: (
                f"The response uses the letter '{letter}' {_rel(let_relation, let_frequency, 'times')}."
            ),
        ),
        ConstraintType(
            "change_case:capital_word_frequency",
            _capital_word_frequency,
            lambda capital_frequency, capital_relation, **_: (
                f"The response has words in all capital letters {_rel(capital_relation, capital_frequency, 'times')}."
            ),
        ),
        ConstraintType(
            "change_case:english_lowercase",
            _english_lowercase,
            lambda **_: "The response is in English and entirely in lowercase letters.",
            language=True,
        ),
        ConstraintType(
            "change_case:english_capital",
            _english_capital,
            lambda **_: "The response is in English and entirely in capital letters.",
            language=True,
        ),
        ConstraintType(
            "change_case:lowercase", _lowercase, lambda **_: "The response is entirely in lowercase letters."
        ),
        ConstraintType("change_case:capital", _capitals, lambda **_: "The response is entirely in capital letters."),
        ConstraintType(
            "language:response_language",
            _response_language,
            lambda language, **_: f"The response is written in {LANGUAGES.get(language, language)}.",
            language=True,
        ),
        ConstraintType(
            "detectable_format:json_format",
            _json_format,
            lambda **_: "The entire response is valid JSON (a markdown code fence is allowed).",
        ),
        ConstraintType(
            "detectable_format:title",
            _title,
            lambda **_: "The response has a title wrapped in double angular brackets, like <<title>>.",
        ),
        ConstraintType(
            "detectable_format:number_bullet_lists",
            _number_bullets,
            lambda num_bullets, relation="exactly", **_: (
                f"The response has {_rel(relation, num_bullets, 'markdown bullet points')}."
            ),
        ),
        ConstraintType(
            "detectable_format:number_highlighted_sections",
            _number_highlights,
            lambda num_highlights, relation="at least", **_: (
                f"The response highlights {_rel(relation, num_highlights, 'sections')} with markdown, like *highlighted section*."
            ),
        ),
        ConstraintType(
            "detectable_format:multiple_sections",
            _multiple_sections,
            lambda num_sections, section_spliter, relation="at least", **_: (
                f"The response has {_rel(relation, num_sections, 'sections')}, each marked '{section_spliter} X'."
            ),
        ),
        ConstraintType(
            "detectable_format:constrained_response",
            _constrained_response,
            lambda options=ANSWER_OPTIONS, **_: (
                "The response answers with one of: " + " / ".join(f"'{o}'" for o in options)
            ),
        ),
        ConstraintType(
            "detectable_content:number_placeholders",
            _number_placeholders,
            lambda num_placeholders, relation="at least", **_: (
                f"The response has {_rel(relation, num_placeholders, 'placeholders in square brackets')}, like [address]."
            ),
        ),
        ConstraintType(
            "detectable_content:postscript",
            _postscript,
            lambda postscript_marker, **_: f"The response ends with a postscript starting with {postscript_marker}.",
        ),
        ConstraintType(
            "combination:repeat_prompt",
            _repeat_prompt,
            lambda prompt_to_repeat, **_: "The response first repeats the request word for word, then answers.",
        ),
        ConstraintType(
            "combination:two_responses",
            _two_responses,
            lambda **_: "The response gives two different answers separated by six asterisks ******.",
        ),
        ConstraintType(
            "startend:start_checker",
            _start_phrase,
            lambda start_phrase, **_: f"The response starts with the phrase '{start_phrase}'.",
        ),
        ConstraintType(
            "startend:end_checker",
            _end_phrase,
            lambda end_phrase, **_: f"The response ends with the exact phrase '{end_phrase}', with nothing after it.",
        ),
        ConstraintType(
            "startend:quotation", _quotation, lambda **_: "The entire response is wrapped in double quotation marks."
        ),
    ]
}


def spec_problem(spec: dict[str, Any]) -> str | None:
    """What is wrong with a constraint spec, or None if it can be checked."""
    if spec.get("type") not in TYPES:
        return f"unknown constraint type {spec.get('type')!r}"
    return check_problem(spec)


def parameters(spec: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in spec.items() if k != "type" and v is not None}


def describe(spec: dict[str, Any]) -> str:
    """The yes/no criterion text a spec stands for."""
    return TYPES[spec["type"]].describe(**parameters(spec))


def check_constraint(response: str, reference: str | None, spec: dict[str, Any]) -> CheckOutcome:
    """The engine's entry point: met / not met, with what was seen; None when the spec is
    unusable or a needed package is missing."""
    problem = spec_problem(spec)
    kind = TYPES.get(spec.get("type", ""))
    if problem is None and kind is not None and kind.language:
        problem = language_needed()
    if problem is not None or kind is None:
        return CheckOutcome(None, f"constraint not checkable: {problem}")
    try:
        met, seen = kind.check(response, **parameters(spec))
    except (TypeError, ValueError) as e:  # a parameter of the wrong type
        return CheckOutcome(None, f"constraint not checkable: {kind.id}: {e}")
    return CheckOutcome(met, f"checked in code: {seen}")
