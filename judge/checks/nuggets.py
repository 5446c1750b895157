"""``kind: nugget`` criteria matched in code first: is this fact in the response?

A nugget counts as present when at least ``support`` (0.7) of its content words appear in
the response, and as absent below ``absent`` (0.4); between the two the matcher is unsure
and the engine asks the judge model (support / partial support / not, judge/nuggets.py).
So most nuggets cost no model call, and the ones that do are the ones code cannot tell.

Content words: lower-cased runs of letters and digits without stop words or single
letters (the ``s`` of ``Men's``), Snowball-stemmed (``arrested``/``arrest``,
``climbs``/``climbed``); thousands separators dropped (``40,000`` = ``40000``) and number
words up to ten written as digits (``two parrots`` = ``2 parrots``). On RoSE each of these
raised the agreement with human nugget judgements (bench/rose_nuggets.py).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import snowballstemmer

from judge.checks.outcome import CheckOutcome

SUPPORT, ABSENT = 0.7, 0.4
STOPWORDS = frozenset(
    "a an the of to in on at for from by with and or but is are was were be been being it its this that these those "
    "as he she they them his her their we our you your i me my not no do does did has have had will would can could "
    "should may might must there here than then so such into over about after before also who whom which what when where".split()
)
NUMBER_WORDS = {
    "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
    "ten": "10", "first": "1st", "second": "2nd", "third": "3rd",
}
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_WORD = re.compile(r"[a-z0-9]+")


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    return snowballstemmer.stemmer("english")


def content_tokens(text: str) -> list[str]:
    words = _WORD.findall(_THOUSANDS.sub("", text.lower()))
    kept = [NUMBER_WORDS.get(w, w) for w in words if w not in STOPWORDS and not (len(w) == 1 and w.isalpha())]
    return _stemmer().stemWords(kept)


def nugget_share(response: str, nugget: str) -> float | None:
    """The share of the nugget's content words the response has (None: it has none)."""
    tokens = content_tokens(nugget)
    if not tokens:
        return None
    have = set(content_tokens(response))
    return sum(t in have for t in tokens) / len(tokens)


def nugget_match(response: str, reference: str | None, spec: dict[str, Any]) -> CheckOutcome:
    """Present, absent, or unsure (``defer``: ask the judge). The engine passes the
    criterion's text as ``spec["nugget"]``; ``support`` and ``absent`` may move the bounds."""
    nugget = spec.get("nugget")
    if not isinstance(nugget, str) or not nugget.strip():
        return CheckOutcome(None, "a nugget check needs the nugget's text")
    share = nugget_share(response, nugget)
    if share is None:
        return CheckOutcome(None, "nugget matcher unsure: the nugget has no content word", defer=True)
    support, absent = float(spec.get("support", SUPPORT)), float(spec.get("absent", ABSENT))
    seen = f"{share:.0%} of the nugget's content words are in the response"
    if share >= support:
        return CheckOutcome(True, f"checked in code: {seen}")
    if share < absent:
        return CheckOutcome(False, f"checked in code: only {seen}")
    return CheckOutcome(None, f"nugget matcher unsure ({seen}): asked the judge", defer=True)
