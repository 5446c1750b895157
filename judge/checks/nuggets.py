"""``kind: nugget`` criteria matched in code first: is this fact in the response?

A nugget's numbers and names are its anchors: a fact with another number, date, place or
person is another fact. So a nugget counts as **present** when every anchor is in the
response and at most ``missing`` (1) of its other content words are not; as **absent**
when fewer than ``absent`` (40%) of its content words are there; in between the matcher
is unsure and the engine asks the judge model (support / partial support / not,
judge/nuggets.py). So most nuggets cost no model call, and the ones that do are the ones
code cannot tell (a paraphrase, an anchor said another way).

Content words: lower-cased runs of letters and digits without stop words or single
letters (the ``s`` of ``Men's``), Snowball-stemmed (``arrested``/``arrest``); thousands
separators dropped (``40,000`` = ``40000``) and number words up to ten written as digits
(``two parrots`` = ``2 parrots``). Anchors: content words with a digit, and capitalised
words after the nugget's first word. On RoSE each of these rules raised the agreement
with human nugget judgements (bench/rose_nuggets.py).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import snowballstemmer

from judge.checks.outcome import CheckOutcome

MISSING, ABSENT = 1, 0.4
STOPWORDS = frozenset(
    "a an the of to in on at for from by with and or but is are was were be been being it its this that these those "
    "as he she they them his her their we our you your i me my not no do does did has have had will would can could "
    "should may might must there here than then so such into over about after before also who whom which what when where".split()
)
NUMBER_WORDS = {
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
    "first": "1st",
    "second": "2nd",
    "third": "3rd",
}
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_WORD = re.compile(r"[A-Za-z0-9]+")


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    return snowballstemmer.stemmer("english")


def _words(text: str) -> list[str]:
    return _WORD.findall(_THOUSANDS.sub("", text))


def _content(words: list[str]) -> list[str]:
    kept = [
        NUMBER_WORDS.get(w, w)
        for w in (w.lower() for w in words)
        if w not in STOPWORDS and not (len(w) == 1 and w.isalpha())
    ]
    return _stemmer().stemWords(kept)


def content_tokens(text: str) -> list[str]:
    return _content(_words(text))


def anchors(nugget: str) -> set[str]:
    """The nugget's numbers and names: content words with a digit, and capitalised words
    after its first word (the first is capitalised anyway)."""
    words = _words(nugget)
    marked = [w for i, w in enumerate(words) if any(c.isdigit() for c in w) or (i > 0 and w[0].isupper())]
    return set(_content(marked))


def nugget_match(response: str, reference: str | None, spec: dict[str, Any]) -> CheckOutcome:
    """Present, absent, or unsure (``defer``: ask the judge). The engine passes the
    criterion's text as ``spec["nugget"]``; ``missing`` and ``absent`` may move the bounds."""
    nugget = spec.get("nugget")
    if not isinstance(nugget, str) or not nugget.strip():
        return CheckOutcome(None, "a nugget check needs the nugget's text")
    tokens = content_tokens(nugget)
    if not tokens:
        return CheckOutcome(None, "nugget matcher unsure: the nugget has no content word", defer=True)
    have = set(content_tokens(response))
    lacking = sorted({t for t in tokens if t not in have})
    lost_anchors = sorted(anchors(nugget) - have)
    share = 1 - sum(t not in have for t in tokens) / len(tokens)
    allowed, absent = spec.get("missing", MISSING), spec.get("absent", ABSENT)
    if isinstance(allowed, bool) or not isinstance(allowed, int) or allowed < 0:
        return CheckOutcome(None, f"nugget check: 'missing' must be a whole number of words >= 0, got {allowed!r}")
    if isinstance(absent, bool) or not isinstance(absent, (int, float)) or not 0 <= absent <= 1:
        return CheckOutcome(None, f"nugget check: 'absent' must be a share within [0, 1], got {absent!r}")
    seen = f"{share:.0%} of the nugget's content words are in the response"
    if not lost_anchors and len(lacking) <= allowed:
        return CheckOutcome(True, f"checked in code: {seen}" + (f" (not: {', '.join(lacking)})" if lacking else ""))
    if share < absent:
        return CheckOutcome(False, f"checked in code: only {seen}")
    why = f"its numbers or names {', '.join(lost_anchors)} are not" if lost_anchors else f"{', '.join(lacking)} are not"
    return CheckOutcome(None, f"nugget matcher unsure ({seen}; {why}): asked the judge", defer=True)
