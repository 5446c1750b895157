"""The check-spec language: what a criterion's ``check`` may say (pure data, no checking).

A criterion decided in code carries ``check: {"type": ..., ...parameters}``. This module
knows every type and the parameters it needs, so a rubric with a typo'd type or a missing
parameter is refused when it is loaded; ``judge/checks/`` holds the code that decides each
type (and a test keeps the two in step). Constraint types and parameter names are IFEval's,
so IFEval-style data turns into rubrics as is.
"""

from __future__ import annotations

from typing import Any

RELATIONS = ("less than", "at most", "exactly", "at least", "more than")
RELATION_PARAMS = ("relation", "let_relation", "capital_relation")

# the check types that compare the response with the item's reference answer
READS_REFERENCE = frozenset({"reference_answer"})


def reads_reference(criteria: Any) -> list[str]:
    """The ids of the criteria whose check needs the item's reference answer."""
    return [c.id for c in criteria if c.check is not None and c.check.get("type") in READS_REFERENCE]


# type -> required parameters
NEEDS: dict[str, tuple[str, ...]] = {
    "reference_answer": (),  # the item's reference answer is compared with the response's final answer
    "nugget_match": (),  # the criterion's text is the nugget; every kind: nugget criterion gets it by default
    "punctuation:no_comma": (),
    "length_constraints:number_words": ("num_words", "relation"),
    "length_constraints:number_characters": ("num_characters", "relation"),
    "length_constraints:number_sentences": ("num_sentences", "relation"),
    "length_constraints:number_paragraphs": ("num_paragraphs",),
    "length_constraints:nth_paragraph_first_word": ("num_paragraphs", "nth_paragraph", "first_word"),
    "keywords:existence": ("keywords",),
    "keywords:forbidden_words": ("forbidden_words",),
    "keywords:frequency": ("keyword", "frequency", "relation"),
    "keywords:letter_frequency": ("letter", "let_frequency", "let_relation"),
    "change_case:capital_word_frequency": ("capital_frequency", "capital_relation"),
    "change_case:english_lowercase": (),
    "change_case:english_capital": (),
    "change_case:lowercase": (),
    "change_case:capital": (),
    "language:response_language": ("language",),
    "detectable_format:json_format": (),
    "detectable_format:title": (),
    "detectable_format:number_bullet_lists": ("num_bullets",),
    "detectable_format:number_highlighted_sections": ("num_highlights",),
    "detectable_format:multiple_sections": ("num_sections", "section_spliter"),
    "detectable_format:constrained_response": (),
    "detectable_content:number_placeholders": ("num_placeholders",),
    "detectable_content:postscript": ("postscript_marker",),
    "combination:repeat_prompt": ("prompt_to_repeat",),
    "combination:two_responses": (),
    "startend:start_checker": ("start_phrase",),
    "startend:end_checker": ("end_phrase",),
    "startend:quotation": (),
}


def check_problem(check: dict[str, Any]) -> str | None:
    """What makes a check spec unusable (unknown type, missing or bad parameters), or None.
    A criterion meant to be decided in code must never fall back to the model in silence:
    a typo would make it attackable again."""
    kind = check.get("type")
    if kind not in NEEDS:
        return f"unknown check type {kind!r}; known: {', '.join(sorted(NEEDS))}"
    missing = [name for name in NEEDS[kind] if check.get(name) in (None, "", [])]
    if missing:
        return f"{kind} needs {', '.join(missing)}"
    bad = [check[name] for name in RELATION_PARAMS if name in check and check[name] not in RELATIONS]
    if bad:
        return f"unknown relation {bad[0]!r} (one of: {', '.join(RELATIONS)})"
    return None


def validate_checks(rubric: Any) -> Any:
    """The rubric itself, or ValueError naming the first criterion whose check is unusable."""
    for criterion in rubric.criteria:
        if criterion.check is not None and (problem := check_problem(criterion.check)) is not None:
            raise ValueError(f"rubric {rubric.id!r}, criterion {criterion.id!r}: {problem}")
    return rubric
