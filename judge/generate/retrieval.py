"""Passages for nugget construction: a static corpus searched with BM25 (bm25s), an optional
embedding re-rank, and one small protocol any web-search provider can implement.

    corpus = StaticCorpus.load("docs/")          # a folder of .txt/.md files, or a JSONL of documents
    hits = await corpus.search("who won the 2019 final", k=5)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from rubrics.records import LoadReport, read_records
from judge.embeddings import Embedder

TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".rst"}
TEXT_FIELDS = ("text", "contents", "content", "body", "passage")


@dataclass(frozen=True)
class Passage:
    id: str  # "<document>#<chunk>"
    text: str
    title: str = ""


@runtime_checkable
class PassageSource(Protocol):
    """Anything that answers a query with passages: the static corpus, or a web-search
    provider (implement ``search``; nothing in the toolkit calls a provider by itself)."""

    async def search(self, query: str, k: int) -> list[Passage]: ...


def chunk(text: str, max_words: int = 150) -> list[str]:
    """Paragraphs packed into chunks of at most ``max_words`` words (a longer paragraph is
    split at sentence ends, then hard at the limit)."""
    pieces: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        words = paragraph.split()
        if not words:
            continue
        if len(words) <= max_words:
            pieces.append(" ".join(words))
            continue
        current: list[str] = []
        for sentence in re.split(r"(?<=[.!?])\s+", " ".join(words)):
            if current and len(current) + len(sentence.split()) > max_words:
                pieces.append(" ".join(current))
                current = []
            current += sentence.split()
            while len(current) > max_words:
                pieces.append(" ".join(current[:max_words]))
                current = current[max_words:]
        if current:
            pieces.append(" ".join(current))
    chunks: list[str] = []
    for piece in pieces:  # pack short paragraphs together
        if chunks and len(chunks[-1].split()) + len(piece.split()) <= max_words:
            chunks[-1] += "\n" + piece
        else:
            chunks.append(piece)
    return chunks


def read_documents(path: Path, report: LoadReport) -> list[tuple[str, str, str]]:
    """(id, title, text) of every readable document; unreadable ones are counted and skipped."""
    documents = []
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES)
        for file in files:
            report.read += 1
            try:
                text = file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as e:
                report.skip(f"unreadable file ({type(e).__name__})", str(file), None, str(e))
                continue
            if not text.strip():
                report.skipped["empty document"] += 1
                continue
            documents.append((str(file.relative_to(path)), file.stem, text))
        return documents
    for number, record in read_records(path):
        report.read += 1
        if isinstance(record, Exception):
            report.skip(str(record), str(path), number)
            continue
        text = (
            next((record[k] for k in TEXT_FIELDS if isinstance(record.get(k), str)), None)
            if isinstance(record, dict)
            else None
        )
        if text is None:
            report.skip(f"no text field ({' / '.join(TEXT_FIELDS)})", str(path), number, "no text field")
            continue
        if not text.strip():
            report.skipped["empty document"] += 1
            continue
        doc_id = str(record.get("id", record.get("docid", f"{path.stem}-{number}")))
        documents.append((doc_id, str(record.get("title", "")), text))
    return documents


class StaticCorpus:
    """Chunked documents behind a BM25 index, optionally re-ranked by embeddings."""

    def __init__(self, passages: list[Passage], embed: Embedder | None = None, rerank_depth: int = 30):
        import bm25s

        if not passages:
            raise ValueError("the corpus has no text to search")
        self.passages = passages
        self.embed = embed
        self.rerank_depth = rerank_depth
        self._index = bm25s.BM25()
        self._index.index(
            bm25s.tokenize([p.title + "\n" + p.text for p in passages], stopwords="en", show_progress=False),
            show_progress=False,
        )

    @classmethod
    def load(
        cls, path: str | Path, report: LoadReport | None = None, *, max_words: int = 150, embed: Embedder | None = None
    ) -> StaticCorpus:
        path = Path(path)
        report = report if report is not None else LoadReport()
        if not path.exists():
            raise ValueError(f"{path}: no such corpus file or folder")
        passages = [
            Passage(f"{doc_id}#{number}", text, title)
            for doc_id, title, document in read_documents(path, report)
            for number, text in enumerate(chunk(document, max_words))
        ]
        if not passages:
            raise ValueError(f"{path}: the corpus has no readable text ({report.describe()})")
        return cls(passages, embed)

    def _bm25(self, query: str, k: int) -> list[tuple[int, float]]:
        import bm25s

        tokens = bm25s.tokenize([query], stopwords="en", show_progress=False)
        if not tokens.vocab:
            return []
        k = min(k, len(self.passages))
        indices, scores = self._index.retrieve(tokens, k=k, show_progress=False)
        return [(int(i), float(s)) for i, s in zip(indices[0], scores[0]) if s > 0]

    async def search(self, query: str, k: int) -> list[Passage]:
        hits = self._bm25(query, max(k, self.rerank_depth) if self.embed else k)
        if not hits:
            return []
        if self.embed is not None and len(hits) > 1:
            vectors = self.embed([query] + [self.passages[i].text for i, _ in hits])
            similarity = vectors[1:] @ vectors[0]
            hits = [hits[j] for j in np.argsort(-similarity, kind="stable")]
        return [self.passages[i] for i, _ in hits[:k]]


def deduplicate(passages: list[Passage]) -> list[Passage]:
    """Drop repeats: the same passage id, or the same text up to case and spacing."""
    seen_ids, seen_texts, kept = set(), set(), []
    for passage in passages:
        key = " ".join(passage.text.lower().split())
        if passage.id in seen_ids or key in seen_texts:
            continue
        seen_ids.add(passage.id)
        seen_texts.add(key)
        kept.append(passage)
    return kept
