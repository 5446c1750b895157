"""What a completion looks like, beyond whether it is right: the features a policy optimising
against a model judge tends to grow (Markdown, talk about the answer, repetition, length).

- ``markdown``: the completion uses Markdown (a heading, bold or italic, a bullet, code).
- ``filler``: the share of its sentences the guard reads as carrying no content
  (meta-discourse, labels, empty slots, bare formatting), the guard's own sentence reading.
- ``repeated``: the share of its word 3-grams that occur earlier in it.
- ``words``: its length in words.
"""

from __future__ import annotations

import re

from judge.hardening.guard import inspect

_MARKDOWN = re.compile(
    r"(?m)^\s{0,3}#{1,6}\s|\*\*[^*\n]+\*\*|__[^_\n]+__|^\s*[-*+]\s+\S|`[^`\n]+`|(?<!\*)\*[^*\s][^*\n]*\*"
)
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")


def features(text: str) -> dict[str, float | bool | int]:
    words = [w.casefold() for w in _WORD.findall(text)]
    grams = [tuple(words[i : i + 3]) for i in range(len(words) - 2)]
    seen: set[tuple[str, ...]] = set()
    repeats = 0
    for gram in grams:
        repeats += gram in seen
        seen.add(gram)
    sentences = inspect(text).sentences
    return {
        "markdown": bool(_MARKDOWN.search(text)),
        "filler": sum(s.role != "content" for s in sentences) / len(sentences) if sentences else 1.0,
        "repeated": repeats / len(grams) if grams else 0.0,
        "words": len(words),
    }


def summary(texts: list[str]) -> dict[str, float]:
    """The batch's features: the share with Markdown, and mean filler, repetition and words."""
    rows = [features(t) for t in texts]
    n = max(1, len(rows))
    return {
        "markdown_share": sum(bool(r["markdown"]) for r in rows) / n,
        "filler_mean": sum(float(r["filler"]) for r in rows) / n,
        "repeated_mean": sum(float(r["repeated"]) for r in rows) / n,
        "words_mean": sum(int(r["words"]) for r in rows) / n,
    }
