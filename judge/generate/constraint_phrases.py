"""How verifiable instructions phrase counts and relations ("at least 300", "5 or 6",
"twice", "N or less"), and what the constraint extractor collects: its shared vocabulary."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any


NUMBER_WORDS = {
    "zero": 0,
    "one": 1,
    "a single": 1,
    "single": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "hundred": 100,
    "a hundred": 100,
}
ORDINALS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
}
NUM = r"(?:\d[\d,]*|" + "|".join(sorted(NUMBER_WORDS, key=len, reverse=True)) + r")"
QUALIFIERS = [
    ("at least", r"at least|no less than|not less than|no fewer than|a minimum of|minimum of|at minimum"),
    (
        "at most",
        r"anything longer than|nothing longer than|at most|no more than|not more than|a maximum of|maximum of|up to|not exceed(?:ing)?|no longer than",
    ),
    ("less than", r"less than|fewer than|under|below"),
    ("more than", r"more than|over|greater than"),
    ("exactly", r"exactly|precisely|just|only"),
]
QUAL = "|".join(pattern for _, pattern in QUALIFIERS)
# "at least 300", "300+", "300 or more", "100 to 120", "5 or 6", "between 20 and 30", "in the range of 40 to 60"
COUNT = (
    rf"(?:(?P<qual>{QUAL})\s+(?:a total of\s+)?)?(?:between\s+|in the range of\s+)?(?P<n>{NUM})"
    rf"(?:\s*(?P<plus>\+)|\s+(?P<post>or more|or less|or fewer|or above|or below)|\s*(?:-|–|to|and|or)\s*(?P<m>{NUM}))?"
)
NEGATION = r"\b(?:no|not|n't|never|without|avoid|refrain|forbid|exclude|cannot)\b|n't\b"
CONSTRAINT_CUE = re.compile(
    r"\b(?:must|should|make sure|ensure|do not|don't|never|at least|at most|exactly|only|avoid|refrain|limit|"
    r"no more than|less than|wrap|format|include|end (?:with|your)|start (?:with|your)|separate|highlight)\b",
    re.IGNORECASE,
)


def to_number(text: str) -> int | None:
    text = text.strip().lower().replace(",", "")
    if text.isdigit():
        return int(text)
    return NUMBER_WORDS.get(text)


def relation_of(qualifier: str | None, default: str) -> str:
    if not qualifier:
        return default
    for relation, pattern in QUALIFIERS:
        if re.fullmatch(pattern, qualifier.lower()):
            return relation
    return default


def counts(match: re.Match[str], default: str) -> list[tuple[str, int]]:
    """(relation, number) pairs a COUNT match states; a range gives two."""
    n = to_number(match.group("n"))
    if n is None:
        return []
    if match.group("m"):
        m = to_number(match.group("m"))
        return [("at least", n), ("at most", m)] if m is not None and m > n else []
    if match.group("plus"):
        return [("at least", n)]
    post = (match.group("post") or "").lower()
    if post in ("or more", "or above"):
        return [("at least", n)]
    if post in ("or less", "or fewer", "or below"):
        return [("at most", n)]
    return [(relation_of(match.group("qual"), default), n)]


def sentences_of(text: str) -> list[str]:
    """The instruction's sentences (quoted text stays whole; list items split on their own lines)."""
    parts = re.split(r"(?<=[.!?])[\"”']?\s+(?=[A-Z\"“'(\[*<])|\n+", text)
    return [p.strip() for p in parts if p and p.strip()]


def quoted(text: str) -> list[str]:
    return [
        next(g for g in m.groups() if g is not None)
        for m in re.finditer(r"\"([^\"]+)\"|“([^”]+)”|”([^\"”]+)\"|(?<!\w)'([^']+)'(?!\w)|‘([^’]+)’", text)
    ]


ONCE = {
    "detectable_format:number_highlighted_sections",
    "detectable_format:number_bullet_lists",
    "detectable_content:number_placeholders",
    "detectable_content:postscript",
}


@dataclass
class Extraction:
    """What the extractor found: specs (each {"type": ..., params}) and the constraint-like
    sentences it could not turn into one."""

    specs: list[dict[str, Any]] = field(default_factory=list)
    unparsed: list[str] = field(default_factory=list)

    def add(self, kind: str, **params: Any) -> None:
        spec = {"type": kind, **params}
        if kind in ONCE and kind in self.types():
            return  # an example after the instruction ("i.e. *highlighted section*") restates it
        if spec not in self.specs:
            self.specs.append(spec)

    def types(self) -> set[str]:
        return {s["type"] for s in self.specs}


def count_rule(
    sentence: str,
    unit: str,
    kind: str,
    number_key: str,
    default: str,
    found: Extraction,
    relation_key: str = "relation",
) -> bool:
    hit = False
    for m in re.finditer(COUNT + rf"[\s-]*(?:{unit})\b(?P<after>[^.;]{{0,40}})", sentence, re.IGNORECASE):
        if re.search(r"\bnot\s*(?:a\s*)?$", sentence[: m.start()]):
            continue  # "not a single word ..."
        if unit.startswith("word") and re.search(r"capital|caps|upper", m.group("after"), re.IGNORECASE):
            continue  # "at least 3 words in all capital letters": a capital-word count
        after = re.match(r"\s*(?:long\s+)?(or more|or less|or fewer)", m.group("after"), re.IGNORECASE)
        stated = (
            [("at least" if after.group(1).lower() == "or more" else "at most", to_number(m.group("n")))]
            if after and not m.group("m")
            else counts(m, default)
        )
        for relation, n in stated:
            found.add(kind, **{relation_key: relation, number_key: n})
            hit = True
    return hit


def number_of_rule(sentence: str, unit: str, kind: str, number_key: str, found: Extraction) -> bool:
    """ "the total number of words ... should be 250 or more", "the number of sentences ... in the range of 40 to 60" """
    m = re.search(rf"number of (?:{unit})\b.*?(?:be|is|to)\s+" + COUNT, sentence, re.IGNORECASE)
    if not m or re.search(r"capital|caps", sentence, re.IGNORECASE):
        return False
    for relation, n in counts(m, "exactly"):
        found.add(kind, relation=relation, **{number_key: n})
    return True
