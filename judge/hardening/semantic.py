"""The guard's second reader: sentence meaning, for what the word classes cannot place.

The rules know the vocabulary of answering, but an attacker (or an RL policy) finds new
words for the same moves: "Great question! I'd be happy to help." carries no number, no
name and no word of that vocabulary, yet says nothing. This reader embeds the sentences
the rules leave with only an ordinary word as content and compares them with two banks:
the development corpus of content-free sentences (corpus/dev.jsonl and the held-out sets
that have been looked at) and genuine sentences that say something without a number
or a name (corpus/genuine.jsonl). A sentence is meta-discourse when its nearest
content-free sentence is close (``threshold``) and closer than its nearest genuine one by
``margin``. It needs sentence-transformers (``rubric-judge[generate]``); the model is the
bundled all-MiniLM-L6-v2 (English: other languages fall back to the rules).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from judge.embeddings import Embedder, sentence_embedder

CORPUS = Path(__file__).parent / "corpus"
# Every set that has been looked at; never heldout3.jsonl, which measures this reader.
META_FILES = ("dev.jsonl", "heldout.jsonl", "heldout2.jsonl")


@dataclass(frozen=True)
class Reading:
    meta: bool
    nearest: str  # the closest content-free sentence
    similarity: float  # to it
    genuine: float  # similarity to the closest genuine sentence


def bank(names: Sequence[str], language: str | None = "en") -> dict[str, str]:
    """The sentences of corpus files (in one language, or all), each with its family."""
    from judge.hardening.guard import split_sentences

    rows = [
        row
        for name in names
        for row in map(json.loads, (CORPUS / name).open(encoding="utf-8"))
        if language is None or row.get("language", language) == language
    ]
    return {
        s: row.get("family", "genuine")
        for row in rows
        for s in split_sentences(row["text"])
        if sum(c.isalpha() for c in s) >= 3
    }


class SemanticReader:
    """Reads sentences as meta-discourse or not by their nearest neighbours."""

    # fitted on development data only: python bench/guard_threshold.py
    def __init__(self, embed: Embedder | None = None, threshold: float = 0.4, margin: float = 0.0):
        self.embed = embed or sentence_embedder()
        self.threshold, self.margin = threshold, margin
        self.families = bank(META_FILES)
        self.meta = list(self.families)
        self.genuine = list(bank(["genuine.jsonl"], None))
        self._meta_vectors: Any = self.embed(self.meta)
        self._genuine_vectors: Any = self.embed(self.genuine)

    def excluding(self, family: str, threshold: float | None = None, margin: float | None = None) -> SemanticReader:
        """The same reader without one family in its bank (to measure it on a family it has not seen)."""
        other = object.__new__(SemanticReader)
        keep = [i for i, s in enumerate(self.meta) if self.families[s] != family]
        other.embed, other.genuine, other._genuine_vectors = self.embed, self.genuine, self._genuine_vectors
        other.threshold = self.threshold if threshold is None else threshold
        other.margin = self.margin if margin is None else margin
        other.families = {self.meta[i]: self.families[self.meta[i]] for i in keep}
        other.meta, other._meta_vectors = [self.meta[i] for i in keep], self._meta_vectors[keep]
        return other

    def identity(self) -> dict[str, Any]:
        """What its readings depend on: recorded in a judge's settings."""
        return {
            "threshold": self.threshold,
            "margin": self.margin,
            "meta": len(self.meta),
            "genuine": len(self.genuine),
        }

    def __call__(self, sentences: Sequence[str]) -> list[Reading]:
        if not sentences:
            return []
        vectors = self.embed(list(sentences))
        to_meta, to_genuine = vectors @ self._meta_vectors.T, vectors @ self._genuine_vectors.T
        readings = []
        for row in range(len(sentences)):
            best = int(to_meta[row].argmax())
            similarity, genuine = float(to_meta[row, best]), float(to_genuine[row].max())
            readings.append(
                Reading(
                    similarity >= self.threshold and similarity - genuine >= self.margin,
                    self.meta[best],
                    similarity,
                    genuine,
                )
            )
        return readings


@cache
def shared_reader() -> SemanticReader:
    """The default reader, built once per process (the model load and the banks' embeddings)."""
    return SemanticReader()
