"""Nugget-as-rubric (Search-Gen-V): build a question's nuggets from retrieved passages, and
verify which nuggets a response contains.

Construction: question -> search queries (LLM; the question itself if that fails) ->
passages from a PassageSource, de-duplicated -> candidate nuggets (LLM; atomic,
self-contained, each citing its passage, vital or okay) -> near-duplicates merged by
embedding similarity -> a rubric of ``kind: nugget`` criteria. A question with no passage
gets no rubric: its outcome says "no evidence" (nothing is invented).

Verification: each nugget is labelled support / partial_support / not_support for a
response, many nuggets per model call; a long response is cut into chunks and a nugget
keeps its best label over them. Score = weighted nugget recall, partial counting
``partial`` (0.5). ``EmbeddedMatcher`` labels without a language model (lexical overlap
plus sentence-embedding similarity): a cheap first pass, or the whole verifier.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from judge.backends.base import Backend, GenerationError
from judge.checks.nuggets import content_tokens
from rubrics.generate.retrieval import Embedder, Passage, PassageSource, deduplicate
from rubrics.generate.run import PairOutcome, clean_criteria, generate_structured, render
from rubrics.model import Criterion, Provenance, Rubric
from rubrics.records import LoadReport, load_records, text_record

Label = Literal["support", "partial_support", "not_support"]
LABEL_RANK = {"not_support": 0, "partial_support": 1, "support": 2}
WEIGHTS = {"vital": 1.0, "okay": 0.5}  # TREC RAG's convention: an okay nugget counts half


@dataclass(frozen=True)
class Question:
    id: str
    text: str


def _question(record: Any, default_id: str) -> Question:
    question_id, text = text_record(record, default_id, ("question", "query", "prompt", "text"), ("id", "qid"), "question")
    return Question(question_id, text.strip())


def load_questions(path: Any, report: LoadReport | None = None) -> list[Question]:
    if report is not None:
        report.unit = "questions"
    return list(load_records(path, report, _question))


class Queries(BaseModel):
    queries: list[str]


class ExtractedNugget(BaseModel):
    text: str = Field(min_length=1)
    passage: int
    importance: Literal["vital", "okay"] = "okay"


class ExtractedNuggets(BaseModel):
    short_form: bool = False
    nuggets: list[ExtractedNugget]


@dataclass
class NuggetSettings:
    max_queries: int = 3
    passages_per_query: int = 4
    max_passages: int = 8
    max_nuggets: int = 12
    merge_threshold: float = 0.85  # cosine above which two nuggets are the same fact
    weighted: bool = True  # vital 1, okay 0.5; False: every nugget 1
    reasks: int = 2


def merge_near_duplicates(nuggets: list[ExtractedNugget], passages: list[Passage], embed: Embedder | None, threshold: float) -> list[tuple[ExtractedNugget, list[str]]]:
    """Nuggets with their cited passage ids; a nugget too similar to an earlier one folds
    into it (its passage is added; vital wins over okay)."""
    kept: list[tuple[ExtractedNugget, list[str]]] = []
    vectors = embed([n.text for n in nuggets]) if embed is not None and nuggets else None
    kept_rows: list[int] = []
    for row, nugget in enumerate(nuggets):
        source = passages[nugget.passage - 1].id
        same = None
        for slot, earlier in enumerate(kept_rows):
            exact = " ".join(nugget.text.lower().split()) == " ".join(nuggets[earlier].text.lower().split())
            if exact or (vectors is not None and float(vectors[row] @ vectors[earlier]) >= threshold):
                same = slot
                break
        if same is None:
            kept.append((nugget, [source]))
            kept_rows.append(row)
            continue
        first, sources = kept[same]
        if nugget.importance == "vital" and first.importance != "vital":
            first = first.model_copy(update={"importance": "vital"})
        kept[same] = (first, sources + [source] if source not in sources else sources)
    return kept


@dataclass
class NuggetGenerator:
    """``await generator(question) -> PairOutcome`` for the shared generation log."""

    backend: Backend
    source: PassageSource
    embed: Embedder | None = None
    settings: NuggetSettings = field(default_factory=NuggetSettings)
    model_label: str = ""

    async def queries(self, question: Question) -> tuple[list[str], str | None]:
        messages = render("nugget_queries", question=question.text, max_queries=self.settings.max_queries)
        try:
            result = await generate_structured(self.backend, messages, Queries, reasks=self.settings.reasks,
                                               check=lambda q: None if clean_criteria(q.queries, 1) else "no query")
        except GenerationError as e:
            return [question.text], f"query rewrite failed, searched the question itself: {e}"
        return [question.text] + clean_criteria(result.queries, self.settings.max_queries), None

    async def retrieve(self, queries: list[str]) -> list[Passage]:
        found = await asyncio.gather(*(self.source.search(q, self.settings.passages_per_query) for q in queries))
        interleaved = [hits[i] for i in range(max(map(len, found), default=0)) for hits in found if i < len(hits)]
        return deduplicate(interleaved)[: self.settings.max_passages]

    async def __call__(self, question: Question) -> PairOutcome:
        queries, query_note = await self.queries(question)
        passages = await self.retrieve(queries)
        params: dict[str, Any] = {"queries": queries, "passages": [p.id for p in passages], "query_note": query_note}
        if not passages:
            return PairOutcome(question.id, "rejected", reason="no evidence: no passage was retrieved for any query", attempts=[params])
        messages = render("nugget_extract", question=question.text, passages=passages, max_nuggets=self.settings.max_nuggets)

        def cited_passages_exist(result: ExtractedNuggets) -> str | None:
            bad = [n.passage for n in result.nuggets if not 1 <= n.passage <= len(passages)]
            return f"nuggets cite passages that do not exist: {bad}" if bad else None

        extracted = await generate_structured(self.backend, messages, ExtractedNuggets, reasks=self.settings.reasks, max_tokens=1536, check=cited_passages_exist)
        nuggets = [n for n in extracted.nuggets if n.text.strip()][: self.settings.max_nuggets]
        if extracted.short_form and nuggets:
            nuggets = sorted(nuggets, key=lambda n: n.importance != "vital")[:1]
        if not nuggets:
            return PairOutcome(question.id, "rejected", reason="no evidence: the passages hold no nugget for this question", attempts=[params])
        merged = merge_near_duplicates(nuggets, passages, self.embed, self.settings.merge_threshold)
        criteria = [
            Criterion(id=f"n{number}", text=nugget.text, kind="nugget", tags=[nugget.importance], sources=sources,
                      weight=WEIGHTS[nugget.importance] if self.settings.weighted else 1.0)
            for number, (nugget, sources) in enumerate(merged, 1)
        ]
        params.update(candidates=len(nuggets), merged=len(nuggets) - len(merged), short_form=extracted.short_form)
        rubric = Rubric(id=f"nuggets-{question.id}", task=question.text, criteria=criteria,
                        provenance=Provenance(method="search-gen-v-nuggets", model=self.model_label, sources=[p.id for p in passages], params=params))
        return PairOutcome(question.id, "kept", rubric, attempts=[params])


# --- verification -----------------------------------------------------------------------

class NuggetLabel(BaseModel):
    nugget: int
    label: Label


class NuggetLabels(BaseModel):
    labels: list[NuggetLabel]


@dataclass
class NuggetVerdict:
    """Labels per nugget id (None: could not be labelled, with the reason) and the score."""

    labels: dict[str, Label | None]
    score: float | None
    reason: str | None = None
    evidence: dict[str, str] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        return {"score": self.score, "reason": self.reason, "labels": self.labels, "evidence": self.evidence}


def nugget_recall(labels: dict[str, Label | None], weights: dict[str, float], partial: float = 0.5) -> tuple[float | None, str | None]:
    """Weighted recall; None (with why) if any nugget is unlabelled or no weight is positive."""
    missing = [k for k, v in labels.items() if v is None]
    if missing:
        return None, f"{len(missing)} of {len(labels)} nuggets could not be labelled"
    total = sum(max(weights[k], 0.0) for k in labels)
    if total <= 0:
        return None, "no nugget has a positive weight"
    value = {"support": 1.0, "partial_support": partial, "not_support": 0.0}
    return sum(max(weights[k], 0.0) * value[v] for k, v in labels.items() if v is not None) / total, None


def response_chunks(text: str, max_words: int = 350) -> list[str]:
    """The response in windows of about ``max_words`` words, split at sentence ends."""
    sentences = re.split(r"(?<=[.!?])\s+|\n+", text.strip())
    chunks, current = [], []
    for sentence in sentences:
        if current and len(" ".join(current + [sentence]).split()) > max_words:
            chunks.append(" ".join(current))
            current = []
        current.append(sentence)
    if current:
        chunks.append(" ".join(current))
    return [c for c in chunks if c.strip()] or [text]


def best(a: Label | None, b: Label | None) -> Label | None:
    if a is None:
        return b
    if b is None:
        return a
    return a if LABEL_RANK[a] >= LABEL_RANK[b] else b


@dataclass
class LLMNuggetVerifier:
    """Labels by a model: ``batch`` nuggets per call, each chunk of the response separately."""

    backend: Backend
    batch: int = 10
    chunk_words: int = 350
    reasks: int = 1

    async def _label(self, question: str, answer: str, nuggets: list[str]) -> list[Label] | str:
        messages = render("nugget_verify", question=question, answer=answer, nuggets=nuggets)

        def complete(result: NuggetLabels) -> str | None:
            numbers = sorted(item.nugget for item in result.labels)
            return None if set(numbers) >= set(range(1, len(nuggets) + 1)) else f"labels for nuggets {numbers}, expected 1..{len(nuggets)}"

        try:
            result = await generate_structured(self.backend, messages, NuggetLabels, reasks=self.reasks, max_tokens=40 * len(nuggets) + 64, check=complete)
        except GenerationError as e:
            return str(e)
        by_number = {item.nugget: item.label for item in result.labels}
        return [by_number[i] for i in range(1, len(nuggets) + 1)]

    async def label(self, question: str, response: str, nuggets: dict[str, str]) -> tuple[dict[str, Label | None], dict[str, str]]:
        ids = list(nuggets)
        labels: dict[str, Label | None] = {k: None for k in ids}
        problems: dict[str, str] = {}
        jobs = [(chunk, ids[i : i + self.batch]) for chunk in response_chunks(response, self.chunk_words) for i in range(0, len(ids), self.batch)]
        results = await asyncio.gather(*(self._label(question, chunk, [nuggets[k] for k in batch]) for chunk, batch in jobs))
        for (_, batch), result in zip(jobs, results):
            if isinstance(result, str):
                for k in batch:
                    problems.setdefault(k, result)
                continue
            for k, label in zip(batch, result):
                labels[k] = best(labels[k], label)
        # a nugget labelled on one chunk keeps that label even if another chunk's call failed
        problems = {k: why for k, why in problems.items() if labels[k] is None}
        return labels, problems


@dataclass
class EmbeddedMatcher:
    """Nugget presence without a language model: for each nugget, the best window of the
    response by a mix of lexical recall (share of the nugget's content words the window has)
    and sentence-embedding cosine. Scores at or above ``support`` are support, at or above
    ``partial`` partial support."""

    embed: Embedder
    lexical_weight: float = 0.5
    support: float = 0.6
    partial: float = 0.4
    window: int = 2  # sentences per window

    def windows(self, response: str) -> list[str]:
        sentences = [s for s in re.split(r"(?<=[.!?])\s+|\n+", response.strip()) if s.strip()] or [response]
        size = max(1, min(self.window, len(sentences)))
        return sentences + [" ".join(sentences[i : i + size]) for i in range(len(sentences) - size + 1)] if size > 1 else sentences

    def scores(self, response: str, nuggets: Sequence[str]) -> np.ndarray:
        """Match score in [0, 1] per nugget."""
        if not nuggets:
            return np.zeros(0)
        windows = self.windows(response)
        vectors = self.embed(list(nuggets) + windows)
        cosine = np.clip(vectors[: len(nuggets)] @ vectors[len(nuggets) :].T, 0.0, 1.0)
        window_tokens = [set(content_tokens(w)) for w in windows]
        lexical = np.zeros_like(cosine)
        for i, nugget in enumerate(nuggets):
            tokens = content_tokens(nugget)
            if tokens:
                lexical[i] = [sum(t in have for t in tokens) / len(tokens) for have in window_tokens]
        return (self.lexical_weight * lexical + (1 - self.lexical_weight) * cosine).max(axis=1)

    def label_of(self, score: float) -> Label:
        return "support" if score >= self.support else "partial_support" if score >= self.partial else "not_support"

    def label(self, response: str, nuggets: dict[str, str]) -> dict[str, Label]:
        scores = self.scores(response, list(nuggets.values()))
        return {k: self.label_of(float(s)) for k, s in zip(nuggets, scores)}


@dataclass
class NuggetVerifier:
    """Verify a response against a nugget rubric: the matcher alone, the model alone, or the
    matcher first with only its uncertain nuggets sent to the model (``cascade``)."""

    matcher: EmbeddedMatcher | None = None
    llm: LLMNuggetVerifier | None = None
    partial: float = 0.5
    cascade_margin: float = 0.15  # matcher scores this far from both thresholds are trusted

    async def verify(self, question: str, response: str, rubric: Rubric) -> NuggetVerdict:
        nuggets = {c.id: c.text for c in rubric.criteria}
        weights = {c.id: c.weight for c in rubric.criteria}
        if not response.strip():
            labels: dict[str, Label | None] = {k: "not_support" for k in nuggets}
            score, _ = nugget_recall(labels, weights, self.partial)
            return NuggetVerdict(labels, score, "empty response: no nugget is present")
        labels, evidence, problems = {k: None for k in nuggets}, {}, {}
        to_model = dict(nuggets)
        if self.matcher is not None:
            scores = dict(zip(nuggets, self.matcher.scores(response, list(nuggets.values()))))
            for k, s in scores.items():
                sure = self.llm is None or s >= self.matcher.support + self.cascade_margin or s <= self.matcher.partial - self.cascade_margin
                if sure:
                    labels[k] = self.matcher.label_of(float(s))
                    evidence[k] = f"matcher {s:.2f}"
                    to_model.pop(k)
        if self.llm is not None and to_model:
            model_labels, problems = await self.llm.label(question, response, to_model)
            for k, label in model_labels.items():
                labels[k] = label
                evidence[k] = "model" if label is not None else f"unlabelled: {problems.get(k)}"
        score, reason = nugget_recall(labels, weights, self.partial)
        if reason and problems:
            reason += f" ({next(iter(problems.values()))})"
        return NuggetVerdict(labels, score, reason, evidence)
